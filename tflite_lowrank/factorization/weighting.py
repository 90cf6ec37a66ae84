"""Task-weighted truncated SVD: factors that keep what the loss reads. Pure NumPy.

The plain truncated SVD minimizes `||W - A B||_F`: every direction of the embedding
space counts as much as every other, so at a small rank it keeps the directions of
largest variance (for a table initialized from GloVe, mostly the general-purpose
semantics of the pretrained vectors) and can drop the small directions a classifier
was trained to read (e.g. sentiment). Given the covariance `C` (D x D) of the loss
gradient with respect to the embedding rows, measured on a few training batches
(`calibration.gradient_covariance`), the weighted factors minimize the second-order
estimate of the loss increase instead, `||(W - A B) C^{1/2}||_F`: the truncated SVD of
`W C^{1/2}`, mapped back with `C^{-1/2}`. This is the output-side counterpart of
activation- and Fisher-weighted low-rank compression (Hsu et al., "Language model
compression with weighted low-rank factorization", ICLR 2022; Yuan et al., "ASVD",
2023), applied per frequency band.

The result has the paper's form, `A` with orthonormal columns and `B = diag(S) V^T`
with orthogonal rows, so the layers, the converter and folding treat it like the plain
factors.
"""

from __future__ import annotations

import numpy as np

from tflite_lowrank.factorization.svd import _CHUNK_ROWS

# Every direction keeps this share of the mean gradient energy: directions the
# calibration batches never moved still matter a little once retraining starts.
# (1e-2 was the only value measured: benchmarks/calibration_probe.md.)
RIDGE = 1e-2


def metric_roots(covariance: np.ndarray, ridge: float = RIDGE):
    """`(C^{1/2}, C^{-1/2})` of `C + ridge * mean(diag C) * I`, in float64.

    Args:
        covariance: Array `(D, D)`, symmetric positive semi-definite, not all zero.
        ridge: Float >= 0. Share of the mean diagonal added to every direction.

    Returns:
        The symmetric square root of the regularized metric and its inverse.

    Raises:
        ValueError: for a matrix that is not square, not finite, or zero.
    """
    c = np.asarray(covariance, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(
            "`covariance` must be a square (D, D) matrix. "
            f"Received: covariance with shape {c.shape}"
        )
    if not np.all(np.isfinite(c)):
        raise ValueError("`covariance` must be finite. Received: NaN or inf entries")
    scale = float(np.trace(c)) / c.shape[0]
    if not scale > 0.0:
        raise ValueError(
            "`covariance` is zero: the calibration batches gave the table no "
            f"gradient. Received: trace {np.trace(c)!r}"
        )
    c = 0.5 * (c + c.T) + ridge * scale * np.eye(c.shape[0])
    eigenvalues, vectors = np.linalg.eigh(c)
    eigenvalues = np.clip(eigenvalues, ridge * scale * 1e-6, None)
    root = (vectors * np.sqrt(eigenvalues)) @ vectors.T
    inverse_root = (vectors / np.sqrt(eigenvalues)) @ vectors.T
    return root, inverse_root


def unweight(a: np.ndarray, b_weighted: np.ndarray, inverse_root: np.ndarray):
    """Maps factors of `W C^{1/2}` back to factors of `W`, in the paper's form.

    `a` has orthonormal columns (a truncated SVD's `U_k`); `b_weighted C^{-1/2}` is
    rotated by its own SVD so that the returned `b` is `diag(S) V^T` with
    orthonormal `V` and `a` keeps orthonormal columns. The product is unchanged.
    """
    b = b_weighted.astype(np.float64) @ inverse_root
    u, s, vt = np.linalg.svd(b, full_matrices=False)
    # The sign of each pair is free: make each row of `vt` have a positive largest
    # entry, as `truncated_svd` does, so the result is deterministic.
    signs = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1.0
    new_a = (a.astype(np.float64) @ u) * signs
    new_b = (s * signs)[:, None] * vt
    return new_a.astype(a.dtype), new_b.astype(a.dtype)


def weighted_error(table: np.ndarray, a: np.ndarray, b: np.ndarray, root) -> float:
    """`||(W - A B) C^{1/2}||_F`, the quantity the weighted factors minimize."""
    residual = np.asarray(table, dtype=np.float64) - a.astype(np.float64) @ b
    return float(np.linalg.norm(residual @ root))


def relative_error(table: np.ndarray, pairs, slices) -> float:
    """`||W - A B||_F / ||W||_F` over bands, without forming the V x D product.

    With orthonormal `a`: `||W_i - a_i b_i||^2 = ||W_i||^2 - 2 <a_i^T W_i, b_i> +
    ||b_i||^2`. `||W_i||^2` and `a_i^T W_i` (k x D) are summed over row chunks in
    float64, so no float64 copy of a band is made.
    """
    squared_error = squared_norm = 0.0
    for band, (a, b) in zip(slices, pairs, strict=True):
        norm = 0.0
        projected = np.zeros(b.shape, dtype=np.float64)
        for start in range(band.start, band.stop, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, band.stop)
            rows = np.asarray(table[start:stop], dtype=np.float64)
            norm += float(np.vdot(rows, rows))
            chunk = a[start - band.start : stop - band.start].astype(np.float64)
            projected += chunk.T @ rows
        b64 = b.astype(np.float64)
        squared_error += max(
            norm - 2.0 * float(np.vdot(projected, b64)) + float(np.vdot(b64, b64)),
            0.0,
        )
        squared_norm += norm
    return float(np.sqrt(squared_error / squared_norm)) if squared_norm else 0.0
