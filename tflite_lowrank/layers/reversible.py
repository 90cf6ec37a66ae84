"""Factorized `keras.layers.ReversibleEmbedding`s: the same `reverse=True` projection.

`EmbeddingFactorization` turns a `keras.layers.ReversibleEmbedding` (also
`keras_hub.layers.ReversibleEmbedding`, used by KerasHub's `TokenAndPositionEmbedding`
and backbones) into `ReversibleLowRankEmbedding` (one band) or
`ReversibleBandedLowRankEmbedding` (frequency bands). With tied weights the reverse
projection then uses the reconstructed table: `x @ (A @ B)^T = (x @ B^T) @ A^T`, per
band for the banded layer; untied weights keep their own `reverse_embeddings`.
"""

from __future__ import annotations

import keras
from keras import ops

from tflite_lowrank._keras import adapter
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding

# Constructor arguments a factorized reversible layer takes from the
# `ReversibleEmbedding` it replaces (besides `input_dim`, `output_dim`, `mask_zero`).
REVERSIBLE_ARGUMENTS = ("tie_weights", "reverse_dtype", "logit_soft_cap")


class _Reversible:
    """`call(inputs, reverse=...)` of `keras.layers.ReversibleEmbedding`.

    The class using it defines `_tied_logits(inputs, dtype)`, `inputs @ W^T` for
    the table `W` its factors stand for.
    """

    def _init_reversible(self, tie_weights, reverse_dtype, logit_soft_cap) -> None:
        if not isinstance(tie_weights, bool):
            raise TypeError(
                "`tie_weights` must be a boolean. Received: "
                f"tie_weights={tie_weights!r} (of type {type(tie_weights)})"
            )
        self.tie_weights = tie_weights
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def _build_reverse(self) -> None:
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_a_initializer,
                name="reverse_embeddings",
                trainable=True,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            outputs = super().call(inputs)
            if self.mask_zero:
                # As `ReversibleEmbedding`: the mask is set here, not by
                # `compute_mask`, which cannot tell a reverse call.
                adapter.set_keras_mask(outputs, ops.not_equal(inputs, 0))
            return outputs
        dtype = self.reverse_dtype or self.compute_dtype
        inputs = ops.cast(inputs, dtype)
        if self.tie_weights:
            logits = self._tied_logits(inputs, dtype)
        else:
            logits = ops.matmul(inputs, ops.cast(self.reverse_embeddings, dtype))
        if self.logit_soft_cap is not None:
            soft_cap = self.logit_soft_cap
            logits = ops.multiply(ops.tanh(ops.divide(logits, soft_cap)), soft_cap)
        return logits

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        # As `ReversibleEmbedding`: Keras cannot infer it from a `compute_output_shape`
        # taking `reverse`.
        shape = self.compute_output_shape(tuple(inputs.shape), reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def _reversible_config(self) -> dict:
        return {name: getattr(self, name) for name in REVERSIBLE_ARGUMENTS}


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class ReversibleLowRankEmbedding(_Reversible, LowRankEmbedding):
    """A `LowRankEmbedding` that also projects back to the vocabulary, `reverse=True`.

    The factorized `keras.layers.ReversibleEmbedding`: `call(ids)` looks up
    `embeddings_a[ids] @ embeddings_b` as `LowRankEmbedding` does, and
    `call(x, reverse=True)` returns the logits `x @ W^T` of the table
    `W = embeddings_a @ embeddings_b` (tied weights, computed as
    `(x @ embeddings_b^T) @ embeddings_a^T`, never forming `W`) or
    `x @ reverse_embeddings` (`tie_weights=False`), in `reverse_dtype`, soft-capped
    as `tanh(logits / logit_soft_cap) * logit_soft_cap` when `logit_soft_cap` is set.
    `EmbeddingFactorization` installs it in place of a trained `ReversibleEmbedding`
    (`keras_hub.layers.ReversibleEmbedding` too); `.keras` files holding it load
    once `tflite_lowrank` is imported.

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum token id + 1.
        output_dim: Integer. Size of each embedding vector.
        rank: Integer. Inner dimension, `1 <= rank < min(input_dim, output_dim)`.
        tie_weights: Boolean. Whether the reverse projection uses the transposed
            table (`True`) or its own `reverse_embeddings` (`output_dim x
            input_dim`, initialized like `embeddings_a`). Defaults to `True`.
        embeddings_a_initializer: Initializer for `embeddings_a`. Defaults to
            `"uniform"`.
        embeddings_b_initializer: Initializer for `embeddings_b`. Defaults to
            `"glorot_uniform"`.
        mask_zero: Boolean. Whether id 0 is padding to be masked. Defaults to
            `False`.
        reverse_dtype: String or `None`. Dtype of the reverse projection. Defaults
            to `None`, the layer's compute dtype.
        logit_soft_cap: Float or `None`. Soft cap of the reverse logits. Defaults to
            `None`.
        **kwargs: Base layer arguments such as `name`, `dtype` and `trainable`.

    Input shape:
        Integer ids `(batch_size, ...)`; with `reverse=True`, floats
        `(batch_size, ..., output_dim)`.

    Output shape:
        `(batch_size, ..., output_dim)`; with `reverse=True`,
        `(batch_size, ..., input_dim)`.

    Example:

    >>> layer = ReversibleLowRankEmbedding(input_dim=100, output_dim=16, rank=4)
    >>> hidden = layer(np.array([[4, 2, 0]]))
    >>> layer(hidden, reverse=True).shape
    TensorShape([1, 3, 100])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        rank: int,
        tie_weights: bool = True,
        embeddings_a_initializer: str | keras.initializers.Initializer = "uniform",
        embeddings_b_initializer: str | keras.initializers.Initializer = (
            "glorot_uniform"
        ),
        mask_zero: bool = False,
        reverse_dtype: str | None = None,
        logit_soft_cap: float | None = None,
        **kwargs,
    ):
        super().__init__(
            input_dim,
            output_dim,
            rank,
            embeddings_a_initializer=embeddings_a_initializer,
            embeddings_b_initializer=embeddings_b_initializer,
            mask_zero=mask_zero,
            **kwargs,
        )
        self._init_reversible(tie_weights, reverse_dtype, logit_soft_cap)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        self._build_reverse()

    def _tied_logits(self, inputs, dtype):
        codes = ops.matmul(inputs, ops.transpose(ops.cast(self.embeddings_b, dtype)))
        return ops.matmul(codes, ops.transpose(ops.cast(self.embeddings_a, dtype)))

    def get_config(self):
        return {**super().get_config(), **self._reversible_config()}


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class ReversibleBandedLowRankEmbedding(_Reversible, BandedLowRankEmbedding):
    """A `BandedLowRankEmbedding` that also projects back to the vocabulary.

    The banded sibling of `ReversibleLowRankEmbedding`: with tied weights,
    `call(x, reverse=True)` returns `x @ W^T` for the banded table
    `W = concat_i(a_i @ b_i)`, computed per band as `(x @ b_i^T) @ a_i^T` and
    concatenated over the vocabulary axis. `EmbeddingFactorization` installs it in
    place of a trained `ReversibleEmbedding` when it splits into frequency bands
    (the default).

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum token id + 1.
        output_dim: Integer. Size of each embedding vector, D.
        boundaries: Sequence of integers. Interior band boundaries (see
            `BandedLowRankEmbedding`).
        ranks: Sequence of integers. Rank of each band.
        tie_weights: Boolean. Whether the reverse projection uses the transposed
            table (`True`) or its own `reverse_embeddings`. Defaults to `True`.
        embeddings_a_initializer: Initializer for every `embeddings_a_i`. Defaults
            to `"uniform"`.
        embeddings_b_initializer: Initializer for every `embeddings_b_i`. Defaults
            to `"glorot_uniform"`.
        mask_zero: Boolean. Whether id 0 is padding to be masked. Defaults to
            `False`.
        projection: Boolean. Must stay `True` for a tied reverse projection.
            Defaults to `True`.
        reverse_dtype: String or `None`. Dtype of the reverse projection. Defaults
            to `None`, the layer's compute dtype.
        logit_soft_cap: Float or `None`. Soft cap of the reverse logits. Defaults to
            `None`.
        **kwargs: Base layer arguments such as `name`, `dtype` and `trainable`.

    Input shape:
        Integer ids `(batch_size, ...)`; with `reverse=True`, floats
        `(batch_size, ..., output_dim)`.

    Output shape:
        `(batch_size, ..., output_dim)`; with `reverse=True`,
        `(batch_size, ..., input_dim)`.

    Example:

    >>> layer = ReversibleBandedLowRankEmbedding(
    ...     input_dim=100, output_dim=16, boundaries=[10], ranks=[8, 2])
    >>> hidden = layer(np.array([[4, 20, 0]]))
    >>> layer(hidden, reverse=True).shape
    TensorShape([1, 3, 100])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        boundaries,
        ranks,
        tie_weights: bool = True,
        embeddings_a_initializer: str | keras.initializers.Initializer = "uniform",
        embeddings_b_initializer: str | keras.initializers.Initializer = (
            "glorot_uniform"
        ),
        mask_zero: bool = False,
        projection: bool = True,
        reverse_dtype: str | None = None,
        logit_soft_cap: float | None = None,
        **kwargs,
    ):
        if tie_weights and not projection:
            raise ValueError(
                "A tied reverse projection needs the `embeddings_b_i`: pass "
                "`projection=True` or `tie_weights=False`. Received: "
                f"projection={projection!r}, tie_weights={tie_weights!r}"
            )
        super().__init__(
            input_dim,
            output_dim,
            boundaries,
            ranks,
            embeddings_a_initializer=embeddings_a_initializer,
            embeddings_b_initializer=embeddings_b_initializer,
            mask_zero=mask_zero,
            projection=projection,
            **kwargs,
        )
        self._init_reversible(tie_weights, reverse_dtype, logit_soft_cap)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        self._build_reverse()

    def _tied_logits(self, inputs, dtype):
        logits = []
        for a, b in zip(self.embeddings_a, self.embeddings_b, strict=True):
            codes = ops.matmul(inputs, ops.transpose(ops.cast(b, dtype)))
            logits.append(ops.matmul(codes, ops.transpose(ops.cast(a, dtype))))
        return logits[0] if len(logits) == 1 else ops.concatenate(logits, axis=-1)

    def get_config(self):
        return {**super().get_config(), **self._reversible_config()}
