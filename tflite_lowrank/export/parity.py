"""The check of a converted file against Keras, on `check_data` when it is given.

Private helpers of `tflite_lowrank.export.converter`. `_resolve_check_data` checks
`convert_to_tflite(check_data=...)`: token-id rows, or a tuple `(rows, labels)`.
`_expected_outputs` computes what the file must output (Keras' outputs, with the
wrapper's softmax or two-class transform) and `_compare_with_keras` runs the file in
LiteRT on the same rows, raising `OutputMismatchError` when it disagrees.
`_accuracies` scores the file and the Keras model on the labels with the rules of
`tflite_lowrank.litert.scoring` (the benchmark's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import keras
import numpy as np

from tflite_lowrank.errors import OutputMismatchError
from tflite_lowrank.export.contract import (
    _apply_transform,
    _check_rows_argument,
    _Head,
    _model_outputs,
)
from tflite_lowrank.litert import interpreter as _interpreter
from tflite_lowrank.litert import scoring as _scoring

# Largest allowed max |tflite - keras| on the verification rows, per mode. Probabilities
# are compared for float32 and float16; quantized modes are only checked to be finite
# (their error depends on the model; measure it with `compare_models`, or pass
# `check_data` with labels).
_OUTPUT_TOLERANCES = {"float32": 1e-4, "float16": 5e-2}
# Keras runs the check rows in batches of this many.
_KERAS_BATCH = 256


@dataclasses.dataclass(frozen=True)
class _CheckData:
    """Checked `check_data`: rows, and labels of one output (or None)."""

    rows: np.ndarray | dict[str, np.ndarray]
    labels: np.ndarray | None = None
    output: str | None = None


def _resolve_check_data(check_data, model, seq_len: int, inputs) -> _CheckData | None:
    """Checks `check_data` (rows, or `(rows, labels)`); labels later (`_check_labels`).

    Labels of a model with several outputs are a dict with one key, the output
    they belong to.
    """
    if check_data is None:
        return None
    labels = None
    if isinstance(check_data, tuple):
        if len(check_data) != 2:
            raise ValueError(
                "`check_data` must be token-id rows or a tuple `(rows, labels)`. "
                f"Received: check_data, a tuple of {len(check_data)} items"
            )
        check_data, labels = check_data
    rows = _check_rows_argument(check_data, "check_data", model, seq_len, inputs)
    output = None
    if isinstance(labels, Mapping):
        if len(labels) != 1:
            raise ValueError(
                "The labels of `check_data` for a model with several outputs must be "
                "a dict with one key, the name of the output they belong to. "
                f"Received: check_data[1] with keys {sorted(labels)}"
            )
        ((output, labels),) = labels.items()
    return _CheckData(rows=rows, labels=labels, output=output)


def _check_labels(check: _CheckData, heads: tuple[_Head, ...]) -> _CheckData:
    """Checks the labels of `check_data` against the output they score."""
    if check is None or check.labels is None:
        return check
    names = [head.name for head in heads]
    if check.output is None and len(heads) > 1:
        raise ValueError(
            f"The model has several outputs, {names}: pass the labels of `check_data` "
            "as a dict keyed by the output they belong to, e.g. "
            f"(rows, {{{names[0]!r}: labels}}). Received: check_data[1] of type "
            f"{type(check.labels).__name__}"
        )
    head = _head(heads, check.output)
    mask = _mask(check.rows, head)
    # A two-class output scores the 1-wide sigmoid it comes from: labels 0/1.
    binary = head.transform.startswith("two_class")
    labels = _scoring.check_labels(
        check.labels,
        num_rows=_num_rows(check.rows),
        output_shape=(*head.shape[:-1], 1) if binary else head.shape,
        mask=mask,
        name="check_data[1]",
        rows_name="check_data[0]",
    )
    return dataclasses.replace(check, labels=labels)


def _head(heads: tuple[_Head, ...], output: str | None) -> _Head:
    if output is None:
        return heads[0]
    for head in heads:
        if head.name == output:
            return head
    raise ValueError(
        "The labels of `check_data` must be keyed by one of the model's outputs "
        f"{[head.name for head in heads]}. Received: check_data[1] keyed by "
        f"{output!r}"
    )


def _mask(rows, head: _Head) -> np.ndarray | None:
    return _scoring.padding_mask(
        rows, head.shape, output_name=head.name or "output_0", received="check_data"
    )


def _num_rows(rows) -> int:
    return len(next(iter(rows.values()))) if isinstance(rows, dict) else len(rows)


def _keras_outputs(model: keras.Model, rows):
    """The model's outputs on rows, as NumPy (a list or dict for several outputs),
    computed in batches of `_KERAS_BATCH` rows."""
    count = _num_rows(rows)
    if count <= _KERAS_BATCH:
        return _numpy_outputs(model, rows)
    parts = []
    for start in range(0, count, _KERAS_BATCH):
        chunk = (
            {name: array[start : start + _KERAS_BATCH] for name, array in rows.items()}
            if isinstance(rows, dict)
            else rows[start : start + _KERAS_BATCH]
        )
        parts.append(_numpy_outputs(model, chunk))
    first = parts[0]
    if isinstance(first, dict):
        return {key: np.concatenate([part[key] for part in parts]) for key in first}
    if isinstance(first, list | tuple):
        return [np.concatenate(items) for items in zip(*parts, strict=True)]
    return np.concatenate(parts)


def _numpy_outputs(model: keras.Model, rows):
    return keras.tree.map_structure(
        keras.ops.convert_to_numpy, _model_outputs(model, rows)
    )


def _expected_outputs(raw, heads: tuple[_Head, ...]) -> dict[str | None, np.ndarray]:
    """Keras' outputs (a tensor, list or dict) keyed by head, transformed."""
    if len(heads) == 1 and heads[0].name is None:
        values = {None: raw}
    elif isinstance(raw, dict):
        values = {str(key): value for key, value in raw.items()}
    else:
        values = dict(zip([head.name for head in heads], raw, strict=True))
    return {
        head.name: _apply_transform(
            np.asarray(keras.ops.convert_to_numpy(values[head.name])), head.transform
        )
        for head in heads
    }


def _compare_with_keras(
    content: bytes,
    rows: np.ndarray | dict[str, np.ndarray],
    expected: dict[str | None, np.ndarray],
    mode: str,
    model: keras.Model,
) -> tuple[float, dict[str | None, np.ndarray]]:
    """Runs the file on rows; returns max |tflite - keras| and its outputs by head."""
    interpreter = _interpreter.make_interpreter(model_content=content)
    actual = {
        name: _interpreter.Runner(interpreter, name).predict(rows) for name in expected
    }
    received = f"Received: model={model.name!r}, quantization={mode!r}"
    difference = 0.0
    for name, values in actual.items():
        flat = values.reshape(len(values), -1)
        reference = expected[name].reshape(len(values), -1)
        bad_rows = np.flatnonzero(~np.all(np.isfinite(flat), axis=-1))
        if bad_rows.size:
            _raise_not_finite(bad_rows, reference, received)
        difference = max(difference, float(np.max(np.abs(flat - reference))))
    tolerance = _OUTPUT_TOLERANCES.get(mode)
    if tolerance is not None:
        scale = max(
            1.0, max(float(np.max(np.abs(values))) for values in expected.values())
        )
        if difference > tolerance * scale:
            raise OutputMismatchError(
                f"The converted model's outputs differ from Keras by {difference:.3g}"
                f" (more than {tolerance * scale:.3g} allowed for {mode}); the file "
                f"was not written. {received}"
            )
    return difference, actual


def _raise_not_finite(bad_rows: np.ndarray, expected: np.ndarray, received: str):
    keras_finite = np.all(np.isfinite(expected[bad_rows]), axis=-1)
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


def _accuracies(
    check: _CheckData,
    heads: tuple[_Head, ...],
    actual: dict[str | None, np.ndarray],
    expected: dict[str | None, np.ndarray],
) -> tuple[float | None, float | None]:
    """Accuracy of the file and of the Keras model on the labels of `check_data`."""
    if check is None or check.labels is None:
        return None, None
    head = _head(heads, check.output)
    mask = _mask(check.rows, head)
    return tuple(
        _scoring.accuracy(
            _interpreter.predict_classes(outputs[head.name]), check.labels, mask
        )
        for outputs in (actual, expected)
    )


def _check_rows_phrase(rows: np.ndarray) -> str:
    """`"check row 2"`, `"check rows 0, 3"`, or the first five and how many more."""
    shown = ", ".join(str(int(row)) for row in rows[:5])
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"check row{'s' if len(rows) > 1 else ''} {shown}{more}"
