"""`BandedLowRankEmbedding`: an embedding stored as per-band low-rank factors."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from tflite_lowrank.factorization.bands import band_slices, check_ranks
from tflite_lowrank.factorization.quantization import check_code_quantization
from tflite_lowrank.layers.lookup import (
    fake_quantize_rows,
    fake_quantize_table,
    lookup_codes,
    select_codes,
)
from tflite_lowrank.layers.low_rank import check_train_basis
from tflite_lowrank.utils.checks import python_number


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class BandedLowRankEmbedding(keras.layers.Layer):
    """Embedding stored as low-rank factors per band of ids, more rank for the head.

    A sibling of `tl.LowRankEmbedding`. The ids are cut into contiguous bands,
    `[0, b_1), [b_1, b_2), ..., [b_m, input_dim)`, and band `i` (`n_i` rows) holds its
    own factors `embeddings_a_i` (`n_i x k_i`) and `embeddings_b_i` (`k_i x D`), so
    frequent words (small ids, when the vocabulary is sorted by frequency) can get a
    higher rank than rare ones within the same parameter budget,
    `sum_i k_i * (n_i + D)`. `tl.compression.bands.allocate_band_ranks` chooses the
    boundaries and ranks, and `banded_svd` the factors of a trained table.

    A lookup reads, for every band, the id's row of `embeddings_a_i` (zeros when
    the id is in another band), concatenates these codes into one `K = sum_i k_i`
    vector that has only one band's block non-zero, and multiplies it by the stacked
    `embeddings_b_i` (`K x D`). Training gathers and selects per band; inference (and
    so a converted LiteRT file) reads each band's factor padded with zero rows at
    clamped ids: one `GATHER` per band plus one `MINIMUM` for the head (`SUB`,
    `MAXIMUM`, `MINIMUM` for a middle band, at most `SUB` and `MAXIMUM` for the tail)
    and one `CONCATENATION` (`tflite_lowrank.factorization.layout.lookup_steps`).
    Builtin ops only; the file stores the factors and a few zero rows. The stacked
    `b` is a single `K x D` matrix, so it folds into the next layer as
    `concat_i(b_i) @ W_next`, i.e. `b_i @ W_next` per
    band. In TensorFlow, ids outside `[0, input_dim)` raise an error that names the
    id received and `input_dim` (`ValueError` when called eagerly, an assertion inside
    `fit()` or `predict()`); the assertion is not part of a converted LiteRT file.

    Masking is exactly that of `keras.layers.Embedding`: with `mask_zero=True` the
    layer returns the mask `inputs != 0`.

    A `.keras` file holding it loads with `keras.saving.load_model` once
    `tflite_lowrank` is imported (the import registers the layer; Keras imports only
    its own packages while loading); `tl.load_model` also reloads it inside a custom
    layer that creates a plain `Embedding` in its own code.

    Reference: Chen et al., "GroupReduce: Block-Wise Low-Rank Approximation for
    Neural Language Model Shrinking", NeurIPS 2018; Acharya et al., AAAI 2019.

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum token id + 1.
        output_dim: Integer. Size of each embedding vector, D.
        boundaries: Sequence of integers. Interior band boundaries, strictly
            increasing in `(0, input_dim)`: each is the first id of the next band.
            Empty for a single band.
        ranks: Sequence of integers. Rank of each band, `len(boundaries) + 1` of them,
            `1 <= ranks[i] <= min(n_i, output_dim)`.
        embeddings_a_initializer: Initializer for every `embeddings_a_i`. Defaults to
            `"uniform"` (as `keras.layers.Embedding`).
        embeddings_b_initializer: Initializer for every `embeddings_b_i`. Defaults to
            `"glorot_uniform"`.
        mask_zero: Boolean. Whether id 0 is padding to be masked, exactly as in
            `keras.layers.Embedding`. Defaults to `False`.
        projection: Boolean. If `False`, the layer holds no `embeddings_b_i` and
            returns the concatenated codes (`sum(ranks)` wide): what is left once the
            `b_i` are folded into the next layer. Defaults to `True`.
        train_basis: Boolean. If `False`, every `embeddings_b_i` is a fixed basis
            (a non-trainable weight) and training moves only the words' codes in
            the `embeddings_a_i`, as in `LowRankEmbedding`. Defaults to `True`.
        code_quantization: `None`, `"int8_rows"`, `"int4_rows"` or `"int4"`.
            Quantization-aware training, as in `LowRankEmbedding`: each
            `embeddings_a_i`'s codes are rounded to that file's grid (per row, or
            per column of each band's table for `"int4"`). Defaults to `None`.
        **kwargs: Base layer arguments such as `name`, `dtype` and `trainable`.

    Input shape:
        Integer tensor of any shape `(batch_size, ...)`, typically
        `(batch_size, sequence_length)`.

    Output shape:
        `(batch_size, ..., output_dim)`, or `(batch_size, ..., sum(ranks))` with
        `projection=False`.

    Example:

    >>> layer = BandedLowRankEmbedding(
    ...     input_dim=1000, output_dim=64, boundaries=[50], ranks=[16, 4],
    ...     mask_zero=True)
    >>> layer(np.array([[4, 200, 0]])).shape
    TensorShape([1, 3, 64])
    >>> layer.compute_mask(np.array([[4, 200, 0]])).numpy().tolist()
    [[True, True, False]]
    >>> layer.reconstructed_table().shape
    (1000, 64)
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        boundaries: Sequence[int],
        ranks: Sequence[int],
        embeddings_a_initializer: str | keras.initializers.Initializer = "uniform",
        embeddings_b_initializer: str | keras.initializers.Initializer = (
            "glorot_uniform"
        ),
        mask_zero: bool = False,
        projection: bool = True,
        train_basis: bool = True,
        code_quantization: str | None = None,
        **kwargs,
    ):
        check_train_basis(train_basis)
        code_quantization = check_code_quantization(code_quantization)
        # NumPy integers are stored as Python ones, for `get_config` (JSON).
        input_dim, output_dim = python_number(input_dim), python_number(output_dim)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: "
                    f"{name}={value!r} (of type {type(value)})"
                )
        slices = band_slices(input_dim, boundaries)
        ranks = check_ranks(ranks, slices, output_dim)
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.boundaries = tuple(slice_.start for slice_ in slices[1:])
        self.ranks = ranks
        self.embeddings_a_initializer = keras.initializers.get(embeddings_a_initializer)
        self.embeddings_b_initializer = keras.initializers.get(embeddings_b_initializer)
        self.mask_zero = mask_zero
        self.projection = projection
        self.train_basis = train_basis
        self.code_quantization = code_quantization
        self.supports_masking = mask_zero
        self.autocast = False

    @property
    def _slices(self) -> list[slice]:
        # Derived, not stored: an in-place swap only has to set the constructor's
        # attributes.
        return band_slices(self.input_dim, self.boundaries)

    @property
    def num_bands(self) -> int:
        """Number of bands, `len(boundaries) + 1`."""
        return len(self.ranks)

    def build(self, input_shape=None):
        if self.built:
            return
        for index, (band, rank) in enumerate(
            zip(self._slices, self.ranks, strict=True)
        ):
            # One attribute per weight, named as the weight, so that the in-place
            # swap and `BackupAndRestore` see the same names as `build`.
            setattr(
                self,
                f"embeddings_a_{index}",
                self.add_weight(
                    shape=(band.stop - band.start, rank),
                    initializer=self.embeddings_a_initializer,
                    name=f"embeddings_a_{index}",
                    trainable=True,
                ),
            )
            if self.projection:
                setattr(
                    self,
                    f"embeddings_b_{index}",
                    self.add_weight(
                        shape=(rank, self.output_dim),
                        initializer=self.embeddings_b_initializer,
                        name=f"embeddings_b_{index}",
                        trainable=self.train_basis,
                    ),
                )
        self.built = True

    @property
    def embeddings_a(self) -> list:
        """The bands' `a_i` variables (`n_i x k_i`), in band order."""
        return [getattr(self, f"embeddings_a_{i}") for i in range(self.num_bands)]

    @property
    def embeddings_b(self) -> list:
        """The bands' `b_i` variables (`k_i x D`); empty with `projection=False`."""
        if not self.projection:
            return []
        return [getattr(self, f"embeddings_b_{i}") for i in range(self.num_bands)]

    def call(self, inputs, training=None):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        inputs = self._checked_ids(inputs)
        tables = [
            fake_quantize_table(a, self.code_quantization) for a in self.embeddings_a
        ]
        if training:
            codes = select_codes(inputs, self._slices, tables, self.compute_dtype)
        else:
            codes = lookup_codes(
                inputs,
                self.input_dim,
                self.boundaries,
                self.ranks,
                tables,
                self.compute_dtype,
            )
        # One band's block of a row is non-zero: its peak is the band row's.
        codes = fake_quantize_rows(codes, self.code_quantization)
        if not self.projection:
            return codes
        stacked = [ops.cast(b, self.compute_dtype) for b in self.embeddings_b]
        stacked = stacked[0] if len(stacked) == 1 else ops.concatenate(stacked, axis=0)
        return ops.matmul(codes, stacked)

    def _checked_ids(self, inputs):
        """`inputs`, checked to be ids in `[0, input_dim)` (TensorFlow only).

        Each band gathers `id - start` from its own factors, so a gather error
        would name an id relative to a band. Eager calls raise a `ValueError` here;
        traced calls assert before the gathers (the LiteRT converter drops the
        assertion).
        """
        if keras.backend.backend() != "tensorflow":
            return inputs
        import tensorflow as tf

        if tf.executing_eagerly():
            ids = np.asarray(ops.convert_to_numpy(inputs))
            bad = (ids < 0) | (ids >= self.input_dim)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                position = ", ".join(str(i) for i in where)
                raise ValueError(
                    f"Layer '{self.name}' received token id {int(ids[where])} at "
                    f"position ({position}), outside [0, {self.input_dim}) "
                    f"(input_dim={self.input_dim}): {int(bad.sum())} of its "
                    f"{ids.size} ids are out of range. "
                    f"Received: inputs[{position}]={int(ids[where])}"
                )
            return inputs
        valid = tf.logical_and(
            tf.reduce_all(inputs >= 0), tf.reduce_all(inputs < self.input_dim)
        )
        check = tf.debugging.Assert(
            valid,
            [
                f"Layer `{self.name}` received token ids outside "
                f"[0, {self.input_dim}) (input_dim={self.input_dim}); the smallest "
                "and the largest it received:",
                tf.reduce_min(inputs),
                tf.reduce_max(inputs),
            ],
        )
        with tf.control_dependencies([check]):
            return tf.identity(inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        width = self.output_dim if self.projection else sum(self.ranks)
        return (*input_shape, width)

    def factors(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """The factor pairs `(a_i, b_i)` as NumPy arrays, one per band.

        Folding into the next layer's kernel `W_next` (`D x units`) replaces each
        `b_i` by `b_i @ W_next`. With `projection=False`, every `b_i` is `None`.

        Returns:
            A list of `(embeddings_a_i, embeddings_b_i)` pairs.

        Example:

        >>> layer = BandedLowRankEmbedding(100, 8, boundaries=[10], ranks=[4, 2])
        >>> [(a.shape, b.shape) for a, b in layer.factors()]
        [((10, 4), (4, 8)), ((90, 2), (2, 8))]
        """
        self._build_if_needed()
        b_values = [ops.convert_to_numpy(b) for b in self.embeddings_b]
        if not self.projection:
            b_values = [None] * self.num_bands
        return [
            (ops.convert_to_numpy(a), b)
            for a, b in zip(self.embeddings_a, b_values, strict=True)
        ]

    def set_factors(self, factors: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Assigns factor pairs `(a_i, b_i)`, e.g. from `banded_svd`; builds if needed.

        Args:
            factors: Sequence of `(a_i, b_i)` pairs with the shapes of the layer's
                weights (`b_i` ignored with `projection=False`).

        Raises:
            ValueError: for a wrong number of pairs or a shape mismatch.

        Example:

        >>> table = np.random.default_rng(0).standard_normal((100, 8))
        >>> layer = BandedLowRankEmbedding(100, 8, boundaries=[10], ranks=[8, 8])
        >>> layer.set_factors(banded_svd(table, [10], [8, 8]))
        >>> bool(np.allclose(layer.reconstructed_table(), table, atol=1e-5))
        True
        """
        self._build_if_needed()
        if len(factors) != self.num_bands:
            raise ValueError(
                f"`factors` must hold one (a, b) pair per band ({self.num_bands}). "
                f"Received: factors with {len(factors)} pairs"
            )
        pairs = []
        for index, (a, b) in enumerate(factors):
            pairs.append((self.embeddings_a[index], a))
            if self.projection:
                pairs.append((self.embeddings_b[index], b))
        for variable, value in pairs:
            value = np.asarray(value)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"`factors` must match the weight `{variable.name}` of shape "
                    f"{tuple(variable.shape)}. Received: an array of shape "
                    f"{value.shape}"
                )
        for variable, value in pairs:
            variable.assign(np.asarray(value, dtype=variable.dtype))

    def reconstructed_table(self) -> np.ndarray:
        """The full `input_dim x output_dim` table the factors stand for.

        Returns:
            A NumPy array, `concat_i(a_i @ b_i)` (the codes, block-diagonal, with
            `projection=False`).

        Example:

        >>> layer = BandedLowRankEmbedding(100, 8, boundaries=[10], ranks=[4, 2])
        >>> layer.reconstructed_table().shape
        (100, 8)
        """
        pairs = self.factors()
        if self.projection:
            return np.concatenate([a @ b for a, b in pairs], axis=0)
        width, offset, rows = sum(self.ranks), 0, []
        for a, _ in pairs:
            block = np.zeros((a.shape[0], width), dtype=a.dtype)
            block[:, offset : offset + a.shape[1]] = a
            offset += a.shape[1]
            rows.append(block)
        return np.concatenate(rows, axis=0)

    def _build_if_needed(self) -> None:
        if not self.built:
            self.build()

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "boundaries": list(self.boundaries),
            "ranks": list(self.ranks),
            "embeddings_a_initializer": keras.initializers.serialize(
                self.embeddings_a_initializer
            ),
            "embeddings_b_initializer": keras.initializers.serialize(
                self.embeddings_b_initializer
            ),
            "mask_zero": self.mask_zero,
            "projection": self.projection,
            "train_basis": self.train_basis,
            "code_quantization": self.code_quantization,
        }
