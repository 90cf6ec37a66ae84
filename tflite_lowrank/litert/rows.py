"""Checking the token ids fed to a model, with messages that name the argument.

`check_token_ids` checks rows `(num_rows, seq_len)` against one input (re-exported by
`litert.flatbuffer`, where callers find it); `check_input_rows` checks a dict of such
arrays keyed by input name against the inputs of a model with several (the Keras
model being converted, or a `.tflite` file), and `check_input_keys` names the
expected and found keys when they differ. Imports NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def check_input_rows(
    rows,
    *,
    name: str,
    inputs: Sequence[tuple[str, int, int | None]],
    model: str,
) -> dict[str, np.ndarray]:
    """Checks `{input name: token ids (num_rows, length)}` and returns int32 arrays.

    Args:
        rows: The argument to check.
        name: String. The argument's name, for messages.
        inputs: `(input name, length, vocabulary size or None)` of each input.
        model: String. How to name the model in messages (its name or its file).

    Raises:
        TypeError: if `rows` is not a dict, or an array is not integer.
        ValueError: for missing or extra keys, an array of the wrong shape or with
            ids out of range, or arrays with different numbers of rows.
    """
    expected = [input_name for input_name, _, _ in inputs]
    if not isinstance(rows, Mapping):
        raise TypeError(
            f"`{name}` must be a dict of integer arrays keyed by input name, "
            f"{expected}, for the model {model} with several inputs. "
            f"Received: {name} of type {type(rows).__name__}"
        )
    check_input_keys(
        list(rows), expected, what=f"`{name}`", model=model, received=f"{name}"
    )
    checked = {
        input_name: check_token_ids(
            rows[input_name],
            name=f"{name}[{input_name!r}]",
            seq_len=length,
            vocabulary_size=vocabulary_size,
        )
        for input_name, length, vocabulary_size in inputs
    }
    counts = {key: len(array) for key, array in checked.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(
            f"The arrays of `{name}` must have the same number of rows, one per "
            f"example. Received: {name} with rows {counts}"
        )
    return checked


def check_token_ids(
    token_ids, *, name: str, seq_len: int, vocabulary_size: int | None
) -> np.ndarray:
    """Checks token ids `(num_rows, seq_len)` and returns them as int32.

    A single row `(seq_len,)` is accepted as one row.

    Raises:
        TypeError: if they are not an integer array.
        ValueError: for the wrong shape, no rows, or ids outside `[0, vocabulary)`.
    """
    if isinstance(token_ids, str | bytes) or not hasattr(token_ids, "__len__"):
        raise TypeError(
            f"`{name}` must be an integer array (num_rows, seq_len) of token ids. "
            f"Received: {name} of type {type(token_ids).__name__}"
        )
    array = np.asarray(token_ids)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"`{name}` must hold integer token ids (e.g. int32 from "
            f"`Tokenizer.encode`). Received: {name} with dtype {array.dtype}"
        )
    if array.ndim == 1 and array.shape[0] == seq_len:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != seq_len or array.shape[0] == 0:
        raise ValueError(
            f"`{name}` must have shape (num_rows, {seq_len}) with num_rows >= 1 to "
            f"match the model input [1, {seq_len}]. Received: {name} with shape "
            f"{array.shape}"
        )
    low, high = int(array.min()), int(array.max())
    limit = vocabulary_size if vocabulary_size is not None else np.iinfo(np.int32).max
    if low < 0 or high >= limit:
        raise ValueError(
            f"`{name}` must hold ids in [0, {limit}) (the embedding has {limit} "
            "rows); encode texts with the model's own vocabulary. Received: "
            f"{name} with ids in [{low}, {high}]"
        )
    return array.astype(np.int32)


def check_input_keys(
    found: Sequence[str],
    expected: Sequence[str],
    *,
    what: str,
    model: str,
    received: str,
    optional: Sequence[str] = (),
) -> None:
    """Raises a ValueError naming the expected and found keys when they differ.

    `optional` keys (`"labels"`) may be present or not.
    """
    found_set = set(found) - set(optional)
    if found_set == set(expected):
        return
    missing = [key for key in expected if key not in found_set]
    extra = sorted(found_set - set(expected))
    details = ", ".join(
        part
        for part in (
            f"missing {missing}" if missing else "",
            f"unexpected {extra}" if extra else "",
        )
        if part
    )
    optional_text = f" (and optionally {list(optional)})" if optional else ""
    raise ValueError(
        f"{what} must hold one array per input of the model {model}: expected keys "
        f"{list(expected)}{optional_text}, found {sorted(found)} ({details}). "
        f"Received: {received}"
    )
