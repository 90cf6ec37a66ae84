"""How a file's predictions are scored against labels, the same way everywhere.

`convert_to_tflite(check_data=(rows, labels))`, `benchmark_tflite` and
`compare_models` share these rules:

- the predicted class is the argmax of the output's last axis
  (`litert.interpreter.predict_classes`); a 1-wide output (a sigmoid kept as is) is
  one probability `p` of class 1, read at the threshold 0.5, so its labels are 0/1;
- a classifier output `(rows, num_labels)` takes labels `(rows,)`;
- a per-token output `(rows, seq_len, num_tags)` takes labels `(rows, seq_len)` and
  is scored on the tokens only: positions whose token id is 0 (padding) count
  neither in the accuracy nor in the agreement, and their labels are not checked.

Imports NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def num_classes(output_shape: Sequence[int]) -> int:
    """Classes an output predicts: its last dimension, 2 for a 1-wide sigmoid."""
    return max(2, int(output_shape[-1]))


def is_per_token(output_shape: Sequence[int]) -> bool:
    """Whether the output is per token: `[1, seq_len, num_tags]`."""
    return len(output_shape) == 3


def padding_mask(
    token_ids: np.ndarray | Mapping[str, np.ndarray],
    output_shape: Sequence[int],
    *,
    output_name: str,
    received: str,
) -> np.ndarray | None:
    """The tokens `(rows, seq_len)` a per-token output is scored on (None: not one).

    The token ids are those of the input as long as the output; with several
    inputs, exactly one must have that length.

    Raises:
        ValueError: if no input (or several) has the output's length.
    """
    if not is_per_token(output_shape):
        return None
    length = int(output_shape[1])
    arrays = (
        dict(token_ids) if isinstance(token_ids, Mapping) else {"token_ids": token_ids}
    )
    matching = [
        name for name, array in arrays.items() if np.asarray(array).shape[1] == length
    ]
    if len(matching) != 1:
        lengths = {name: np.asarray(array).shape[1] for name, array in arrays.items()}
        raise ValueError(
            f"The per-token output {output_name!r} has {length} positions; exactly "
            f"one input must have that length for its padding (id 0) to be masked, "
            f"found inputs of lengths {lengths}. Received: {received}"
        )
    return np.asarray(arrays[matching[0]]) != 0


def check_labels(
    labels,
    *,
    num_rows: int,
    output_shape: Sequence[int],
    mask: np.ndarray | None,
    name: str = "labels",
    rows_name: str = "token_ids",
) -> np.ndarray:
    """Checks labels against an output and returns them as int64.

    Args:
        labels: The argument to check.
        num_rows: Integer. Rows of the token ids the labels belong to.
        output_shape: The scored output's shape, `[1, num_labels]` or
            `[1, seq_len, num_tags]`.
        mask: Boolean array `(num_rows, seq_len)` of the tokens of a per-token
            output (`padding_mask`), else None. Labels at padding are not checked.
        name: String. The argument's name, for messages.
        rows_name: String. The name of the token ids, for messages.

    Raises:
        TypeError: if the labels are not integers.
        ValueError: for the wrong shape, or a class outside the output's range.
    """
    array = np.asarray(labels)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"`{name}` must hold integer class indices. "
            f"Received: {name} with dtype {array.dtype}"
        )
    per_token = is_per_token(output_shape)
    shape = (num_rows, int(output_shape[1])) if per_token else (num_rows,)
    if array.shape != shape:
        what = (
            "one label per token of each row (padding positions are ignored)"
            if per_token
            else "one label per row"
        )
        raise ValueError(
            f"`{name}` must have shape {shape}, {what} of `{rows_name}`. "
            f"Received: {name} with shape {array.shape}"
        )
    classes = num_classes(output_shape)
    scored = array[mask] if mask is not None else array.reshape(-1)
    if scored.size and (scored.min() < 0 or scored.max() >= classes):
        binary = (
            " (0 or 1: the model has one sigmoid output p, class 1 when p > 0.5)"
            if int(output_shape[-1]) == 1
            else f" (the model has {classes} outputs)"
        )
        where = " at the tokens (id != 0)" if mask is not None else ""
        raise ValueError(
            f"`{name}` must be class indices in [0, {classes}){binary}{where}. "
            f"Received: {name} in [{scored.min()}, {scored.max()}]"
        )
    return array.astype(np.int64)


def accuracy(
    predictions: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Share of rows (of tokens, with `mask`) whose prediction equals the label."""
    return _share(np.asarray(predictions) == np.asarray(labels), mask)


def agreement(
    predictions: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Share of rows (of tokens, with `mask`) predicted as the reference predicts."""
    return _share(np.asarray(predictions) == np.asarray(reference), mask)


def _share(equal: np.ndarray, mask: np.ndarray | None) -> float:
    if mask is not None:
        equal = equal[mask]
    return float(np.mean(equal)) if equal.size else float("nan")
