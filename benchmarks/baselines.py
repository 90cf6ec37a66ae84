"""The paper's baselines that need no training framework: pure NumPy.

- `quantize_rows`: post-training uniform (affine) quantization of a trained embedding
  table, one scale and one offset per row, to 8, 4 or 2 bits. It is "fixed-point
  quantization" done properly: the authors' `quantization.py` does not run (paper.md
  §6), so their bit widths are unknown; per-row min/max is the usual strong variant.
- `offline_svd_table`: the offline baseline. The pretrained (GloVe) table is reduced
  to `k'` dimensions by SVD *before* training, and a normal model is trained on the
  smaller table. The authors kept `U_k` only (singular values dropped); the default
  here is the fairer `U_k S_k` (the projection of each word on the top-k right
  singular vectors), which keeps the scale of the vectors.
- `offline_dim_for_compression`: the `k'` that gives the same parameter budget as the
  online factors, `k' = floor((1 - p) * D)` (the paper's rule).

Nothing here imports Keras or TensorFlow, so the tests of these functions are fast.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tflite_lowrank.factorization import truncated_svd

QUANTIZATION_BITS = (8, 4, 2)
"""Bit widths of the post-training quantization baseline."""

OFFLINE_SCALINGS = ("us", "u")
"""`"us"`: `U_k S_k` (default, fair); `"u"`: `U_k` only, as in the authors' code."""

# Per-row scale and offset are stored as float32: 8 bytes per row.
_ROW_OVERHEAD_BYTES = 8


@dataclasses.dataclass(frozen=True)
class QuantizedTable:
    """A table quantized row by row: `table ~ offsets + codes * scales`.

    Args:
        codes: uint8 array (V x D). Integer codes in `[0, 2**bits - 1]`.
        scales: float32 array (V,). Step size of each row (0 for a constant row).
        offsets: float32 array (V,). Minimum of each row.
        bits: int. Bits per code.
    """

    codes: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray
    bits: int

    def dequantize(self) -> np.ndarray:
        """Returns the float32 table the codes stand for."""
        return (
            self.offsets[:, None] + self.codes.astype(np.float32) * self.scales[:, None]
        ).astype(np.float32)

    @property
    def num_bytes(self) -> int:
        """Storage with codes bit-packed per row plus a float32 scale and offset."""
        rows, cols = self.codes.shape
        return rows * (math.ceil(cols * self.bits / 8) + _ROW_OVERHEAD_BYTES)

    def to_dict(self) -> dict:
        """Shape, bit width and size (not the arrays)."""
        return {
            "shape": list(self.codes.shape),
            "bits": self.bits,
            "num_bytes": self.num_bytes,
        }


def quantize_rows(table: np.ndarray, bits: int) -> QuantizedTable:
    """Uniform affine quantization of each row of `table` to `bits` bits.

    Row `r` gets `offset = min(row)`, `scale = (max(row) - min(row)) / (2**bits - 1)`
    and codes `round((row - offset) / scale)`. Every entry is reconstructed within
    `scale / 2` (plus float32 round-off), and the row's minimum and maximum exactly
    up to round-off. A constant row has scale 0 and is reconstructed exactly.

    Args:
        table: 2-D float array (V x D).
        bits: int in [1, 8].

    Returns:
        A `QuantizedTable`.

    Raises:
        ValueError: if `table` is not a finite 2-D array or `bits` is out of range.

    Example:

    >>> table = np.array([[0.0, 0.5, 1.0], [2.0, 2.0, 2.0]], dtype="float32")
    >>> quantize_rows(table, bits=2).dequantize().tolist()
    [[0.0, 0.6666666865348816, 1.0], [2.0, 2.0, 2.0]]
    """
    table = np.asarray(table)
    if table.ndim != 2 or not np.issubdtype(table.dtype, np.floating):
        raise ValueError(
            "`table` must be a 2-D float array. "
            f"Received: table with shape {table.shape} and dtype {table.dtype}"
        )
    if not np.all(np.isfinite(table)):
        raise ValueError("`table` must be finite. Received: a table with NaN or inf")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(
            f"`bits` must be an integer in [1, 8]. Received: bits={bits!r}"
        )
    work = table.astype(np.float64)
    low = work.min(axis=1)
    high = work.max(axis=1)
    levels = 2**bits - 1
    scales = (high - low) / levels
    safe = np.where(scales > 0, scales, 1.0)
    codes = np.rint((work - low[:, None]) / safe[:, None])
    codes = np.clip(codes, 0, levels).astype(np.uint8)
    return QuantizedTable(
        codes=codes,
        scales=scales.astype(np.float32),
        offsets=low.astype(np.float32),
        bits=bits,
    )


def offline_dim_for_compression(output_dim: int, compression: float) -> int:
    """Width `k'` of the offline-reduced table at compression `p`: `floor((1-p) D)`.

    Gives `V * k' <= (1 - p) * V * D` parameters, the online method's budget (which
    is `k (V + D) <= (1 - p) V D`).

    Example:

    >>> offline_dim_for_compression(50, 0.9)
    5
    """
    if not 0.0 < compression < 1.0:
        raise ValueError(
            f"`compression` must be in (0, 1). Received: compression={compression}"
        )
    dim = math.floor((1.0 - compression) * output_dim + 1e-9)
    if dim < 1:
        raise ValueError(
            f"`compression={compression}` leaves no dimension of {output_dim}. "
            f"Received: compression={compression}, output_dim={output_dim}"
        )
    return dim


def offline_svd_table(table: np.ndarray, dim: int, scaling: str = "us") -> np.ndarray:
    """Reduces a pretrained table to `dim` columns with a truncated SVD.

    Args:
        table: 2-D float array (V x D), e.g. the GloVe rows of the vocabulary.
        dim: int in [1, D]. Width of the reduced table.
        scaling: `"us"` for `U_k S_k` (each row projected on the top right singular
            vectors; keeps the norms), or `"u"` for `U_k` only, as the authors'
            code does (unit-norm columns, tiny entries). Defaults to `"us"`.

    Returns:
        float32 array (V x dim).

    Example:

    >>> table = np.diag([3.0, 2.0, 1.0]).astype("float32")
    >>> np.abs(offline_svd_table(table, 2)).tolist()
    [[3.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    """
    if scaling not in OFFLINE_SCALINGS:
        raise ValueError(
            f"`scaling` must be one of {OFFLINE_SCALINGS}. "
            f"Received: scaling={scaling!r}"
        )
    u, sv = truncated_svd(np.asarray(table, dtype=np.float32), dim)
    if scaling == "u":
        return u.astype(np.float32)
    # B = diag(S_k) V_k^T has orthogonal rows of norm s_i, so U_k S_k = A * |B_i|.
    return (u * np.linalg.norm(sv, axis=1)[None, :]).astype(np.float32)


def float_table_bytes(rows: int, cols: int, bytes_per_value: int = 4) -> int:
    """Bytes of a dense table: `rows * cols * bytes_per_value`."""
    return rows * cols * bytes_per_value
