"""Private argument checks shared by the package's modules.

Each check raises with the house message: what is wrong, then
``Received: name=value``. Pure Python and NumPy; no Keras, no TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def check_int(
    name: str, value: object, *, minimum: int, allow_numpy: bool = True
) -> None:
    """Raises unless `value` is an integer (not a bool) that is `>= minimum`."""
    integer_types = int | np.integer if allow_numpy else int
    if isinstance(value, bool) or not isinstance(value, integer_types):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")


def check_bool(name: str, value: object) -> None:
    """Raises unless `value` is `True` or `False`."""
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be a bool. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )


def check_path(name: str, value: object) -> Path:
    """Returns `value` as a `Path`; raises unless it is a str or path-like."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"`{name}` must be a path-like. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return Path(value)


def check_dir(name: str, value: object) -> Path:
    """Returns `value` as a `Path`; raises unless it names an existing folder."""
    path = check_path(name, value)
    if not path.is_dir():
        raise FileNotFoundError(
            f"`{name}` must be an existing folder. Received: {name}={str(path)!r}"
        )
    return path
