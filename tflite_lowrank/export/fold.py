"""Folds a `LowRankEmbedding`'s projection into the layer that consumes it.

A `LowRankEmbedding` looks up `embeddings_a[ids]` (k-vectors) and multiplies them by
`embeddings_b` (k x D). When the next layer that does arithmetic is linear in its
input, the product can be done once, offline: `(a[ids] @ B) @ W == a[ids] @ (B @ W)`.
The folded model gathers k-vectors from a plain `Embedding(V, k)` and feeds them
straight to a consumer whose input weight is `B @ W`, so the `k x D` matmul per token
disappears and the consumer itself gets cheaper (for an LSTM, `k x 4H` instead of
`D x 4H` per token).

Folded consumers (the first layer after the embedding that is not an identity at
inference, i.e. not `Dropout` and friends):

- `LSTM`, `GRU`, `SimpleRNN`: the input kernel (`D x 4H`, `D x 3H`, `D x H`), also
  inside `Bidirectional` (both directions' input kernels);
- `Dense` applied per token, and `Conv1D` (`groups=1`, channels last);
- a mean over time (the models' masked mean or `GlobalAveragePooling1D`, channels last)
  followed, after identities only, by a `Dense`: the mean is linear, so it can be taken
  over the k-vectors and `B` folded into that `Dense` (the DAN of the paper).

Anything else (a shared layer, an embedding with several consumers, an activation,
normalisation or attention first, a subclassed model, a quantized or LoRA-enabled
consumer) is left unfolded, with an INFO log saying why: folding never changes what the
model computes beyond float32 round-off.

The graph walk that finds the consumer is `tflite_lowrank._keras.graph`'s (the
split's data-free weighting reads the same kernel).

Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for Text
Classification using Low Rank Matrix Factorization". AAAI 2019 (its FLOP analysis:
with the projection folded, the compressed model needs fewer FLOPs than the original).
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import numpy as np

from tflite_lowrank._keras import graph
from tflite_lowrank._keras.graph import NoConsumer, find_consumer
from tflite_lowrank._keras.graph import input_kernel as _kernel
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.lookup import GatherEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.layers.reversible import (
    ReversibleBandedLowRankEmbedding,
    ReversibleLowRankEmbedding,
)
from tflite_lowrank.utils.checks import check_bool

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FoldResult:
    """What `fold_projection` did to one `LowRankEmbedding`.

    Args:
        embedding: String. Name of the `LowRankEmbedding` layer.
        consumer: String or None. Name of the layer whose input weight absorbed
            `embeddings_b`; None when the projection was left unfolded.
        reason: String. Why it was folded there, or why it was not.
        unfolded_parameters, folded_parameters: Integers or None. Parameters of
            `embeddings_b` and the consumer's input kernel(s), and of the folded
            kernel(s) (None when no consumer was found).
        unfolded_macs, folded_macs: Integers or None. Multiply-adds per token of the
            projection and the consumer's input kernel(s), and of the folded
            kernel(s) (a mean's consumer runs once per text: not counted).

    Example:

    ```python
    folded, results = fold_projection(model, return_results=True)
    print([result.to_dict() for result in results])
    ```
    """

    embedding: str
    consumer: str | None
    reason: str
    # The numbers behind the decision; not part of a result's identity.
    unfolded_parameters: int | None = dataclasses.field(default=None, compare=False)
    folded_parameters: int | None = dataclasses.field(default=None, compare=False)
    unfolded_macs: int | None = dataclasses.field(default=None, compare=False)
    folded_macs: int | None = dataclasses.field(default=None, compare=False)

    @property
    def folded(self) -> bool:
        """Whether the projection was folded."""
        return self.consumer is not None

    def to_dict(self) -> dict[str, str | int | None]:
        """Returns the fields as JSON-ready Python values."""
        return dataclasses.asdict(self)


# Their `embeddings_b` is also used by `call(x, reverse=True)`: never folded.
_REVERSIBLE = (ReversibleLowRankEmbedding, ReversibleBandedLowRankEmbedding)


# The graph around one embedding does not allow folding (also raised by the walk).
_CannotFold = NoConsumer


def fold_projection(
    model: keras.Model, *, return_results: bool = False, only_if_smaller: bool = False
) -> keras.Model | tuple[keras.Model, tuple[FoldResult, ...]]:
    """Returns an equivalent inference model with `embeddings_b` folded away.

    Every `LowRankEmbedding` whose output reaches a linear consumer (see the module
    docstring) is replaced by a plain `Embedding(input_dim, rank)` holding
    `embeddings_a`, and the consumer's input weight `W` (`D x n`) by `B @ W`
    (`rank x n`), computed in float64. The other layers are copied with their
    weights; the input model is not changed. Embeddings that cannot be folded stay
    as they are (logged at INFO), so the result is always the same function as
    `model`, up to float32 round-off (relative 1e-5 on typical outputs).

    The folded model is meant for inference and conversion: it is not trainable
    back into factors (the product `B @ W` is stored, not `B`).

    Reference: Acharya et al., AAAI 2019 (FLOP analysis: folding makes the
    compressed model cheaper than the original).

    Args:
        model: `keras.Model`. A functional or sequential model, typically after
            `EmbeddingFactorization` has split its embedding.
        return_results: Boolean. Also return one `FoldResult` per
            `LowRankEmbedding`. Defaults to `False`.
        only_if_smaller: Boolean. Fold an embedding only where it pays: when the
            folded kernel has no more parameters than `embeddings_b` and the
            consumer's input kernel together, and no more multiply-adds per token
            (with frequency bands the code can be wider than `D`, and a folded
            Conv1D or LSTM kernel larger); `convert_to_tflite` sets it, so that
            folding never grows a file or its work. Each `FoldResult` carries both
            counts. Defaults to `False`.

    Returns:
        The folded `keras.Model` (the input model itself when nothing was
        folded), or a tuple `(model, results)` when `return_results=True`.

    Raises:
        TypeError: if `model` is not a `keras.Model`.

    Example:

    ```python
    from tflite_lowrank.export.fold import fold_projection

    folded = fold_projection(model)  # model has a LowRankEmbedding "embedding"
    np.testing.assert_allclose(folded(x), model(x), rtol=1e-5, atol=1e-6)
    ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "`model` must be a `keras.Model`. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    check_bool("only_if_smaller", only_if_smaller)
    results = []
    current = model
    names = [layer.name for layer in _low_rank_layers(model)]
    for name in names:
        try:
            functional = _as_functional(current)
            embedding = _top_level_layer(functional, name)
            if isinstance(embedding, _REVERSIBLE):
                raise _CannotFold(
                    "a reversible embedding keeps its factors for `reverse=True`"
                )
            consumer, chain = find_consumer(functional, embedding)
            numbers, refusal = _fold_cost(embedding, consumer, chain)
            if only_if_smaller and refusal is not None:
                results.append(FoldResult(name, None, refusal, *numbers))
                logger.info("Not folding the projection of %r: %s.", name, refusal)
                continue
            current = _rebuild(functional, embedding, consumer, chain)
            reason = f"folded into {type(consumer).__name__} {consumer.name!r}"
            results.append(FoldResult(name, consumer.name, reason, *numbers))
            logger.info(
                "Folded `embeddings_b` of %r (%d x %d) into %s %r.",
                name,
                _code_width(embedding),
                embedding.output_dim,
                type(consumer).__name__,
                consumer.name,
            )
        except _CannotFold as error:
            results.append(FoldResult(name, None, str(error)))
            logger.info(
                "Not folding the projection of %r: %s; keeping the unfolded graph.",
                name,
                error,
            )
    if not names:
        logger.debug("No LowRankEmbedding in %r: nothing to fold.", model.name)
    return (current, tuple(results)) if return_results else current


def _consumer_kernels(consumer) -> list:
    """The input-kernel variables that absorb the projection (two in Bidirectional)."""
    return [
        _kernel(owner)
        for owner in (
            (consumer.forward_layer, consumer.backward_layer)
            if isinstance(consumer, keras.layers.Bidirectional)
            else (consumer,)
        )
    ]


def _fold_cost(embedding, consumer, chain) -> tuple[tuple[int, ...], str | None]:
    """The parameters and multiply-adds per token, unfolded and folded, and why
    folding does not pay (None when it grows neither).

    Unfolded, each token pays the `K x D` projection and the consumer's input
    kernel(s) (`D x n`; a Conv1D's `w x D x f` per output position); folded, only
    the `K`-wide kernel(s). After a mean the consumer runs once per text, so per
    token the folded model only averages `K` values. With frequency bands `K` (the
    sum of the band ranks) can exceed `D`, and a folded Conv1D or LSTM kernel can
    then outgrow both unfolded weights.
    """
    width, dim = _code_width(embedding), embedding.output_dim
    sizes = [
        int(np.prod(k.shape)) for k in _consumer_kernels(consumer) if k is not None
    ]
    strides = int(np.prod(getattr(consumer, "strides", None) or (1,)))
    before, after = width * dim + sum(sizes), sum(n // dim * width for n in sizes)
    if any(type(layer).__name__ in graph.MEAN_LAYERS for layer in chain):
        macs = (width * dim + dim, width)
    else:
        macs = (width * dim + sum(sizes) // strides, after // strides)
    numbers = (before, after, *macs)
    grows = []
    if after > before:
        grows.append(f"the weights from {before:,} to {after:,} parameters")
    if macs[1] > macs[0]:
        grows.append(f"the multiply-adds per token from {macs[0]:,} to {macs[1]:,}")
    if not grows:
        return numbers, None
    return numbers, (
        f"folding into {type(consumer).__name__} {consumer.name!r} (a code {width} "
        f"wide, an input {dim} wide) would grow {' and '.join(grows)}"
    )


def _low_rank_layers(model: keras.Model) -> list:
    return [
        layer
        for layer in graph.flatten_layers(model)
        if isinstance(layer, LowRankEmbedding)
        or (isinstance(layer, BandedLowRankEmbedding) and layer.projection)
    ]


def _code_width(embedding) -> int:
    """Width of the gathered codes: the rank, or the sum of the bands' ranks."""
    if isinstance(embedding, BandedLowRankEmbedding):
        return sum(embedding.ranks)
    return embedding.rank


def _projection(embedding) -> np.ndarray:
    """The `(code width) x D` matrix the codes are multiplied by."""
    if isinstance(embedding, BandedLowRankEmbedding):
        return np.concatenate(
            [keras.ops.convert_to_numpy(b) for b in embedding.embeddings_b], axis=0
        )
    return keras.ops.convert_to_numpy(embedding.embeddings_b)


def _codes_layer(embedding):
    """The layer that gathers the codes of the folded model (weights set later)."""
    if isinstance(embedding, BandedLowRankEmbedding):
        return BandedLowRankEmbedding(
            embedding.input_dim,
            embedding.output_dim,
            boundaries=embedding.boundaries,
            ranks=embedding.ranks,
            mask_zero=embedding.mask_zero,
            projection=False,
            dtype=embedding.dtype_policy,
            name=embedding.name,
        )
    # A plain `GATHER` in the file, without the three operators of
    # `keras.layers.Embedding`'s wrap of negative ids.
    return GatherEmbedding(
        embedding.input_dim,
        embedding.rank,
        embeddings_initializer="zeros",
        mask_zero=embedding.mask_zero,
        dtype=embedding.dtype_policy,
        name=embedding.name,
    )


def _set_codes(new, embedding) -> None:
    """Copies the `a` factor(s) of `embedding` into the folded model's layer."""
    if isinstance(embedding, BandedLowRankEmbedding):
        new.set_factors([(a, None) for a, _ in embedding.factors()])
        return
    table = keras.ops.convert_to_numpy(embedding.embeddings_a)
    new.embeddings.assign(table.astype(new.embeddings.dtype))


def _as_functional(model: keras.Model) -> keras.Model:
    """The model as a functional graph, or `_CannotFold` for a subclassed one."""
    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise _CannotFold("the Sequential model has no defined input")
        inputs = keras.Input(
            batch_shape=model.inputs[0].shape,
            dtype=model.inputs[0].dtype,
            name=model.inputs[0].name,
        )
        outputs = inputs
        for layer in model.layers:
            outputs = layer(outputs)
        return keras.Model(inputs, outputs, name=model.name)
    if not graph.is_functional_graph(model):
        raise _CannotFold(
            f"{type(model).__name__} is not a functional or sequential model"
        )
    return model


def _top_level_layer(model: keras.Model, name: str):
    for layer in model.layers:
        if layer.name == name:
            return layer
    raise _CannotFold("the embedding is inside a nested model")


def _folded_kernel(kernel: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """`B @ W` over the input axis: `(D, n) -> (k, n)`, `(w, D, f) -> (w, k, f)`."""
    projection = projection.astype(np.float64)
    kernel64 = kernel.astype(np.float64)
    if kernel.ndim == 2:
        folded = projection @ kernel64
    else:
        folded = np.einsum("kd,wdf->wkf", projection, kernel64)
    return folded.astype(kernel.dtype)


def _rebuild(model, embedding, consumer, chain) -> keras.Model:
    projection = _projection(embedding)
    kernel_variables = _consumer_kernels(consumer)
    kernel_indices = [
        index
        for index, weight in enumerate(consumer.weights)
        if any(weight is kernel for kernel in kernel_variables)
    ]
    if len(kernel_indices) != len(kernel_variables):
        raise _CannotFold(f"the input kernel of {consumer.name!r} was not found")
    pairs = []

    def clone(layer):
        if layer is embedding:
            new = _codes_layer(embedding)
        elif not isinstance(layer, keras.layers.Layer):
            return layer  # A stateless operation of the graph, e.g. a mask op.
        else:
            config = layer.get_config()
            if layer is consumer and isinstance(layer, keras.layers.Bidirectional):
                # Its directions are serialized with their input width (D): drop
                # it, so that they are built for the k-wide codes when called.
                for key in ("layer", "backward_layer"):
                    if isinstance(config.get(key), dict):
                        config[key] = {
                            k: v for k, v in config[key].items() if k != "build_config"
                        }
            new = layer.__class__.from_config(config)
        pairs.append((layer, new))
        return new

    try:
        folded = keras.models.clone_model(model, clone_function=clone)
    except Exception as error:  # Keras raises many types for odd graphs.
        raise _CannotFold(
            f"the model could not be rebuilt ({type(error).__name__}: {error})"
        ) from error
    for old, new in pairs:
        if old is embedding:
            _set_codes(new, embedding)
            continue
        weights = old.get_weights()
        if old is consumer:
            for index in kernel_indices:
                weights[index] = _folded_kernel(weights[index], projection)
        new.set_weights(weights)
    return folded
