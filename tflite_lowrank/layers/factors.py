"""The factors `EmbeddingFactorization` installs: the paper's single SVD or bands.

`plan_factors` turns the trained table into a `Factors` (what to install and what it
costs), `install_factors` swaps the layer in place. With `bands=1` (the paper) the
table becomes a `LowRankEmbedding` of one rank; with more bands it becomes a
`BandedLowRankEmbedding` whose frequent-word bands get more rank within the same
parameter budget (`bands.allocate_band_ranks`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tflite_lowrank.factorization.band_ranks import allocate_band_ranks, resolve_bands
from tflite_lowrank.factorization.bands import band_slices, banded_svd
from tflite_lowrank.factorization.svd import (
    _kept_fraction,
    reuse_gram_decompositions,
    singular_values,
    truncated_svd,
)
from tflite_lowrank.factorization.weighting import (
    metric_roots,
    relative_error,
    unweight,
)
from tflite_lowrank.layers.swap import (
    _factorize_banded_in_place,
    _factorize_in_place,
    _relative_error,
)


@dataclasses.dataclass(frozen=True)
class Factors:
    """Factor pairs for one table, with the band layout they were computed for.

    Attributes:
        pairs: `(a_i, b_i)` per band (one pair for the paper's split).
        boundaries: First id of every band but the first (empty for one band).
        relative_error: `||W - A B||_F / ||W||_F` of the whole table.
    """

    pairs: tuple[tuple[np.ndarray, np.ndarray], ...]
    boundaries: tuple[int, ...]
    relative_error: float

    @property
    def ranks(self) -> tuple[int, ...]:
        return tuple(int(a.shape[1]) for a, _ in self.pairs)

    @property
    def num_parameters(self) -> int:
        return sum(a.size + b.size for a, b in self.pairs)


def plan_factors(
    table: np.ndarray,
    *,
    rank: int,
    bands,
    token_counts,
    svd_method: str = "auto",
    balanced: bool = False,
    gradient_covariance: np.ndarray | None = None,
) -> Factors:
    """The truncated-SVD factors of `table` for a budget of `rank * (V + D)`.

    `bands=1` gives the paper's rank-`rank` factors; otherwise the same parameter
    budget is shared by frequency bands (`allocate_band_ranks`, driven by the
    table's own per-band spectra and `token_counts`). With a `gradient_covariance`
    (D x D, `calibration.gradient_covariance`), the factors (and the band ranks) are
    those of `W C^{1/2}`, mapped back (`weighting`): they minimize
    `||(W - A B) C^{1/2}||_F` instead of `||W - A B||_F`.
    """
    if gradient_covariance is not None:
        return _weighted_factors(
            table,
            rank=rank,
            bands=bands,
            token_counts=token_counts,
            svd_method=svd_method,
            covariance=gradient_covariance,
        )
    input_dim, output_dim = table.shape
    bands = resolve_bands(bands, input_dim, output_dim, rank)
    if isinstance(bands, int) and bands == 1:
        a, b = truncated_svd(table, rank, svd_method, balanced=balanced)
        return Factors(((a, b),), (), _relative_error(table, a, b))
    # The same parameter count as the single-band rank: `compression` then means
    # the fraction of the table's parameters removed, for both layouts.
    compression = 1.0 - _kept_fraction(rank, input_dim, output_dim)
    with reuse_gram_decompositions():  # each band's Gram matrix once, not twice
        allocation = allocate_band_ranks(
            input_dim,
            output_dim,
            compression,
            bands=bands,
            token_counts=token_counts,
            table=table,
        )
        pairs = banded_svd(
            table, allocation.boundaries, allocation.ranks, method=svd_method
        )
        # Each band's error is its tail energy (exact for truncated SVD factors),
        # from the spectra the allocation already computed.
        squared_error = squared_norm = 0.0
        for band, (a, _) in zip(
            band_slices(input_dim, allocation.boundaries), pairs, strict=True
        ):
            energy = singular_values(table[band]) ** 2
            squared_norm += float(energy.sum())
            squared_error += float(energy[a.shape[1] :].sum())
    error = math.sqrt(squared_error / squared_norm) if squared_norm else 0.0
    return Factors(tuple(pairs), allocation.boundaries, error)


def _weighted_factors(table, *, rank, bands, token_counts, svd_method, covariance):
    root, inverse_root = metric_roots(covariance)
    weighted = table @ root.astype(table.dtype)
    plan = plan_factors(
        weighted,
        rank=rank,
        bands=bands,
        token_counts=token_counts,
        svd_method=svd_method,
    )
    del weighted
    pairs = tuple(unweight(a, b, inverse_root) for a, b in plan.pairs)
    slices = band_slices(table.shape[0], plan.boundaries)
    return Factors(pairs, plan.boundaries, relative_error(table, pairs, slices))


def install_factors(
    layer,
    factors: Factors,
    train_basis: bool = True,
    code_quantization: str | None = None,
) -> None:
    """Swaps the `Embedding` `layer` in place for the layer holding `factors`.

    With `train_basis=False` the bases `embeddings_b*` are not trainable; with
    `code_quantization` (a `convert_to_tflite` mode) the layer looks up its codes
    rounded to that file's grid (quantization-aware training).
    """
    if not factors.boundaries:
        ((a, b),) = factors.pairs
        _factorize_in_place(layer, a, b, train_basis, code_quantization)
    else:
        _factorize_banded_in_place(
            layer, factors.boundaries, factors.pairs, train_basis, code_quantization
        )


def to_table_scale(factors: Factors) -> Factors:
    """The same products with each basis row of unit norm: `A = U_k S_k`, `B = V_k^T`.

    Every pair `(a, b)` becomes `(a * s, b / s[:, None])` with `s` the norms of
    `b`'s rows (the singular values, for the SVD's `b = S_k V_k^T`), so the codes
    have the table's scale and `a @ b` is unchanged (up to rounding). A zero row
    keeps its scale.
    """
    pairs = []
    for a, b in factors.pairs:
        scale = np.linalg.norm(b, axis=1)
        scale = np.where(scale > 0, scale, 1.0).astype(a.dtype)
        pairs.append((a * scale[None, :], b / scale[:, None]))
    return dataclasses.replace(factors, pairs=tuple(pairs))


def placeholder_factors(input_dim: int, output_dim: int, boundaries, ranks) -> Factors:
    """Zero factors of a given layout (values a backup overwrites)."""
    edges = (0, *boundaries, input_dim)
    pairs = tuple(
        (
            np.zeros((stop - start, rank), dtype="float32"),
            np.zeros((rank, output_dim), dtype="float32"),
        )
        for start, stop, rank in zip(edges[:-1], edges[1:], ranks, strict=True)
    )
    return Factors(pairs, tuple(boundaries), math.nan)
