"""Append-only JSON-lines results, one line per finished run, safe to interrupt.

Each run is appended as one JSON object and flushed (and fsync'ed) at once, so the
file is valid after a crash or a kill at any moment: at worst its last line is cut,
and `read_rows` skips a line that does not parse. A run is identified by its key
fields; `finished_keys` tells the runner what to skip when it starts again.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

KEY_FIELDS = ("study", "dataset", "model", "dim", "method", "p", "seed")
"""Fields that identify a run. `p` is None for the uncompressed model."""


def run_key(row: dict, fields: Sequence[str] = KEY_FIELDS) -> tuple:
    """The identity of a run: its key fields, with floats rounded for stability."""
    return tuple(
        round(row.get(f), 6) if isinstance(row.get(f), float) else row.get(f)
        for f in fields
    )


def read_rows(path: os.PathLike[str] | str) -> list[dict]:
    """All complete rows of a JSON-lines file (a cut or corrupt line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("Skipping unreadable line %d of %s.", number, path)
    return rows


def finished_keys(
    path: os.PathLike[str] | str, fields: Sequence[str] = KEY_FIELDS
) -> set[tuple]:
    """Keys (`run_key` over `fields`) of the runs already in the file."""
    return {run_key(row, fields) for row in read_rows(path)}


def append_row(path: os.PathLike[str] | str, row: dict) -> None:
    """Appends one run as a JSON line and forces it to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_jsonable(row), sort_keys=True, allow_nan=False)
    # A previous crash may have left a cut line without its newline: start afresh.
    needs_newline = (
        path.is_file() and path.stat().st_size > 0 and not _ends_in_newline(path)
    )
    with open(path, "a", encoding="utf-8") as file:
        if needs_newline:
            file.write("\n")
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())


def _ends_in_newline(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def _jsonable(value):
    """Plain JSON types: NumPy scalars and arrays become Python, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy scalar or array.
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def missing(keys: Iterable[tuple], done: set[tuple]) -> list[tuple]:
    """The keys not yet done, in order."""
    return [key for key in keys if key not in done]
