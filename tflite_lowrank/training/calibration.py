"""Calibration batches for the task-weighted split: the loss gradient's covariance.

`EmbeddingFactorization(calibration_data=...)` runs a few training batches through
the model (inference mode, no weight changes) right before the split and accumulates
`C = sum_b G_b^T G_b`, where `G_b` holds the gradient of batch `b`'s loss with
respect to the rows of the embedding table (one row per distinct id of the batch).
`weighting` then turns `C` into factors that keep the directions the loss is
sensitive to. TensorFlow backend only, like the callback.

`calibration_data` is checked before it is used: arrays in the constructor (one row
per example in `x`, `y` and `sample_weight`) and when `fit()` starts (token ids within
the layer's table, `check_calibration_ids`); the batches of a dataset or iterable, as
they are read at the split.
"""

from __future__ import annotations

import itertools
import logging

import keras
import numpy as np

from tflite_lowrank._keras import graph

# The fallback warning is the callback's message (`split_covariance` runs in its
# split), so it goes to the callback's logger, as `resume.py`'s log line does.
logger = logging.getLogger("tflite_lowrank.training.callback")

# Batch size for `calibration_data` given as arrays (Keras' own default).
_ARRAY_BATCH_SIZE = 32


# Examples in a calibration sample: the callback's default 100 batches of 32.
CALIBRATION_EXAMPLES = 100 * _ARRAY_BATCH_SIZE


def calibration_sample(
    x: np.ndarray, y: np.ndarray, *, seed: int, count: int = CALIBRATION_EXAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """`count` random training examples (all if fewer), in their original order.

    For `calibration_data` given as arrays: a random sample, since a training split
    may be ordered by class.
    """
    rng = np.random.default_rng(seed)
    count = min(count, len(x))
    index = np.sort(rng.permutation(len(x))[:count])
    return x[index], y[index]


def check_calibration(calibration_data, calibration_steps) -> None:
    """Raises for a `calibration_data` or `calibration_steps` the split cannot use."""
    if isinstance(calibration_steps, bool) or not isinstance(
        calibration_steps, int | np.integer
    ):
        raise TypeError(
            "`calibration_steps` must be an integer (batches to run). Received: "
            f"calibration_steps={calibration_steps!r} (of type "
            f"{type(calibration_steps).__name__})"
        )
    if calibration_steps < 1:
        raise ValueError(
            "`calibration_steps` must be >= 1. "
            f"Received: calibration_steps={calibration_steps}"
        )
    if calibration_data is None:
        return
    if isinstance(calibration_data, tuple | list):
        if len(calibration_data) not in (2, 3):
            raise ValueError(
                "`calibration_data` given as a tuple must be `(x, y)` or "
                "`(x, y, sample_weight)` arrays from the training split. Received: "
                f"a {type(calibration_data).__name__} of length "
                f"{len(calibration_data)}"
            )
        _check_rows(calibration_data)
        return
    if isinstance(calibration_data, str | bytes | dict | np.ndarray) or not hasattr(
        calibration_data, "__iter__"
    ):
        raise TypeError(
            "`calibration_data` must be a `tf.data.Dataset` (or another iterable) "
            "of `(x, y)` or `(x, y, sample_weight)` batches, or an `(x, y)` tuple of "
            f"arrays. Received: calibration_data of type "
            f"{type(calibration_data).__name__}"
        )


def _check_rows(calibration_data) -> None:
    """Raises unless the arrays of `(x, y[, sample_weight])` have as many rows."""
    rows = {}
    parts = ("x", "y", "sample_weight")[: len(calibration_data)]
    for part, value in zip(parts, calibration_data, strict=True):
        if part == "sample_weight" and value is None:
            continue
        for path, leaf in keras.tree.flatten_with_path(_array_like(value)):
            name = part + "".join(f"[{key!r}]" for key in path)
            shape = np.shape(leaf)
            if not shape:
                raise ValueError(
                    "`calibration_data` must hold arrays with one row per example. "
                    f"Received: calibration_data {name}={leaf!r}"
                )
            rows[name] = int(shape[0])
    if len(set(rows.values())) > 1:
        counts = ", ".join(f"{name} has {count}" for name, count in rows.items())
        raise ValueError(
            "`calibration_data` arrays must have one row per example: the same "
            f"number of rows in x, y and sample_weight. Received: calibration_data "
            f"where {counts} rows"
        )
    if not any(rows.values()):
        raise ValueError(
            "`calibration_data` holds no examples. Pass a sample of the training "
            "split, or `calibration_data=None`. Received: calibration_data with 0 rows"
        )


def _array_like(value):
    """`value`, with a (nested) list of numbers as one array, not a structure.

    A list of arrays stays a list (one array per model input).
    """
    if isinstance(value, list | tuple) and value:
        leaves = keras.tree.flatten(value)
        if all(isinstance(leaf, int | float | np.number) for leaf in leaves):
            return np.asarray(value)
    return value


def check_calibration_ids(calibration_data, model, layer) -> None:
    """Raises when `fit()` starts if array `calibration_data` has ids outside `layer`.

    Only the arrays of `x` that feed `layer` directly are checked (through the model's
    graph: a functional or Sequential model's inputs); a dataset's batches are checked
    at the split, as they are read.
    """
    if isinstance(calibration_data, tuple | list):
        _check_ids(_array_like(calibration_data[0]), model, layer)


def _check_ids(x, model, layer, batch: int | None = None) -> None:
    """Raises if a token-id array of `x` read by `layer` is outside its table."""
    for name, ids in _token_arrays(x, model, layer):
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.number) or ids.size == 0:
            continue
        bad = (ids < 0) | (ids >= layer.input_dim)
        if not bad.any():
            continue
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        position = ", ".join(str(i) for i in where)
        value = ids[where]
        value = int(value) if float(value).is_integer() else float(value)
        in_batch = "" if batch is None else f" (batch {batch})"
        raise ValueError(
            f"`calibration_data` holds token id {value}{in_batch}, outside the table "
            f"of layer '{layer.name}' (ids 0 to {layer.input_dim - 1}, "
            f"input_dim={layer.input_dim}): {int(bad.sum())} of {ids.size} ids are "
            "out of range. Pass a sample of the training split, tokenized with the "
            "model's "
            f"vocabulary. Received: calibration_data {name}[{position}]={value}"
        )


def _token_arrays(x, model, layer) -> list[tuple[str, object]]:
    """`(name, array)` for each part of the model input `x` that `layer` is called on.

    Empty for a model without a graph (subclassed) or an `x` that does not match
    the model's inputs.
    """
    try:
        inputs = model.inputs
        structure = model.input
    except (AttributeError, ValueError):
        return []
    if not inputs:
        return []
    if isinstance(x, dict):
        if isinstance(structure, dict):
            named = [(key, structure[key]) for key in structure]
        else:
            named = [(tensor.name, tensor) for tensor in inputs]
        pairs = [(f"x[{key!r}]", x[key], tensor) for key, tensor in named if key in x]
    elif isinstance(x, list | tuple):
        if len(x) != len(inputs):
            return []
        pairs = [
            (f"x[{i}]", part, tensor)
            for i, (part, tensor) in enumerate(zip(x, inputs, strict=True))
        ]
    elif len(inputs) == 1:
        pairs = [("x", x, inputs[0])]
    else:
        return []
    return [
        (name, part)
        for name, part, tensor in pairs
        if graph.layers_called_on(model, {id(tensor)}, lambda found: found is layer)
    ]


def _checked(calibration_data, model, layer):
    """The batches of an iterable `calibration_data`, each checked by `_check_ids`."""
    for index, element in enumerate(calibration_data):
        if isinstance(element, tuple | list) and element:
            _check_ids(element[0], model, layer, batch=index)
        yield element


def _batches(calibration_data, steps: int):
    """Up to `steps` `(x, y, sample_weight)` batches."""
    if isinstance(calibration_data, tuple | list):
        x, y, *rest = (_array_like(part) for part in calibration_data)
        weights = rest[0] if rest else None
        count = len(keras.tree.flatten(x)[0])
        for start in range(0, count, _ARRAY_BATCH_SIZE):
            if start // _ARRAY_BATCH_SIZE >= steps:
                return
            rows = slice(start, start + _ARRAY_BATCH_SIZE)
            yield (
                keras.tree.map_structure(lambda a, rows=rows: a[rows], x),
                keras.tree.map_structure(lambda a, rows=rows: a[rows], y),
                None if weights is None else weights[rows],
            )
        return
    for element in itertools.islice(iter(calibration_data), steps):
        if not isinstance(element, tuple | list) or len(element) not in (2, 3):
            raise ValueError(
                "`calibration_data` must yield `(x, y)` or `(x, y, sample_weight)` "
                "batches (labels are needed for the loss's gradient). Received: an "
                f"element of type {type(element).__name__}"
                + (f" and length {len(element)}" if hasattr(element, "__len__") else "")
            )
        x, y, *rest = element
        yield x, y, rest[0] if rest else None


def gradient_covariance(
    model, variable, calibration_data, steps: int
) -> tuple[np.ndarray, int]:
    """`sum_b G_b^T G_b` (D x D, float64) of the loss gradient w.r.t. `variable`'s rows.

    `model` must be compiled (its loss is used, in inference mode: dropout off).
    `G_b` has one row per distinct id of batch `b` (the gradient of each occurrence
    summed), so a word's rows count once per batch, as a weight update sees them.

    Returns:
        The covariance, and the number of batches used.
    """
    import tensorflow as tf

    dim = int(variable.shape[1])
    covariance = np.zeros((dim, dim))
    used = 0
    for x, y, sample_weight in _batches(calibration_data, steps):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=False)
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
            )
        gradient = tape.gradient(loss, variable)
        if gradient is None:
            break
        if isinstance(gradient, tf.IndexedSlices):
            ids, positions = tf.unique(gradient.indices)
            rows = tf.math.unsorted_segment_sum(
                gradient.values, positions, tf.shape(ids)[0]
            )
        else:
            rows = gradient
        rows = np.asarray(rows, dtype=np.float64)
        covariance += rows.T @ rows
        used += 1
    return covariance, used


def split_covariance(
    model, layer, calibration_data, calibration_steps: int
) -> tuple[np.ndarray | None, int]:
    """The covariance that weights the split of `layer`, and the batches it used.

    `(None, 0)` without `calibration_data`, or, with a warning, when the batches
    give the table no gradient (the split is then the plain truncated SVD).
    """
    if calibration_data is None:
        return None, 0
    if not isinstance(calibration_data, tuple | list):  # Arrays: checked at `fit()`.
        calibration_data = _checked(calibration_data, model, layer)
    covariance, batches = gradient_covariance(
        model, layer.embeddings, calibration_data, calibration_steps
    )
    if batches == 0 or not np.trace(covariance) > 0.0:
        logger.warning(
            "calibration_data gave layer '%s' no gradient (%d batches); using "
            "the plain truncated SVD.",
            layer.name,
            batches,
        )
        return None, 0
    return covariance, batches
