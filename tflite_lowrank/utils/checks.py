"""Private argument checks shared by the package's modules.

Each check raises with the house message: what is wrong, then
``Received: name=value``. Pure Python and NumPy; no Keras, no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def check_int(
    name: str, value: object, *, minimum: int, maximum: int | None = None, why: str = ""
) -> int:
    """Returns `value` as an `int`; raises unless it is an integer `>= minimum` (and
    `<= maximum`, when given; `why` follows the bound in the message).

    Python and NumPy integers are accepted (`np.int64(3)`), bools are not.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")
    if maximum is not None and value > maximum:
        raise ValueError(
            f"`{name}` must be <= {maximum}{why}. Received: {name}={value}"
        )
    return int(value)


def check_fraction(
    name: str, value: object, *, closed: bool = False, meaning: str = ""
) -> float:
    """Returns `value` as a float; raises unless it is a number in (0, 1).

    The interval is (0, 1], `1` included, when `closed`. Python and NumPy integers
    and floats are accepted (`np.float32(0.9)`), bools are not. `meaning` follows the
    interval in the range message (e.g. "the fraction of ... to remove").
    """
    interval = "(0, 1]" if closed else "(0, 1)"
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"`{name}` must be a float in {interval}. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    inside = 0.0 < value <= 1.0 if closed else 0.0 < value < 1.0
    if not inside:
        detail = f": {meaning}" if meaning else ""
        raise ValueError(
            f"`{name}` must be in {interval}{detail}. Received: {name}={value}"
        )
    return float(value)


def check_compression(value: object, *, name: str = "compression") -> float:
    """Returns `compression` as a float; raises unless it is a number in (0, 1).

    The one check of a `compression` argument (`rank_for_compression`,
    `EmbeddingFactorization`, `run_demo`).
    """
    return check_fraction(
        name,
        value,
        meaning="the fraction of the embedding's parameters to remove, e.g. 0.9",
    )


def check_energy(value: object, *, name: str = "energy") -> float:
    """Returns `energy` as a float; raises unless it is a number in (0, 1]."""
    return check_fraction(
        name,
        value,
        closed=True,
        meaning="the fraction of the squared spectrum to keep",
    )


def check_bool(name: str, value: object) -> None:
    """Raises unless `value` is `True` or `False`."""
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be a bool. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )


def check_path(name: str, value: object) -> Path:
    """Returns `value` as a `Path`; raises unless it is a str or path-like that the
    system can look up (a name too long for it is a ValueError, not an OSError)."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"`{name}` must be a path-like. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    path = Path(value)
    try:
        path.exists()
    except OSError as error:  # ENAMETOOLONG, or a name the system refuses
        raise ValueError(path_message(name, path, error)) from None
    return path


def path_message(name: str, path: object, error: OSError) -> str:
    """The message for a path the system refuses or cannot read (`error`); a very
    long path is shortened."""
    text = str(path)
    shown = repr(text) if len(text) <= 200 else f"{text[:80]!r}...({len(text)} chars)"
    return (
        f"`{name}` cannot be used: {error.strerror or error}. Received: {name}={shown}"
    )


def check_dir(name: str, value: object) -> Path:
    """Returns `value` as a `Path`; raises unless it names an existing folder."""
    path = check_path(name, value)
    if not path.is_dir():
        raise FileNotFoundError(
            f"`{name}` must be an existing folder. Received: {name}={str(path)!r}"
        )
    return path


def python_number(value: object) -> object:
    """`value` as a Python `int` or `float` if it is a NumPy one, else unchanged.

    Lets the checks and the stored configuration (`get_config`, JSON) see
    `np.int64(3)` as `3` and `np.float32(0.9)` as `0.9` (its float value).
    """
    if isinstance(value, np.bool_):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def check_texts(texts: Iterable[str]) -> list[str]:
    """`texts` as a list; TypeError for a single string or a non-string item."""
    if isinstance(texts, str | bytes):
        raise TypeError(
            "`texts` must be an iterable of strings, not a single string; wrap it "
            f"in a list. Received: texts={texts[:50]!r}"
        )
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                "`texts` must contain only strings. "
                f"Received: texts[{position}]={text!r} (of type {type(text).__name__})"
            )
    return texts
