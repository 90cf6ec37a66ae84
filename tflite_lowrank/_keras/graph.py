"""Private: the one walker of a Keras model's layer graph.

Three parts of the package read a model's graph, and all of them walk it here:

- the split's consumer weighting and `export.fold` need the layer that reads an
  embedding's vectors, its first linear consumer (`find_consumer`);
- the converter's contract reads the layer that produces the model's output (or
  each of its outputs) through identity layers (`output_layer`, `tensor_layer`), and
  the embedding layers called on the model's token inputs (`layers_called_on`);
- everything that looks for layers inside nested models and subclassed attributes
  uses `flatten_layers`.

Consumers (the first layer after the embedding that is not an identity at
inference, such as `Dropout`):

- `LSTM`, `GRU`, `SimpleRNN`: the input kernel, also inside `Bidirectional`;
- `Dense` applied per token, and `Conv1D` (`groups=1`, channels last);
- a mean over time (the models' masked mean or `GlobalAveragePooling1D`) followed,
  after identities only, by a `Dense`.

Anything else (a shared layer, an embedding with several consumers, an activation,
normalisation or attention first, a quantized or LoRA-enabled consumer) has no
consumer: `find_consumer` raises `NoConsumer` with the reason. The node history of a
functional graph is a Keras internal; each access is one small function here,
checked against Keras 3.15 by `tests/_keras/test_adapter.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import keras

from tflite_lowrank._keras import adapter

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
# How far `output_layer` walks back through identity layers.
_MAX_OUTPUT_HOPS = 16


class NoConsumer(Exception):
    """The graph after an embedding has no linear consumer (the message says why)."""


# ------------------------------------------------------------ node primitives


def flatten_layers(model) -> list:
    """Every layer inside `model`, nested models and subclassed attributes included.

    `Layer._flatten_layers(include_self=False, recursive=True)`: depth first, each
    layer once. `model.layers` is neither recursive nor complete for subclassed
    models. Checked against: Keras 3.15.
    """
    return list(model._flatten_layers(include_self=False, recursive=True))


def is_functional_graph(model) -> bool:
    """Whether `model` carries a functional graph (functional or built Sequential).

    Checked against: Keras 3.15 (`Functional._nodes_by_depth`, `.operations`).
    """
    return hasattr(model, "_nodes_by_depth") and hasattr(model, "operations")


def graph_node_ids(model) -> set[int]:
    """`id`s of the nodes of `model`'s own graph (`Functional._nodes_by_depth`).

    A layer also records the nodes of other graphs it was called in (a nested
    model's, a copy's); only these belong to `model`. Checked against: Keras 3.15.
    """
    return {id(node) for nodes in model._nodes_by_depth.values() for node in nodes}


def inbound_nodes(layer) -> list:
    """The nodes of every call of `layer` (`Operation._inbound_nodes`).

    Checked against: Keras 3.15.
    """
    return list(getattr(layer, "_inbound_nodes", ()))


def outbound_nodes(layer) -> list:
    """The nodes that consume `layer`'s outputs (`Operation._outbound_nodes`).

    Checked against: Keras 3.15.
    """
    return list(layer._outbound_nodes)


def producing_operation(tensor):
    """The layer or operation that produced a symbolic `KerasTensor`.

    `KerasTensor._keras_history.operation`. Checked against: Keras 3.15.
    """
    return tensor._keras_history.operation


def producing_node(tensor):
    """The node (one call of a layer) that produced `tensor`, or `None`.

    `KerasTensor._keras_history` is `(operation, node_index, tensor_index)`; the
    node is `operation._inbound_nodes[node_index]`. `None` for a tensor that is not
    symbolic. Checked against: Keras 3.15.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index, _tensor_index = history
    return inbound_nodes(operation)[node_index]


def node_call_arguments(node) -> tuple[tuple, dict]:
    """The positional and keyword arguments of the call a node records.

    `Node.arguments` (a `SymbolicArguments`) `.args` and `.kwargs`. Checked
    against: Keras 3.15.
    """
    return tuple(node.arguments.args), dict(node.arguments.kwargs)


def node_input_tensors(node) -> list:
    """The symbolic tensors a node's call read (`Node.arguments.keras_tensors`)."""
    arguments = getattr(node, "arguments", None)
    return list(
        getattr(arguments, "keras_tensors", None) or getattr(node, "input_tensors", ())
    )


# ------------------------------------------------------------------- walkers


def output_layer(model) -> tuple[keras.layers.Layer | None, bool]:
    """The layer that produces a single-output model's output, past identity layers.

    Returns `(layer, found)`: `layer` is the last layer that does arithmetic
    before the output (a nested model is returned as is), and `found` is `False`
    (with `layer` `None`) when the model has no known graph, several outputs, or a
    path that branches or runs longer than a few identity layers.
    """
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None, False
    if not outputs or len(outputs) != 1:
        return None, False
    return tensor_layer(outputs[0])


def tensor_layer(tensor) -> tuple[keras.layers.Layer | None, bool]:
    """The layer that produces a symbolic tensor, past identity layers.

    As `output_layer`, for one output of a model with several (an item of
    `model.outputs`, or a value of a dict-structured `model.output`).
    """
    node = producing_node(tensor)
    for _ in range(_MAX_OUTPUT_HOPS):
        if node is None:
            return None, False
        layer = node.operation
        if type(layer).__name__ not in IDENTITY_LAYERS:
            return layer, True
        tensors = list(node.input_tensors)
        if len(tensors) != 1:
            return None, False
        node = producing_node(tensors[0])
    return None, False


def layers_called_on(
    model, input_ids: set[int], match: Callable[[keras.layers.Layer], bool]
) -> list[keras.layers.Layer]:
    """The layers `match` accepts that are called on one of the tensors `input_ids`.

    Nested functional models called on those tensors are searched too, from their
    own inputs. Each layer is listed once, in the order of `model.layers`.
    """
    found: list[keras.layers.Layer] = []
    _collect_called_on(model, input_ids, match, found)
    return found


def _collect_called_on(model, input_ids, match, found) -> None:
    for layer in getattr(model, "layers", ()):
        for node in inbound_nodes(layer):
            tensors = node_input_tensors(node)
            if not any(id(tensor) in input_ids for tensor in tensors):
                continue
            if match(layer):
                if layer not in found:
                    found.append(layer)
            elif isinstance(layer, keras.Model):
                try:
                    inner = {id(tensor) for tensor in layer.inputs or ()}
                except (AttributeError, ValueError):
                    continue
                _collect_called_on(layer, inner, match, found)


def input_kernel(layer):
    """The float input-kernel variable of a (non-Bidirectional) consumer, or `None`."""
    kernel = adapter.input_kernel_variable(layer)
    if kernel is None or not hasattr(kernel, "assign"):
        return None
    if "float" not in str(kernel.dtype):
        return None
    return kernel


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
    elif is_functional_graph(model):
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


def _in_model(nodes: list, model_nodes: set[int]) -> list:
    return [node for node in nodes if id(node) in model_nodes]


def _graph_steps(model: keras.Model, embedding) -> Iterator:
    """The layers after `embedding`, one at a time, while the path does not branch."""
    if embedding not in model.layers:
        raise NoConsumer("the embedding is inside a nested model")
    model_nodes = graph_node_ids(model)
    if len(_in_model(inbound_nodes(embedding), model_nodes)) != 1:
        raise NoConsumer("the embedding is called more than once")
    output_layers = [producing_operation(output) for output in model.outputs]
    current = embedding
    while True:
        consumers = _in_model(outbound_nodes(current), model_nodes)
        if len(consumers) != 1:
            what = "the model output" if not consumers else f"{len(consumers)} layers"
            raise NoConsumer(
                f"the output of {current.name!r} feeds {what}, not exactly one layer"
            )
        node = consumers[0]
        layer = node.operation
        if len(_in_model(inbound_nodes(layer), model_nodes)) != 1:
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
    args, kwargs = node_call_arguments(node)
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
