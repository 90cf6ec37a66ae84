"""The grids a converted file stores factor codes on, for quantization-aware training.

- `"int8_rows"`, `"int4_rows"`: one scale per row, `max|row| / 127` (stored as
  float32) or `max|row| / 7` (stored as float16), levels `rint(row / scale)` in
  `[-127, 127]` or `[-7, 7]`; an all-zero row gets the scale 1, and so does a row
  whose 4-bit scale rounds to 0 in float16 (`max|row|` below about 4e-7: it is
  stored as zeros); a float16 scale is at most 65,504. LiteRT's
  `EMBEDDING_LOOKUP` reads such tables (`tflite_lowrank.export.native_lookup`).
- `"int4"`: one float32 scale per column of a table, levels in `[-7, 7]`
  (`tflite_lowrank.export.int4`; its scale may clip below `max|column| / 7`, and
  for codes already on a grid it keeps that grid).

The factorized layers' quantization-aware training (`code_quantization=`) rounds
their codes to the grid of one mode, so a file written in that mode reads the
values the Keras model trained with.
"""

from __future__ import annotations

import numpy as np

CODE_QUANTIZATION = ("int8_rows", "int4_rows", "int4")
"""The `convert_to_tflite(quantization=...)` modes codes can train for."""
ROW_QUANTIZATION = {"int8_rows": 8, "int4_rows": 4}
"""Per-row modes -> bits of the codes."""
LEVELS = {8: 127, 4: 7}
"""Bits -> the largest level (symmetric: levels in `[-top, top]`)."""
FLOAT16_MAX = 65504.0
"""The largest finite float16: the largest 4-bit row scale."""


def check_code_quantization(value, name: str = "code_quantization") -> str | None:
    """`value` if it is `None` or one of `CODE_QUANTIZATION`; raises otherwise.

    >>> check_code_quantization("int4_rows"), check_code_quantization(None)
    ('int4_rows', None)
    """
    if value is None:
        return None
    if not isinstance(value, str) or value not in CODE_QUANTIZATION:
        raise ValueError(
            f"`{name}` must be None or one of {CODE_QUANTIZATION} (the "
            "convert_to_tflite mode whose grid the codes train on). "
            f"Received: {name}={value!r}"
        )
    return value


def row_scales(values: np.ndarray, bits: int) -> np.ndarray:
    """The per-row scales, in the dtype the file stores them in (float32, float16).

    >>> row_scales(np.array([[0.5, -1.0], [0.0, 0.0], [1e-8, 0.0]]), 4).tolist()
    [0.142822265625, 1.0, 1.0]
    """
    top = LEVELS[bits]
    peak = np.abs(values).max(axis=1).astype(np.float64)
    scales = np.where(peak > 0, peak / top, 1.0)
    if bits == 8:
        return scales.astype(np.float32)
    scales = np.minimum(scales, FLOAT16_MAX).astype(np.float16)
    return np.where(scales > 0, scales, np.float16(1.0))


def quantize_rows(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row levels and scales: `values ~= levels * scales[:, None]`.

    >>> levels, scales = quantize_rows(np.array([[0.5, -1.0], [0.0, 0.0]]), 4)
    >>> levels.tolist(), scales.dtype.name
    ([[4, -7], [0, 0]], 'float16')
    """
    top = LEVELS[bits]
    scales = row_scales(values, bits)
    levels = np.clip(np.rint(values / scales.astype(np.float64)[:, None]), -top, top)
    return levels.astype(np.int8), scales


def dequantize_codes(values: np.ndarray, mode: str) -> np.ndarray:
    """`values` (a 2-D code table) rounded to the grid of `mode`, as float32.

    >>> dequantize_codes(np.array([[0.5, -1.0]], dtype="float32"), "int4_rows")
    array([[ 0.57128906, -0.99975586]], dtype=float32)
    >>> dequantize_codes(np.array([[0.6], [-1.0]], dtype="float32"), "int4").ravel()
    array([ 0.5714286, -1.       ], dtype=float32)
    """
    values = np.asarray(values, dtype=np.float32)
    if mode in ROW_QUANTIZATION:
        levels, scales = quantize_rows(values, ROW_QUANTIZATION[mode])
        return levels.astype(np.float32) * scales.astype(np.float32)[:, None]
    if mode != "int4":
        raise ValueError(
            f"`mode` must be one of {CODE_QUANTIZATION}. Received: mode={mode!r}"
        )
    peak = np.abs(values).max(axis=0, initial=0.0)
    scales = np.where(peak > 0, peak / np.float32(LEVELS[4]), np.float32(1.0))
    levels = np.clip(np.rint(values / scales), -LEVELS[4], LEVELS[4])
    return (levels * scales).astype(np.float32)
