"""The layer that reads an embedding's vectors: its first linear consumer.

Two parts of the package need it. The split's data-free weighting
(`EmbeddingFactorization(weighting="consumer")`) reads the consumer's input kernel
`K` (D x n): the model sees an embedding vector `e` only through `K^T e`, so the
directions of the embedding space that `K` reads are the ones to keep, and
`K K^T` (D x D) weights the split as the loss gradient's covariance does with
calibration data. `export.fold` folds the factors' projection into the same kernel.

Consumers (the first layer after the embedding that is not an identity at
inference, such as `Dropout`):

- `LSTM`, `GRU`, `SimpleRNN`: the input kernel, also inside `Bidirectional`;
- `Dense` applied per token, and `Conv1D` (`groups=1`, channels last);
- a mean over time (the models' masked mean or `GlobalAveragePooling1D`) followed,
  after identities only, by a `Dense`.

Anything else (a shared layer, an embedding with several consumers, an activation,
normalisation or attention first, a quantized or LoRA-enabled consumer) has no
consumer: `find_consumer` raises `NoConsumer` with the reason. The Keras internals
the graph walk needs come from `keras_adapter`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import keras
import numpy as np

from tflite_lowrank.compression import keras_adapter

# The fallback messages are the callback's (`consumer_weighting` runs in its split),
# as `calibration.split_covariance`'s are.
logger = logging.getLogger("tflite_lowrank.compression.callback")

# Layers that are the identity at inference and work on any feature width.
IDENTITY_LAYERS = (
    "Dropout",
    "SpatialDropout1D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
)
# Means over the time axis, linear in their input (masked or not).
MEAN_LAYERS = ("MaskedMean", "_MaskedMean", "GlobalAveragePooling1D")
RECURRENT_LAYERS = ("LSTM", "GRU", "SimpleRNN")


class NoConsumer(Exception):
    """The graph after an embedding has no linear consumer (the message says why)."""


def find_consumer(model: keras.Model, embedding) -> tuple[keras.layers.Layer, list]:
    """The consumer of `embedding`'s output and the identity/mean layers before it.

    Args:
        model: A functional `keras.Model` (a graph of nodes) or a
            `keras.Sequential` holding `embedding` at its top level.
        embedding: The embedding layer (full or factorized).

    Returns:
        `(consumer, chain)`: the layer whose input kernel reads the vectors, and
        the layers passed on the way (identities and at most one mean).

    Raises:
        NoConsumer: if there is none (the message says why).
    """
    if isinstance(model, keras.Sequential):
        steps = _sequential_steps(model, embedding)
    elif keras_adapter.is_functional_graph(model):
        steps = _graph_steps(model, embedding)
    else:
        raise NoConsumer(
            f"{type(model).__name__} is not a functional or sequential model"
        )
    chain = []
    averaged = False
    for layer in steps:
        class_name = type(layer).__name__
        if class_name in IDENTITY_LAYERS:
            chain.append(layer)
        elif class_name in MEAN_LAYERS and not averaged:
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise NoConsumer(f"{layer.name!r} is not channels-last")
            if getattr(layer, "keepdims", False):
                raise NoConsumer(f"{layer.name!r} keeps the time axis")
            chain.append(layer)
            averaged = True
        elif isinstance(layer, keras.layers.Dense):
            _check_plain(layer)
            return layer, chain
        elif class_name in RECURRENT_LAYERS and not averaged:
            _check_plain(layer)
            return layer, chain
        elif class_name == "Bidirectional" and not averaged:
            for direction in (layer.forward_layer, layer.backward_layer):
                if type(direction).__name__ not in RECURRENT_LAYERS:
                    raise NoConsumer(
                        f"Bidirectional {layer.name!r} wraps "
                        f"{type(direction).__name__}, not LSTM, GRU or SimpleRNN"
                    )
                _check_plain(direction)
            return layer, chain
        elif isinstance(layer, keras.layers.Conv1D) and not averaged:
            _check_plain(layer)
            if layer.groups != 1 or layer.data_format != "channels_last":
                raise NoConsumer(
                    f"Conv1D {layer.name!r} has groups or is channels-first"
                )
            return layer, chain
        else:
            raise NoConsumer(
                f"the first layer that does arithmetic, {class_name} {layer.name!r}, "
                "is not a supported linear consumer (LSTM, GRU, SimpleRNN, their "
                "Bidirectional, Dense, Conv1D, or a mean over time followed by Dense)"
            )
    raise NoConsumer("the embedding's output reaches the model output unread")


def check_consumer(model: keras.Model, embedding) -> None:
    """For `weighting="consumer"`: raises `ValueError` unless `embedding` has one."""
    try:
        find_consumer(model, embedding)
    except NoConsumer as error:
        raise ValueError(
            '`weighting="consumer"` needs a linear layer reading the vectors of '
            f"layer '{embedding.name}' (LSTM, GRU, SimpleRNN, Dense, Conv1D, or a "
            f'mean over time then Dense), but {error}. Use weighting="none" (the '
            'plain SVD). Received: weighting="consumer"'
        ) from None


def is_recurrent(model: keras.Model, embedding) -> bool:
    """Whether a recurrent layer (also in `Bidirectional`) reads `embedding`'s vectors.

    `False` when the consumer is another layer or there is none (`NoConsumer`).
    """
    try:
        consumer, _ = find_consumer(model, embedding)
    except NoConsumer:
        return False
    return type(consumer).__name__ in (*RECURRENT_LAYERS, "Bidirectional")


def consumer_weighting(
    model: keras.Model, embedding
) -> tuple[np.ndarray | None, str | None]:
    """The covariance that weights the split of `embedding`, and its consumer's name.

    `weighting="consumer"`'s counterpart of `calibration.split_covariance`:
    `consumer_covariance` of the layer reading the vectors. `(None, None)`, with a
    log line, when there is none (`check_consumer` refused that when `fit()`
    started) or its kernel is zero or not finite: the split is then the plain SVD.
    """
    try:
        consumer, _ = find_consumer(model, embedding)
    except NoConsumer as error:
        logger.warning(
            "weighting: no linear consumer for layer '%s' (%s); using the "
            "plain truncated SVD.",
            embedding.name,
            error,
        )
        return None, None
    covariance = consumer_covariance(consumer)
    if not (np.all(np.isfinite(covariance)) and np.trace(covariance) > 0.0):
        logger.info(
            "weighting: the input kernel of '%s' is zero or not finite; using "
            "the plain truncated SVD for layer '%s'.",
            consumer.name,
            embedding.name,
        )
        return None, None
    return covariance, consumer.name


def input_kernel(layer):
    """The float input-kernel variable of a (non-Bidirectional) consumer, or `None`."""
    kernel = keras_adapter.input_kernel_variable(layer)
    if kernel is None or not hasattr(kernel, "assign"):
        return None
    if "float" not in str(kernel.dtype):
        return None
    return kernel


def consumer_covariance(consumer) -> np.ndarray:
    """`sum K K^T` (D x D, float64) over the consumer's input kernels.

    A `Conv1D` kernel `(w, D, f)` counts each of its `w` taps; a `Bidirectional`
    layer both directions.
    """
    owners = (
        (consumer.forward_layer, consumer.backward_layer)
        if type(consumer).__name__ == "Bidirectional"
        else (consumer,)
    )
    covariance = None
    for owner in owners:
        kernel = np.asarray(
            keras.ops.convert_to_numpy(input_kernel(owner)), dtype=np.float64
        )
        if kernel.ndim == 3:  # Conv1D: (width, D, filters) -> (D, width * filters).
            kernel = np.transpose(kernel, (1, 0, 2)).reshape(kernel.shape[1], -1)
        part = kernel @ kernel.T
        covariance = part if covariance is None else covariance + part
    return covariance


def _in_model(nodes: list, model_nodes: set[int]) -> list:
    return [node for node in nodes if id(node) in model_nodes]


def _graph_steps(model: keras.Model, embedding) -> Iterator:
    """The layers after `embedding`, one at a time, while the path does not branch."""
    if embedding not in model.layers:
        raise NoConsumer("the embedding is inside a nested model")
    model_nodes = keras_adapter.graph_node_ids(model)
    inbound, outbound = keras_adapter.inbound_nodes, keras_adapter.outbound_nodes
    if len(_in_model(inbound(embedding), model_nodes)) != 1:
        raise NoConsumer("the embedding is called more than once")
    output_layers = [
        keras_adapter.producing_operation(output) for output in model.outputs
    ]
    current = embedding
    while True:
        consumers = _in_model(outbound(current), model_nodes)
        if len(consumers) != 1:
            what = "the model output" if not consumers else f"{len(consumers)} layers"
            raise NoConsumer(
                f"the output of {current.name!r} feeds {what}, not exactly one layer"
            )
        node = consumers[0]
        layer = node.operation
        if len(_in_model(inbound(layer), model_nodes)) != 1:
            raise NoConsumer(f"{layer.name!r} is shared (called more than once)")
        if not _single_input(node):
            raise NoConsumer(f"{layer.name!r} takes more than one tensor input")
        if current in output_layers:
            raise NoConsumer(f"the output of {current.name!r} is a model output")
        yield layer
        current = layer


def _sequential_steps(model: keras.Sequential, embedding) -> Iterator:
    """The layers after `embedding` in a `Sequential` stack (each reads the last)."""
    layers = list(model.layers)
    if embedding not in layers:
        raise NoConsumer("the embedding is inside a nested model")
    yield from layers[layers.index(embedding) + 1 :]


def _single_input(node) -> bool:
    """One positional tensor; a `mask` keyword (the propagated padding mask) is fine."""
    args, kwargs = keras_adapter.node_call_arguments(node)
    extra = {key: value for key, value in kwargs.items() if key != "mask"}
    tensors = [
        value
        for value in (*args, *extra.values())
        if isinstance(value, keras.KerasTensor)
    ]
    return len(tensors) == 1 and len(args) == 1


def _check_plain(layer) -> None:
    if getattr(layer, "quantization_mode", None) or getattr(
        getattr(layer, "cell", None), "quantization_mode", None
    ):
        raise NoConsumer(f"{layer.name!r} is quantized")
    if getattr(layer, "lora_enabled", False):
        raise NoConsumer(f"{layer.name!r} has LoRA enabled")
    if input_kernel(layer) is None:
        raise NoConsumer(f"{layer.name!r} has no float input kernel")
