"""The rank rule of frequency bands: which budget, how many bands, which ranks. NumPy.

`allocate_band_ranks` shares a parameter budget among the bands of `bands.py`:

1. Budget. `compression=p` allows at most `floor((1 - p) * V * D)` parameters in all
   factors, the budget of `tl.rank_for_compression` (one band of rank
   `floor((1 - p) V D / (V + D))`).
2. Bands. `bands=m` cuts the ids at geometric boundaries `round(V ** (j / m))`,
   `j = 1 .. m - 1` (e.g. 12, 141, 1682 for V = 20,000 and m = 4): small head bands
   of frequent words, a long tail band.
3. Ranks. Every band starts at rank 1. Then one rank at a time goes to the band with
   the largest drop of frequency-weighted squared reconstruction error per parameter
   spent, `w_i * s_{i, k_i + 1}^2 / (n_i + D)`, among the bands whose next rank still
   fits the budget and `k_i < min(n_i, D)`; ties go to the band of more frequent
   words. `w_i` is the mean row weight of the band, a row weighing
   `count ** 0.5` (square-root frequency: raw counts give nearly all the rank to a
   few dozen words), with the Zipf prior `count = 1 / (id + 1)` when no counts are
   given. `s_{i, r}` are the band's singular values, from the trained table when
   given, otherwise a prior with `s_{i, r}^2 = n_i / (r * H_{min(n_i, D)})` (rows of
   unit norm, a harmonically decaying spectrum).

With one band the rule is exactly `tl.rank_for_compression`. The greedy choice is
deterministic and never exceeds the budget. `resolve_bands` turns
`EmbeddingFactorization(bands="auto")` into a number of bands.

Reference: Chen, Si, Li, Chelba, Hsieh, "GroupReduce: Block-Wise Low-Rank
Approximation for Neural Language Model Shrinking", NeurIPS 2018.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np

from tflite_lowrank.factorization.bands import (
    _check_positive_int,
    band_slices,
    check_boundaries,
    geometric_boundaries,
)
from tflite_lowrank.factorization.svd import singular_values
from tflite_lowrank.utils.checks import check_compression

# Ids reserved by `tl.Tokenizer` and `TextVectorization`: 0 padding, 1 unknown.
_NUM_RESERVED_IDS = 2

# Exponent of the token counts in a row's weight (square-root frequency).
_FREQUENCY_POWER = 0.5


@dataclasses.dataclass(frozen=True)
class BandAllocation:
    """Band boundaries and per-band ranks chosen by `allocate_band_ranks`.

    Args:
        boundaries: Tuple of integers. Interior band boundaries, strictly increasing
            in `(0, input_dim)`; band `i` holds ids `[start_i, stop_i)`.
        ranks: Tuple of integers. Rank of each band, `len(boundaries) + 1` of them.
        num_parameters: Integer. Parameters in all factors,
            `sum_i ranks[i] * (n_i + output_dim)`.
        budget: Integer. The most parameters `compression` allows,
            `floor((1 - compression) * input_dim * output_dim)`.

    Example:

    >>> allocation = allocate_band_ranks(20_000, 50, 0.9)
    >>> allocation.num_parameters <= allocation.budget
    True
    """

    boundaries: tuple[int, ...]
    ranks: tuple[int, ...]
    num_parameters: int
    budget: int

    def to_dict(self) -> dict[str, object]:
        return {
            "boundaries": list(self.boundaries),
            "ranks": list(self.ranks),
            "num_parameters": self.num_parameters,
            "budget": self.budget,
        }


DEFAULT_NUM_BANDS = 6
"""Bands of `EmbeddingFactorization(bands="auto")` (chosen on dev against 1 and 4:
benchmarks/results/recipe_study.md)."""


def resolve_bands(
    bands: int | Sequence[int] | str, input_dim: int, output_dim: int, rank: int
) -> int | tuple[int, ...]:
    """`bands` as an int or boundaries: `"auto"` becomes a number of bands.

    `"auto"` is `DEFAULT_NUM_BANDS` geometric bands, or fewer when the parameter
    budget of one rank-`rank` table, `rank * (input_dim + output_dim)`, cannot give
    every band rank 1 (small vocabularies), down to `1`, the paper's single SVD.

    Example:

    >>> resolve_bands("auto", 20_000, 50, 4)
    6
    >>> resolve_bands("auto", 20, 8, 1)
    1
    """
    if not isinstance(bands, str):
        return bands
    budget = rank * (input_dim + output_dim)
    for num_bands in range(DEFAULT_NUM_BANDS, 1, -1):
        boundaries = geometric_boundaries(input_dim, num_bands)
        if input_dim + (len(boundaries) + 1) * output_dim <= budget:
            return len(boundaries) + 1
    return 1


def parameter_budget(input_dim: int, output_dim: int, compression: float) -> int:
    """The most factor parameters `compression` allows, `floor((1 - p) * V * D)`.

    Consistent with `tl.rank_for_compression`: one band of `input_dim` rows fits
    exactly `rank_for_compression(input_dim, output_dim, compression)` ranks.

    Args:
        input_dim: Integer. Vocabulary size V.
        output_dim: Integer. Embedding size D.
        compression: Float in (0, 1). Fraction of the table's parameters to remove.

    Returns:
        The budget in parameters.

    Raises:
        TypeError: if `compression` is not a number.
        ValueError: for a dimension that is not a positive integer or a
            `compression` outside (0, 1).

    Example:

    >>> parameter_budget(10_000, 300, 0.9)
    300000
    """
    _check_positive_int("input_dim", input_dim)
    _check_positive_int("output_dim", output_dim)
    check_compression(compression)
    # The same tolerance as `rank_for_compression` (1e-9 rank), in parameters.
    exact = (1.0 - compression) * input_dim * output_dim
    return math.floor(exact + 1e-9 * (input_dim + output_dim))


def frequency_order(token_counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ids sorted by decreasing count (ties by id): the renumbering bands need.

    `new_id = np.argsort(order)[old_id]`; reorder the tokenizer's vocabulary and the
    table's rows with `order` (`table[order]`) before training.

    Args:
        token_counts: 1-D array of non-negative counts, one per id.

    Returns:
        An int64 array, a permutation of `range(len(token_counts))`.

    Example:

    >>> frequency_order([0, 5, 1, 9]).tolist()
    [3, 1, 2, 0]
    """
    counts = _check_counts(token_counts, None)
    return np.argsort(-counts, kind="stable")


def allocate_band_ranks(
    input_dim: int,
    output_dim: int,
    compression: float,
    *,
    bands: int | Sequence[int] = 4,
    token_counts: Sequence[float] | np.ndarray | None = None,
    table: np.ndarray | None = None,
) -> BandAllocation:
    """Chooses band boundaries and per-band ranks within a compression budget.

    See the module docstring for the rule: geometric bands, then a greedy allocation
    of one rank at a time to the band with the largest drop of (square-root)
    frequency-weighted squared reconstruction error per parameter.

    Reference: Chen et al., "GroupReduce: Block-Wise Low-Rank Approximation for
    Neural Language Model Shrinking", NeurIPS 2018.

    Args:
        input_dim: Integer. Vocabulary size V.
        output_dim: Integer. Embedding size D.
        compression: Float in (0, 1). Fraction of the table's parameters to remove,
            the same meaning as in `tl.rank_for_compression`.
        bands: Integer or sequence of integers. The number of geometric bands
            (`geometric_boundaries`), or the interior boundaries themselves.
            Defaults to `4`.
        token_counts: 1-D array of `input_dim` non-negative counts, or None for the
            Zipf prior `1 / (id + 1)` of frequency-sorted ids. Defaults to `None`.
        table: Array `(input_dim, output_dim)` or None. The trained table, whose
            per-band singular values drive the allocation; None uses a prior
            spectrum. Defaults to `None`.

    Returns:
        A `BandAllocation`.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for invalid dimensions, compression, bands, counts or table
            shape, or a budget too small for rank 1 in every band.

    Warns:
        UserWarning: if `token_counts` (after the 2 reserved ids) are not
            non-increasing: contiguous bands then mix frequent and rare words.

    Example:

    >>> allocation = allocate_band_ranks(20_000, 50, 0.9)
    >>> allocation.boundaries, allocation.ranks
    ((12, 141, 1682), (12, 50, 22, 3))
    """
    budget = parameter_budget(input_dim, output_dim, compression)
    _check_positive_int("output_dim", output_dim)
    if isinstance(bands, int | np.integer) and not isinstance(bands, bool):
        boundaries = geometric_boundaries(input_dim, int(bands))
    else:
        boundaries = check_boundaries(bands, input_dim)
    slices = band_slices(input_dim, boundaries)
    sizes = np.array([band.stop - band.start for band in slices], dtype=np.int64)
    costs = sizes + output_dim
    limits = np.minimum(sizes, output_dim)

    if token_counts is None:
        counts = 1.0 / np.arange(1, input_dim + 1, dtype=np.float64)
    else:
        counts = _check_counts(token_counts, input_dim)
        tail = counts[_NUM_RESERVED_IDS:]
        if np.any(np.diff(tail) > 0):
            warnings.warn(
                "`token_counts` are not sorted by decreasing count (after ids 0 and "
                "1): the bands are contiguous id ranges, so they mix frequent and "
                "rare words. Renumber the vocabulary with `frequency_order` first.",
                stacklevel=2,
            )
    row_weights = counts**_FREQUENCY_POWER
    total = row_weights.sum()
    row_weights = row_weights / total if total > 0 else row_weights
    band_weights = np.array([row_weights[band].mean() for band in slices])

    if table is not None:
        table = _check_table(table, input_dim, output_dim)
    energies = []  # squared singular values per band, largest first, length limit
    for band, size, limit in zip(slices, sizes, limits, strict=True):
        if table is None:
            ranks = np.arange(1, limit + 1, dtype=np.float64)
            energies.append(size / (ranks * np.sum(1.0 / ranks)))
        else:
            values = singular_values(table[band])
            energies.append(values[:limit] ** 2)

    ranks = np.ones(len(slices), dtype=np.int64)
    used = int(costs.sum())
    if used > budget:
        raise ValueError(
            f"`compression={compression}` leaves {budget} parameters, fewer than the "
            f"{used} that rank 1 in each of the {len(slices)} bands needs. Use fewer "
            f"bands or a smaller compression. Received: compression={compression}, "
            f"bands={bands!r}, input_dim={input_dim}, output_dim={output_dim}"
        )
    while True:
        best, best_gain = -1, -1.0
        for index in range(len(slices)):
            if ranks[index] >= limits[index] or used + costs[index] > budget:
                continue
            gain = band_weights[index] * energies[index][ranks[index]] / costs[index]
            if gain > best_gain:  # strict: ties stay with the earlier (head) band
                best, best_gain = index, gain
        if best < 0:
            break
        ranks[best] += 1
        used += int(costs[best])
    return BandAllocation(
        boundaries=boundaries,
        ranks=tuple(int(rank) for rank in ranks),
        num_parameters=used,
        budget=budget,
    )


def _check_counts(token_counts, input_dim: int | None) -> np.ndarray:
    counts = np.asarray(token_counts, dtype=np.float64)
    if counts.ndim != 1 or (input_dim is not None and counts.shape[0] != input_dim):
        raise ValueError(
            "`token_counts` must be a 1-D array with one count per id "
            f"(input_dim={input_dim}). Received: token_counts with shape "
            f"{counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(
            "`token_counts` must be finite and non-negative. "
            f"Received: token_counts={counts[:8]}..."
        )
    return counts


def _check_table(table, input_dim: int, output_dim: int) -> np.ndarray:
    array = np.asarray(table)
    if array.shape != (input_dim, output_dim):
        raise ValueError(
            "`table` must have shape (input_dim, output_dim) = "
            f"({input_dim}, {output_dim}). Received: table with shape {array.shape}"
        )
    return array
