"""The Keras side of the I/O contract: the model's inputs and outputs, and the wrapper.

Private helpers of `tflite_lowrank.export.converter`. `_resolve_inputs` checks the
model's inputs (token ids only; one, or several kept by name) and the rows passed for
them. `_contract_wrapper` wraps the user's model in the batch-1 model of
`docs/contracts.md` (input `token_ids` int32 `[1, seq_len]`), with one `_Head` per
output: it reads off the layer that produces each output whether it is
probabilities, logits or a sigmoid (`_output_kind`), appends a softmax to logits and
writes a 1-wide sigmoid (or logit) as the two-class probabilities `[1 - p, p]`.
`_check_rows` picks the rows the converted file is checked on when no `check_data`
is given (`export.parity` runs the check).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tflite_lowrank._keras import graph
from tflite_lowrank.export.keras_model import (
    _call_structure,
    _check_token_inputs,
    _named_inputs,
    _resolve_seq_len,
    _token_inputs,
    _TokenInput,
    _vocabulary_size,
)
from tflite_lowrank.litert import interpreter as _interpreter
from tflite_lowrank.litert.rows import check_input_rows, check_token_ids

# Records keep the name of the public module (the CLI's `-v` prints it).
logger = logging.getLogger("tflite_lowrank.export.converter")

_NUM_CHECK_ROWS = 16
# Activations after which the output is logits.
_LOGIT_ACTIVATIONS = ("linear", "log_softmax")


@dataclasses.dataclass(frozen=True)
class _Head:
    """One output of the converted file and what the wrapper does to it.

    `name` is the output's name in the file (None: a model with one output, which
    the file calls `output_0`); `transform` is `"none"`, `"softmax"` (appended to
    logits), `"two_class"` (a probability `p` written as `[1 - p, p]`) or
    `"two_class_logit"` (a logit `z`, `p = sigmoid(z)`); `shape` is the output's
    shape in the file, `(1, num_labels)` or `(1, seq_len, num_tags)`.
    """

    name: str | None
    transform: str
    shape: tuple[int, ...]


class _Probabilities(keras.layers.Layer):
    """The wrapper's last step for one output (`_Head.transform`): a softmax over
    the last axis, or `[1 - p, p]` from a 1-wide probability (from a logit,
    `p = sigmoid(z)`). Passes a mask on but does not read it: `keras.layers.Softmax`
    applies the mask of a per-token output to its last axis, which fails."""

    def __init__(self, transform: str, **kwargs):
        super().__init__(**kwargs)
        self.transform = transform
        self.supports_masking = True

    def call(self, inputs):
        if self.transform == "softmax":
            return keras.ops.softmax(inputs, axis=-1)
        p = keras.ops.sigmoid(inputs) if self.transform == "two_class_logit" else inputs
        return keras.ops.concatenate([1.0 - p, p], axis=-1)


def _resolve_inputs(
    model: keras.Model, seq_len: int | None, representative_data
) -> tuple[int, tuple[_TokenInput, ...] | None, Any, np.ndarray | dict]:
    """Checks the model's inputs and `representative_data`, before any work.

    Returns the input length (the longest input's, for several), the token inputs of
    a model with several (None: one input, converted as `token_ids`), the checked
    `representative_data` (a dict keyed by input name for several inputs) and the
    rows the converted file is checked on.
    """
    _check_token_inputs(model)
    inputs = None
    if len(_named_inputs(model)) > 1:
        if seq_len is not None:
            seq_len = _resolve_seq_len(model, seq_len)
        inputs = _token_inputs(model, seq_len)
        seq_len = max(spec.seq_len for spec in inputs)
        if representative_data is not None:
            representative_data = _check_rows_argument(
                representative_data, "representative_data", model, seq_len, inputs
            )
        return (
            seq_len,
            inputs,
            representative_data,
            _multi_check_rows(representative_data, inputs),
        )
    seq_len = _resolve_seq_len(model, seq_len)
    if representative_data is not None:
        representative_data = _check_rows_argument(
            representative_data, "representative_data", model, seq_len, None
        )
    return (
        seq_len,
        None,
        representative_data,
        _check_rows(representative_data, seq_len, _vocabulary_size(model)),
    )


def _check_rows_argument(rows, name: str, model, seq_len: int, inputs):
    """Checks token-id rows given for the model (`representative_data`, ...)."""
    if inputs is not None:
        return check_input_rows(
            rows,
            name=name,
            inputs=[(s.name, s.seq_len, s.vocabulary_size) for s in inputs],
            model=repr(model.name),
        )
    if isinstance(rows, Mapping):  # As `benchmark_tflite` takes it: {input: rows}.
        rows = _single_input_rows(rows, name, model)
    return check_token_ids(
        rows, name=name, seq_len=seq_len, vocabulary_size=_vocabulary_size(model)
    )


def _single_input_rows(rows: Mapping, name: str, model: keras.Model):
    """The array of a dict given for a model with one input: one key, the input's
    name (or `token_ids`, its name in the file)."""
    names = [input_name for input_name, _ in _named_inputs(model)] or ["token_ids"]
    if len(rows) != 1 or next(iter(rows)) not in {*names, "token_ids"}:
        raise ValueError(
            f"`{name}` is a dict, which is for models with several inputs; this "
            f"model has one input, {names[0]!r}: pass its rows as an array, or a "
            f"dict with that one key. Received: {name} with keys "
            f"{sorted(map(str, rows))}"
        )
    return next(iter(rows.values()))


def _check_rows(
    representative_data: np.ndarray | None, seq_len: int, vocabulary_size: int | None
) -> np.ndarray:
    """Rows for the output check: real data if given, else seeded random valid ids."""
    if representative_data is not None:
        return representative_data[:_NUM_CHECK_ROWS]
    rng = np.random.default_rng(0)
    high = vocabulary_size if vocabulary_size is not None else 2
    low = 1 if high > 1 else 0
    rows = rng.integers(low, high, size=(_NUM_CHECK_ROWS, seq_len), dtype=np.int64)
    for row in range(_NUM_CHECK_ROWS):  # Padding of every length from 0 to seq_len-1.
        padding = row % seq_len
        if padding:
            rows[row, seq_len - padding :] = 0
    return rows.astype(np.int32)


def _multi_check_rows(
    representative_data: dict[str, np.ndarray] | None,
    inputs: tuple[_TokenInput, ...],
) -> dict[str, np.ndarray]:
    """`_check_rows` for each input of a model with several inputs."""
    return {
        spec.name: _check_rows(
            None if representative_data is None else representative_data[spec.name],
            spec.seq_len,
            spec.vocabulary_size,
        )
        for spec in inputs
    }


def _output_kind(model: keras.Model) -> str:
    """Reads `"probabilities"`, `"logits"`, `"sigmoid"` or `"unknown"` off the end."""
    return _layer_kind(*graph.output_layer(model))


def _layer_kind(layer, found: bool) -> str:
    """The kind of output a layer produces (see `_output_kind`)."""
    if not found:
        return "unknown"
    if type(layer).__name__ == "Softmax":
        return "probabilities"
    if isinstance(layer, keras.Model):
        return _output_kind(layer)
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    if name == "softmax":
        return "probabilities"
    if name in _LOGIT_ACTIVATIONS:
        return "logits"
    if name == "sigmoid":
        return "sigmoid"
    return "unknown"


def _looks_like_probabilities(outputs: np.ndarray) -> bool:
    return bool(
        np.all(outputs >= 0.0)
        and np.all(outputs <= 1.0)
        and (
            outputs.shape[-1] == 1 or np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3)
        )
    )


def _named_outputs(model: keras.Model, outputs) -> list[tuple[str | None, Any]]:
    """`(name, tensor)` of each output of a model call (name None: one output).

    A dict's keys name its values; a list or tuple takes the model's
    `output_names` (its output layers' names), else `output_0`, `output_1`...
    """
    if isinstance(outputs, dict):
        named = [(str(key), value) for key, value in outputs.items()]
    elif isinstance(outputs, list | tuple):
        if len(outputs) == 1:
            return [(None, outputs[0])]
        names = list(getattr(model, "output_names", None) or ())
        if len(names) != len(outputs):
            names = [f"output_{index}" for index in range(len(outputs))]
        named = [(str(name), value) for name, value in zip(names, outputs, strict=True)]
    else:
        return [(None, outputs)]
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(
            "The outputs of `model` must have distinct names, which become the "
            f"output names of the `.tflite` file. Received: model={model.name!r} "
            f"with outputs {names}"
        )
    return named


def _source_kinds(model: keras.Model, names: list[str | None]) -> list[str]:
    """The kind of each named output, read from the model's own graph."""
    if names == [None]:
        return [_output_kind(model)]
    try:
        structure = model.output
        tensors = list(model.outputs or ())
    except (AttributeError, ValueError):
        return ["unknown"] * len(names)
    if isinstance(structure, dict):
        by_name = {str(key): value for key, value in structure.items()}
    elif len(tensors) == len(names):
        by_name = dict(zip(names, tensors, strict=True))
    else:
        return ["unknown"] * len(names)
    return [
        _layer_kind(*graph.tensor_layer(by_name[name]))
        if name in by_name
        else "unknown"
        for name in names
    ]


def _contract_wrapper(
    model: keras.Model,
    seq_len: int,
    keep_logits: bool,
    check_rows: np.ndarray | dict[str, np.ndarray],
    inputs: tuple[_TokenInput, ...] | None = None,
) -> tuple[keras.Model, tuple[_Head, ...]]:
    """The batch-1 model of the contract, and what it does to each output.

    With `inputs` (a model with several inputs), one int32 `[1, length]` input per
    token input, under its own name, instead of `token_ids`. A model with several
    outputs keeps them under their names; each output is `(batch, num_labels)` or
    per token, `(batch, seq_len, num_tags)`.
    """
    if inputs is None:
        wrapper_inputs = keras.Input(
            shape=(seq_len,), batch_size=1, dtype="int32", name=_interpreter.INPUT_NAME
        )
        outputs = model(wrapper_inputs)
    else:
        # A list, not a dict: the TF converter cannot trace dict-structured models.
        by_name = {
            spec.name: keras.Input(
                shape=(spec.seq_len,), batch_size=1, dtype="int32", name=spec.name
            )
            for spec in inputs
        }
        wrapper_inputs = list(by_name.values())
        outputs = model(_call_structure(model, by_name))
    named = _named_outputs(model, outputs)
    for name, tensor in named:
        shape = tuple(getattr(tensor, "shape", ()))
        label = "output" if name is None else f"output {name!r}"
        if len(shape) not in (2, 3):
            raise ValueError(
                "Each output of the model must be (batch, num_labels), or per token "
                f"(batch, seq_len, num_tags). Received: model={model.name!r} with "
                f"{label} of shape {shape}"
            )
        if any(size is None for size in shape[1:]):
            raise ValueError(
                "The model's number of labels (last output dimension) must be fixed. "
                f"Received: model={model.name!r} with {label} of shape {shape}"
            )
    kinds = _source_kinds(model, [name for name, _ in named])
    sample = None
    heads, new_outputs = [], {}
    for (name, tensor), kind in zip(named, kinds, strict=True):
        if kind == "unknown":
            if sample is None:
                sample = _named_outputs(model, _model_outputs(model, check_rows))
            values = keras.ops.convert_to_numpy(dict(sample)[name])
            kind = "probabilities" if _looks_like_probabilities(values) else "logits"
            logger.info(
                "Output %s of %r read from its values: %s.", name, model.name, kind
            )
        transform = _transform_for(
            kind, int(tensor.shape[-1]), keep_logits, name, model
        )
        if transform != "none":
            prefix = "probabilities" if transform == "softmax" else "two_class"
            tensor = _Probabilities(transform, name=_layer_name(prefix, name))(tensor)
        heads.append(_Head(name, transform, (1, *map(int, tensor.shape[1:]))))
        new_outputs[name] = tensor
    wrapper_outputs = new_outputs[None] if None in new_outputs else new_outputs
    wrapper = keras.Model(wrapper_inputs, wrapper_outputs, name=f"{model.name}_tflite")
    return wrapper, tuple(heads)


def _transform_for(kind: str, width: int, keep_logits: bool, name, model) -> str:
    """What the wrapper appends to an output of this kind and width."""
    if keep_logits:
        return "none"
    if width == 1:  # A binary classifier: one probability (or logit) of class 1.
        return "two_class_logit" if kind == "logits" else "two_class"
    if kind == "sigmoid":
        label = "output" if name is None else f"output {name!r}"
        raise ValueError(
            f"The model's {label} ends in a sigmoid over {width} labels (a "
            "multi-label output), but the I/O contract needs class probabilities "
            "that sum to 1. End it in `Dense(num_labels, activation='softmax')`, "
            "or pass `keep_logits=True` to keep the sigmoid output as is. "
            f"Received: model={model.name!r}, keep_logits=False"
        )
    return "softmax" if kind == "logits" else "none"


def _layer_name(prefix: str, name: str | None) -> str:
    return prefix if name is None else f"{prefix}_{name}"


def _model_outputs(model: keras.Model, rows: np.ndarray | dict[str, np.ndarray]):
    """The model's raw outputs on rows (a dict keyed by input name: several)."""
    if isinstance(rows, dict):
        rows = _call_structure(model, rows)
    return model(rows, training=False)


def _apply_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """What the wrapper does to an output, on Keras' values (see `_Head`)."""
    if transform == "softmax":
        return keras.ops.convert_to_numpy(keras.ops.softmax(values, axis=-1))
    if transform.startswith("two_class"):
        p = values
        if transform == "two_class_logit":
            p = keras.ops.convert_to_numpy(keras.ops.sigmoid(values))
        return np.concatenate([1.0 - p, p], axis=-1).astype(np.float32)
    return values
