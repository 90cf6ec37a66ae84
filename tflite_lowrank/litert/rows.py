"""Checking the rows fed to a model with several token-id inputs.

`check_input_rows` checks a dict of token-id arrays keyed by input name against the
inputs of a model (the Keras model being converted, or a `.tflite` file with several
inputs), with `flatbuffer.check_token_ids` for each array. Imports NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tflite_lowrank.litert.flatbuffer import check_token_ids


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
