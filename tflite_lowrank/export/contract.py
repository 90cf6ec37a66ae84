"""The Keras side of the I/O contract, and the check of a converted file against Keras.

Private helpers of `tflite_lowrank.export.converter`. `_resolve_inputs` checks the
model's inputs (token ids only; one, or several kept by name) and the rows passed for
them. `_contract_wrapper` wraps the
user's model in the batch-1 model of `docs/contracts.md` (input `token_ids` int32 `[1,
seq_len]`, one output `[1, num_labels]`), reading off its last layer whether it ends in
probabilities or logits (`_output_kind`) and appending a softmax to logits.
`_check_rows` picks the rows the converted file is run on, and `_compare_with_keras`
runs it in LiteRT and raises `OutputMismatchError` when it disagrees with Keras.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np

from tflite_lowrank._keras import graph
from tflite_lowrank.errors import OutputMismatchError
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


# Largest allowed max |tflite - keras| on the verification rows, per mode. Probabilities
# are compared for float32 and float16; quantized modes are only checked to be finite
# (their error depends on the model; measure it with `compare_models`).
_OUTPUT_TOLERANCES = {"float32": 1e-4, "float16": 5e-2}
_NUM_CHECK_ROWS = 16
# Layers that are the identity at inference (the same list the folding pass skips).
_LOGIT_ACTIVATIONS = ("linear", "log_softmax")


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
            representative_data = check_input_rows(
                representative_data,
                name="representative_data",
                inputs=[(s.name, s.seq_len, s.vocabulary_size) for s in inputs],
                model=repr(model.name),
            )
        return (
            seq_len,
            inputs,
            representative_data,
            _multi_check_rows(representative_data, inputs),
        )
    seq_len = _resolve_seq_len(model, seq_len)
    vocabulary_size = _vocabulary_size(model)
    if representative_data is not None:
        representative_data = check_token_ids(
            representative_data,
            name="representative_data",
            seq_len=seq_len,
            vocabulary_size=vocabulary_size,
        )
    return (
        seq_len,
        None,
        representative_data,
        _check_rows(representative_data, seq_len, vocabulary_size),
    )


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


def _keras_outputs(
    model: keras.Model, rows: np.ndarray | dict[str, np.ndarray]
) -> np.ndarray:
    """The model's outputs on rows (a dict keyed by input name: several inputs)."""
    if isinstance(rows, dict):
        rows = _call_structure(model, rows)
    return keras.ops.convert_to_numpy(model(rows, training=False))


def _output_kind(model: keras.Model) -> str:
    """Reads `"probabilities"`, `"logits"`, `"sigmoid"` or `"unknown"` off the end."""
    layer, found = graph.output_layer(model)
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
        and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3)
    )


def _contract_wrapper(
    model: keras.Model,
    seq_len: int,
    keep_logits: bool,
    check_rows: np.ndarray | dict[str, np.ndarray],
    inputs: tuple[_TokenInput, ...] | None = None,
) -> tuple[keras.Model, bool]:
    """The batch-1 model of the contract, and whether a softmax was appended.

    With `inputs` (a model with several inputs), one int32 `[1, length]` input per
    token input, under its own name, instead of `token_ids`.
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
    if isinstance(outputs, list | tuple | dict) or len(outputs.shape) != 2:
        shape = (
            [tuple(output.shape) for output in outputs]
            if isinstance(outputs, list | tuple)
            else getattr(outputs, "shape", type(outputs).__name__)
        )
        raise ValueError(
            "The model must have one output of shape (batch, num_labels). "
            f"Received: model={model.name!r} with output shape {shape}"
        )
    if outputs.shape[1] is None:
        raise ValueError(
            "The model's number of labels (last output dimension) must be fixed. "
            f"Received: model={model.name!r} with output shape {tuple(outputs.shape)}"
        )
    kind = _output_kind(model)
    if kind == "unknown":
        sample = _keras_outputs(model, check_rows)
        kind = "probabilities" if _looks_like_probabilities(sample) else "logits"
        logger.info("Output of %r read from its values: %s.", model.name, kind)
    if kind == "sigmoid" and not keep_logits:
        raise ValueError(
            "The model ends in a sigmoid, but the I/O contract needs `num_labels` "
            "class probabilities that sum to 1. End the model in "
            "`Dense(num_labels, activation='softmax')`, or pass `keep_logits=True` "
            "to keep the sigmoid output as is. "
            f"Received: model={model.name!r}, keep_logits=False"
        )
    appended = kind == "logits" and not keep_logits
    if appended:
        outputs = keras.layers.Softmax(name="probabilities")(outputs)
    wrapper = keras.Model(wrapper_inputs, outputs, name=f"{model.name}_tflite")
    return wrapper, appended


def _compare_with_keras(
    content: bytes,
    rows: np.ndarray | dict[str, np.ndarray],
    expected: np.ndarray,
    mode: str,
    model: keras.Model,
) -> float:
    runner = _interpreter.Runner(_interpreter.make_interpreter(model_content=content))
    actual = runner.predict(rows)
    bad_rows = np.flatnonzero(~np.all(np.isfinite(actual), axis=-1))
    if bad_rows.size:
        keras_finite = np.all(np.isfinite(expected[bad_rows]), axis=-1)
        received = f"Received: model={model.name!r}, quantization={mode!r}"
        if keras_finite.any():
            raise OutputMismatchError(
                "The converted model outputs NaN or infinite values on "
                f"{_check_rows_phrase(bad_rows[keras_finite])}, where Keras outputs "
                f"finite values; the file was not written. {received}"
            )
        raise OutputMismatchError(
            "The converted model outputs NaN or infinite values on "
            f"{_check_rows_phrase(bad_rows)}, and so does Keras (a row of padding "
            "only under a masked mean, for example, divides 0 by 0), so the "
            "conversion cannot be checked; pass `representative_data` rows with at "
            "least one real token, or make the model handle such rows. The file was "
            f"not written. {received}"
        )
    difference = float(np.max(np.abs(actual - expected)))
    tolerance = _OUTPUT_TOLERANCES.get(mode)
    if tolerance is not None:
        scale = max(1.0, float(np.max(np.abs(expected))))
        if difference > tolerance * scale:
            raise OutputMismatchError(
                f"The converted model's outputs differ from Keras by {difference:.3g}"
                f" (more than {tolerance * scale:.3g} allowed for {mode}); the file "
                f"was not written. Received: model={model.name!r}, "
                f"quantization={mode!r}"
            )
    return difference


def _check_rows_phrase(rows: np.ndarray) -> str:
    """`"check row 2"`, `"check rows 0, 3"`, or the first five and how many more."""
    shown = ", ".join(str(int(row)) for row in rows[:5])
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"check row{'s' if len(rows) > 1 else ''} {shown}{more}"
