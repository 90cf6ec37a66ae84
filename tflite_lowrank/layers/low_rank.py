"""`LowRankEmbedding`: an embedding table stored as two factors."""

from __future__ import annotations

import keras
from keras import ops

from tflite_lowrank.factorization.quantization import check_code_quantization
from tflite_lowrank.layers.lookup import fake_quantize_rows, fake_quantize_table
from tflite_lowrank.utils.checks import python_number


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class LowRankEmbedding(keras.layers.Layer):
    """Embedding stored as two factors, looked up as `embeddings_a[ids] @ embeddings_b`.

    A drop-in replacement for `keras.layers.Embedding` with the same call signature and
    masking behaviour, and one more argument, `rank`. The table `W` (V x D) is never
    materialised: a lookup gathers k-vectors from `embeddings_a` (V x k) and projects
    them with `embeddings_b` (k x D), so the layer holds `k * (V + D)` parameters
    instead of `V * D`. `EmbeddingFactorization` installs it in place of a trained
    `Embedding` with `embeddings_a = U_k` and `embeddings_b = diag(S_k) V_k^T`; it can
    also be trained from scratch.

    A `.keras` file holding it loads with `keras.saving.load_model` once
    `tflite_lowrank` is imported (the import registers the layer; Keras imports only
    its own packages while loading); `tl.load_model` also reloads it inside a custom
    layer that creates a plain `Embedding` in its own code.

    Reference: Acharya et al., "Online Embedding Compression for Text Classification
    using Low Rank Matrix Factorization", AAAI 2019.

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum token id + 1.
        output_dim: Integer. Size of each embedding vector.
        rank: Integer. Inner dimension, `1 <= rank < min(input_dim, output_dim)`;
            at a larger rank the product would not be low rank.
        embeddings_a_initializer: Initializer for `embeddings_a`. Defaults to
            `"uniform"` (as `keras.layers.Embedding`).
        embeddings_b_initializer: Initializer for `embeddings_b`. Defaults to
            `"glorot_uniform"`.
        mask_zero: Boolean. Whether id 0 is padding to be masked, exactly as in
            `keras.layers.Embedding`. Defaults to `False`.
        train_basis: Boolean. If `False`, `embeddings_b` is a fixed basis (a
            non-trainable weight) and training moves only the words' codes in
            `embeddings_a`: every word moves within the same k directions.
            `EmbeddingFactorization(train_basis=False)` installs the codes at the
            table's scale, `U_k S_k`, and the orthonormal basis `V_k^T`.
            Defaults to `True`.
        code_quantization: `None`, `"int8_rows"`, `"int4_rows"` or `"int4"`.
            Quantization-aware training: the codes (rows of `embeddings_a`) are
            rounded to the grid that `convert_to_tflite(quantization=...)` stores in
            that mode (one scale per row, or per column for `"int4"`), with a
            straight-through gradient, so the model trains and evaluates with the
            file's values. Defaults to `None` (float codes).
        **kwargs: Base layer arguments such as `name`, `dtype` and `trainable`.

    Input shape:
        Integer tensor of any shape `(batch_size, ...)`, typically
        `(batch_size, sequence_length)`.

    Output shape:
        `(batch_size, ..., output_dim)`.

    Example:

    >>> layer = LowRankEmbedding(input_dim=1000, output_dim=64, rank=8, mask_zero=True)
    >>> layer(np.array([[4, 2, 0]])).shape
    TensorShape([1, 3, 64])
    >>> layer.compute_mask(np.array([[4, 2, 0]])).numpy().tolist()
    [[True, True, False]]
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        rank: int,
        embeddings_a_initializer: str | keras.initializers.Initializer = "uniform",
        embeddings_b_initializer: str | keras.initializers.Initializer = (
            "glorot_uniform"
        ),
        mask_zero: bool = False,
        train_basis: bool = True,
        code_quantization: str | None = None,
        **kwargs,
    ):
        # NumPy integers are stored as Python ones, for `get_config` (JSON).
        input_dim, output_dim, rank = map(python_number, (input_dim, output_dim, rank))
        check_train_basis(train_basis)
        code_quantization = check_code_quantization(code_quantization)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: "
                    f"{name}={value!r} (of type {type(value)})"
                )
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise TypeError(
                f"`rank` must be an integer. Received: rank={rank!r} "
                f"(of type {type(rank)})"
            )
        if not 1 <= rank < min(input_dim, output_dim):
            raise ValueError(
                "`rank` must be in [1, min(input_dim, output_dim)): at a larger rank "
                "the factors are not low rank and hold more parameters than the full "
                f"table. Received: rank={rank}, input_dim={input_dim}, "
                f"output_dim={output_dim}"
            )
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.rank = rank
        self.embeddings_a_initializer = keras.initializers.get(embeddings_a_initializer)
        self.embeddings_b_initializer = keras.initializers.get(embeddings_b_initializer)
        self.mask_zero = mask_zero
        self.train_basis = train_basis
        self.code_quantization = code_quantization
        self.supports_masking = mask_zero
        self.autocast = False

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings_a = self.add_weight(
            shape=(self.input_dim, self.rank),
            initializer=self.embeddings_a_initializer,
            name="embeddings_a",
            trainable=True,
        )
        self.embeddings_b = self.add_weight(
            shape=(self.rank, self.output_dim),
            initializer=self.embeddings_b_initializer,
            name="embeddings_b",
            trainable=self.train_basis,
        )
        self.built = True

    def call(self, inputs):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        table = fake_quantize_table(self.embeddings_a, self.code_quantization)
        codes = ops.cast(ops.take(table, inputs, axis=0), self.compute_dtype)
        codes = fake_quantize_rows(codes, self.code_quantization)
        return ops.matmul(codes, ops.cast(self.embeddings_b, self.compute_dtype))

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "rank": self.rank,
            "embeddings_a_initializer": keras.initializers.serialize(
                self.embeddings_a_initializer
            ),
            "embeddings_b_initializer": keras.initializers.serialize(
                self.embeddings_b_initializer
            ),
            "mask_zero": self.mask_zero,
            "train_basis": self.train_basis,
            "code_quantization": self.code_quantization,
        }


def check_train_basis(train_basis) -> None:
    """Raises unless `train_basis` is a boolean (a layer argument)."""
    if not isinstance(train_basis, bool):
        raise TypeError(
            "`train_basis` must be a boolean (`True` trains `embeddings_b`, `False` "
            f"keeps it fixed). Received: train_basis={train_basis!r} "
            f"(of type {type(train_basis)})"
        )
