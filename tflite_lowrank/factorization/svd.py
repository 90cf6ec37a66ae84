"""Truncated SVD factors and rank rules for embedding tables. Pure NumPy.

A table `W` (`input_dim x output_dim`, V x D) is replaced by two factors,
`embeddings_a = U_k` (V x k) and `embeddings_b = diag(S_k) V_k^T` (k x D), so that
`embeddings_a @ embeddings_b` is the best rank-k approximation of `W` (Eckart-Young).
Its Frobenius error is the tail energy `sqrt(sum_{i >= k} s_i^2)`.

Three ways to get there, all returning the same factors up to signs:

- `"exact"`: LAPACK (`np.linalg.svd`), the reference.
- `"gram"`: eigendecomposition of the D x D Gram matrix `W^T W`, accumulated in
  float64 over row chunks. For tall tables (V >> D) this is the fastest and holds no
  extra copy of the table: a 400k x 300 table takes seconds instead of half a minute.
- `"randomized"`: Halko, Martinsson and Tropp (2011) range finder with power iterations,
  for tables that are both tall and wide and a small rank. Like `"gram"`, it streams
  the table by row chunks and makes no float64 copy of it.

Reference: Acharya et al., "Online Embedding Compression for Text Classification using
Low Rank Matrix Factorization", AAAI 2019. The authors' code slices the wrong right
singular vectors (rows of `V` instead of rows of `V^T`); this module does not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np

from tflite_lowrank.utils.checks import check_compression, check_energy

SVD_METHODS = ("auto", "exact", "gram", "randomized")

# Rows per chunk when streaming the table through float64 (about 64 MB at D = 300).
_CHUNK_ROWS = 1 << 15
# Float32 tables with at least this many entries get their Gram chunks multiplied in
# float32 (sgemm, about 3-4x faster than float64 here; 400k x 300 in ~4 s instead of
# ~15 s on a loaded 2-core machine), still summed in float64 over 32,768-row chunks:
# the relative error of W^T W stays near 1e-7, well below what the factors need.
_FLOAT32_GRAM_MIN_ELEMENTS = 1 << 24
_FLOAT32_CHUNK_ROWS = 1 << 15


def _kept_fraction(rank: int, input_dim: int, output_dim: int) -> float:
    """Fraction of a V x D table's parameters that rank-k factors keep.

    `k (V + D) / (V D)`, the budget of one band and of the banded split alike.
    """
    return rank * (input_dim + output_dim) / (input_dim * output_dim)


def rank_for_compression(input_dim: int, output_dim: int, compression: float) -> int:
    """Rank whose factors remove a fraction `compression` of the table's parameters.

    The table has `V * D` parameters, the factors `k * (V + D)`. The rank is the paper's
    rule `k = floor((1 - p) * V * D / (V + D))`, so the factors hold at most `1 - p` of
    the table's parameters.

    Reference: Acharya et al., AAAI 2019 (`low_rank.py` of the authors' code).

    Args:
        input_dim: Integer. Rows of the table (vocabulary size V).
        output_dim: Integer. Columns of the table (embedding size D).
        compression: Float in (0, 1). Fraction of the table's parameters to remove,
            e.g. `0.9` keeps 10%.

    Returns:
        The rank `k`, an integer `>= 1`.

    Raises:
        ValueError: if a dimension is not a positive integer, `compression` is not in
            (0, 1), or the compression is so high that the rank would be 0.

    Example:

    >>> rank_for_compression(10_000, 300, 0.9)
    29
    """
    _check_positive_int("input_dim", input_dim)
    _check_positive_int("output_dim", output_dim)
    check_compression(compression)
    exact = (1.0 - compression) * input_dim * output_dim / (input_dim + output_dim)
    # A tiny tolerance keeps exact integers stable against round-off (28.9999999999).
    rank = math.floor(exact + 1e-9)
    if rank < 1:
        raise ValueError(
            f"`compression={compression}` leaves less than one rank for a "
            f"{input_dim} x {output_dim} table (rank {exact:.3f}). Use a smaller "
            f"compression. Received: compression={compression}, "
            f"input_dim={input_dim}, output_dim={output_dim}"
        )
    return rank


def rank_for_energy(
    singular_values: Sequence[float] | np.ndarray, energy: float
) -> int:
    """Smallest rank whose factors keep a fraction `energy` of the squared spectrum.

    Returns the smallest `k` with `sum(s[:k]**2) >= energy * sum(s**2)`, so that the
    relative Frobenius error of the rank-k approximation is at most `sqrt(1 - energy)`.

    Args:
        singular_values: 1-D array of non-negative singular values (any order).
        energy: Float in (0, 1]. Fraction of the squared Frobenius norm to keep.

    Returns:
        The rank, an integer `>= 1`.

    Raises:
        ValueError: if `energy` is not in (0, 1] or the singular values are empty,
            negative, not finite or all zero.

    Example:

    >>> rank_for_energy([3.0, 2.0, 1.0], 0.9)
    2
    """
    check_energy(energy)
    values = np.asarray(singular_values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            "`singular_values` must be a non-empty 1-D array. "
            f"Received: singular_values with shape {values.shape}"
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            "`singular_values` must be finite and non-negative. "
            f"Received: singular_values={values[:8]}..."
        )
    squared = np.sort(values)[::-1] ** 2
    total = squared.sum()
    if total == 0.0:
        raise ValueError(
            "`singular_values` are all zero: the table has no energy to keep. "
            f"Received: singular_values={values[:8]}..."
        )
    kept = np.cumsum(squared) / total
    # Guard against round-off so that energy=1.0 selects the full rank, not beyond it.
    rank = int(np.searchsorted(kept, energy - 1e-12, side="left")) + 1
    return min(rank, values.size)


def singular_values(matrix: np.ndarray, method: str = "auto") -> np.ndarray:
    """All singular values of `matrix`, largest first, as float64.

    Args:
        matrix: 2-D array.
        method: String. `"exact"` (LAPACK), `"gram"` (eigenvalues of the Gram matrix)
            or `"auto"` (`"gram"` for tall tables). Defaults to `"auto"`.

    Returns:
        1-D float64 array of length `min(matrix.shape)`.

    Example:

    >>> singular_values(np.diag([3.0, 1.0, 2.0])).tolist()
    [3.0, 2.0, 1.0]
    """
    matrix = _check_matrix(matrix)
    method = _resolve_method(method, matrix.shape, rank=None)
    if method == "gram":
        eigenvalues, _ = _gram_eigh(matrix)
        return np.sqrt(np.clip(eigenvalues, 0.0, None))
    return np.linalg.svd(matrix.astype(np.float64, copy=False), compute_uv=False)


def truncated_svd(
    matrix: np.ndarray,
    rank: int,
    method: str = "auto",
    *,
    balanced: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Best rank-`rank` factors of a table: `A = U_k`, `B = diag(S_k) V_k^T`.

    `A @ B` is the best rank-k approximation of `matrix` in the Frobenius and spectral
    norms; its Frobenius error equals the tail energy `sqrt(sum_{i >= k} s_i^2)`.

    Args:
        matrix: 2-D array (V x D), e.g. a trained embedding table.
        rank: Integer in `[1, min(V, D)]`.
        method: String, one of `"auto"`, `"exact"`, `"gram"`, `"randomized"`.
            `"auto"` takes `"gram"` for tall tables (V >= 4 D, D <= 4096), `"exact"`
            for small ones and `"randomized"` otherwise. Defaults to `"auto"`.
        balanced: Boolean. If `True`, split the singular values evenly,
            `A = U_k sqrt(S_k)` and `B = sqrt(S_k) V_k^T` (same product). Defaults to
            `False`, the paper's split with all of Σ in `B`.
        seed: Integer. Seed of the random test matrix for `"randomized"`.

    Returns:
        A tuple `(embeddings_a, embeddings_b)` of shapes (V x k) and (k x D), in the
        input's floating dtype (float32 for integer input).

    Raises:
        ValueError: for a matrix that is not 2-D and finite, a rank out of range or an
            unknown method.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> table = rng.standard_normal((100, 8)).astype("float32")
    >>> a, b = truncated_svd(table, rank=3)
    >>> a.shape, b.shape
    ((100, 3), (3, 8))
    """
    matrix = _check_matrix(matrix)
    max_rank = min(matrix.shape)
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer):
        raise TypeError(
            f"`rank` must be an integer. Received: rank={rank!r} (of type {type(rank)})"
        )
    if not 1 <= rank <= max_rank:
        raise ValueError(
            f"`rank` must be in [1, {max_rank}] for a {matrix.shape[0]} x "
            f"{matrix.shape[1]} matrix. Received: rank={rank}"
        )
    rank = int(rank)
    method = _resolve_method(method, matrix.shape, rank=rank)
    if method == "gram":
        u, s, vt = _svd_gram(matrix, rank)
    elif method == "randomized":
        u, s, vt = _svd_randomized(matrix, rank, seed=seed)
    else:
        u, s, vt = np.linalg.svd(matrix.astype(np.float64, copy=False), False)
        u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    signs = _sign_flips(vt)
    out_dtype = matrix.dtype if np.issubdtype(matrix.dtype, np.floating) else "float32"
    a_scale = signs * np.sqrt(s) if balanced else signs
    b_scale = signs * np.sqrt(s) if balanced else signs * s
    # Scale U straight into the output dtype: no second V x k float64 array.
    embeddings_a = np.empty(u.shape, dtype=out_dtype)
    np.multiply(u, a_scale[None, :], out=embeddings_a, casting="same_kind")
    embeddings_b = (b_scale[:, None] * vt).astype(out_dtype)
    return embeddings_a, embeddings_b


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def _check_matrix(matrix) -> np.ndarray:
    array = np.asarray(matrix)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(
            "`matrix` must be a non-empty 2-D array (input_dim x output_dim). "
            f"Received: matrix with shape {array.shape}"
        )
    is_real = np.issubdtype(array.dtype, np.floating) or np.issubdtype(
        array.dtype, np.integer
    )
    if not is_real:
        raise TypeError(
            "`matrix` must hold real numbers. "
            f"Received: matrix with dtype {array.dtype}"
        )
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(
            "`matrix` must be finite: it holds NaN or infinite values. "
            "Received: a matrix with non-finite entries"
        )
    return array


def _resolve_method(method: str, shape: tuple[int, int], rank: int | None) -> str:
    if method not in SVD_METHODS:
        raise ValueError(
            f"`method` must be one of {SVD_METHODS}. Received: method={method!r}"
        )
    if method != "auto":
        return method
    rows, cols = shape
    if rows >= 4 * cols and cols <= 4096:
        return "gram"
    if rows * cols <= 4_000_000 or rank is None or rank > min(shape) // 4:
        return "exact"
    return "randomized"


def _work_dtype(matrix: np.ndarray):
    """float32 for large float32 tables (fast sgemm chunks), float64 otherwise."""
    if matrix.dtype == np.float32 and matrix.size >= _FLOAT32_GRAM_MIN_ELEMENTS:
        return np.float32, _FLOAT32_CHUNK_ROWS
    return np.float64, _CHUNK_ROWS


_GRAM_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] | None = None
"""`_gram_eigh` results while `reuse_gram_decompositions()` is active, else None."""


@contextlib.contextmanager
def reuse_gram_decompositions():
    """Within the block, `_gram_eigh` of the same array view is computed once.

    The banded split needs each band's spectrum twice (to allocate the ranks, then
    for the factors); the Gram matrix of a 300k x 300 band costs seconds. Keyed by
    the view's memory address, shape, strides and dtype: the arrays must not change
    inside the block.
    """
    global _GRAM_CACHE
    previous, _GRAM_CACHE = _GRAM_CACHE, {}
    try:
        yield
    finally:
        _GRAM_CACHE = previous


def _gram_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors of `W^T W`, accumulated in float64."""
    if _GRAM_CACHE is None:
        return _compute_gram_eigh(matrix)
    key = (
        matrix.__array_interface__["data"][0],
        matrix.shape,
        matrix.strides,
        matrix.dtype.str,
    )
    if key not in _GRAM_CACHE:
        _GRAM_CACHE[key] = _compute_gram_eigh(matrix)
    return _GRAM_CACHE[key]


def _compute_gram_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cols = matrix.shape[1]
    gram = np.zeros((cols, cols), dtype=np.float64)
    dtype, chunk_rows = _work_dtype(matrix)
    for start in range(0, matrix.shape[0], chunk_rows):
        chunk = matrix[start : start + chunk_rows].astype(dtype, copy=False)
        gram += chunk.T @ chunk
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:, order]


def _svd_gram(matrix: np.ndarray, rank: int):
    eigenvalues, eigenvectors = _gram_eigh(matrix)
    s = np.sqrt(np.clip(eigenvalues[:rank], 0.0, None))
    v = eigenvectors[:, :rank]
    # U_k = W V_k / s_k, chunk by chunk; a zero singular value gets a zero column.
    inverse = np.divide(1.0, s, out=np.zeros_like(s), where=s > s[0] * 1e-12)
    projection = v * inverse[None, :]
    dtype, chunk_rows = _work_dtype(matrix)
    projection = projection.astype(dtype)
    u = np.empty((matrix.shape[0], rank), dtype=np.float64)
    for start in range(0, matrix.shape[0], chunk_rows):
        chunk = matrix[start : start + chunk_rows].astype(dtype, copy=False)
        u[start : start + chunk_rows] = chunk @ projection
    return u, s, v.T


def _svd_randomized(matrix: np.ndarray, rank: int, *, seed: int, power_iters: int = 4):
    rows, cols = matrix.shape
    sketch = min(rank + max(10, rank // 2), min(rows, cols))
    rng = np.random.default_rng(seed)
    # Products with the table go by row chunks in float64, so that no float64 copy
    # of the whole table is made (at most one table-sized buffer: the input).
    basis, _ = np.linalg.qr(_times(matrix, rng.standard_normal((cols, sketch))))
    for _ in range(power_iters):
        left, _ = np.linalg.qr(_transposed_times(matrix, basis))
        basis, _ = np.linalg.qr(_times(matrix, left))
    small = _transposed_times(matrix, basis).T  # basis^T W, sketch x cols
    u_small, s, vt = np.linalg.svd(small, full_matrices=False)
    return (basis @ u_small[:, :rank]), s[:rank], vt[:rank]


def _times(matrix: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`matrix @ right` in float64, by row chunks of `matrix`."""
    out = np.empty((matrix.shape[0], right.shape[1]), dtype=np.float64)
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        chunk = matrix[start : start + _CHUNK_ROWS].astype(np.float64, copy=False)
        out[start : start + _CHUNK_ROWS] = chunk @ right
    return out


def _transposed_times(matrix: np.ndarray, left: np.ndarray) -> np.ndarray:
    """`matrix.T @ left` in float64, accumulated over row chunks of `matrix`."""
    out = np.zeros((matrix.shape[1], left.shape[1]), dtype=np.float64)
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        chunk = matrix[start : start + _CHUNK_ROWS].astype(np.float64, copy=False)
        out += chunk.T @ left[start : start + _CHUNK_ROWS]
    return out


def _sign_flips(vt: np.ndarray) -> np.ndarray:
    """Signs (+-1 per component) that make each row of V^T's largest entry positive.

    Applied to both factors, they make the factors deterministic (the SVD is unique
    only up to the sign of each pair of singular vectors).
    """
    pivots = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), pivots])
    signs[signs == 0] = 1.0
    return signs
