"""Frequency-aware banded factors of an embedding table and their rank rule. NumPy.

A plain rank-k SVD spends the same rank on the 10,000th word as on "not", "good" and
"bad". Here the frequency-sorted vocabulary (id 0 padding, id 1 unknown, then the most
frequent word first, as `tl.Tokenizer` and `keras.layers.TextVectorization` number
it) is cut into contiguous bands of ids, `[0, b_1), [b_1, b_2), ..., [b_m, V)`, and
each band `i` of `n_i` rows gets its own truncated-SVD factors of rank `k_i`:
`a_i = U_k` (`n_i x k_i`) and `b_i = diag(S_k) V_k^T` (`k_i x D`), Σ in `b` as in
the paper. The bands hold `sum_i k_i * (n_i + D)` parameters.

The rank rule (`allocate_band_ranks`):

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
deterministic and never exceeds the budget.

Ids that are not sorted by frequency: the bands are contiguous id ranges, so give the
vocabulary a frequency order first (`frequency_order`) and renumber the tokenizer and
the table rows with it, once, before training. An in-graph id lookup would cost 4 V
bytes, a fifth of the whole budget at D = 50 and p = 0.9.

Reference: Chen, Si, Li, Chelba, Hsieh, "GroupReduce: Block-Wise Low-Rank
Approximation for Neural Language Model Shrinking", NeurIPS 2018.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from tflite_lowrank.factorize import singular_values, truncated_svd

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


def geometric_boundaries(input_dim: int, num_bands: int) -> tuple[int, ...]:
    """Interior boundaries `round(V ** (j / num_bands))` of geometric bands of ids.

    Duplicate boundaries (small vocabularies) are merged, so fewer bands may result.

    Args:
        input_dim: Integer. Vocabulary size V.
        num_bands: Integer. Number of bands, `>= 1`.

    Returns:
        A strictly increasing tuple of `num_bands - 1` (or fewer) integers in
        `(0, input_dim)`.

    Raises:
        ValueError: if an argument is not a positive integer.

    Example:

    >>> geometric_boundaries(20_000, 4)
    (12, 141, 1682)
    """
    _check_positive_int("input_dim", input_dim)
    _check_positive_int("num_bands", num_bands)
    cuts = {round(input_dim ** (j / num_bands)) for j in range(1, num_bands)}
    return tuple(sorted(cut for cut in cuts if 0 < cut < input_dim))


def band_slices(input_dim: int, boundaries: Sequence[int]) -> list[slice]:
    """The id range of each band, `[slice(0, b_1), ..., slice(b_m, input_dim)]`.

    Args:
        input_dim: Integer. Vocabulary size V.
        boundaries: Sequence of integers, strictly increasing in `(0, input_dim)`.

    Returns:
        A list of `len(boundaries) + 1` slices.

    Raises:
        ValueError: if the boundaries are not strictly increasing integers in
            `(0, input_dim)`.

    Example:

    >>> band_slices(10, [2, 5])
    [slice(0, 2, None), slice(2, 5, None), slice(5, 10, None)]
    """
    _check_positive_int("input_dim", input_dim)
    boundaries = check_boundaries(boundaries, input_dim)
    edges = (0, *boundaries, input_dim)
    return [slice(start, stop) for start, stop in itertools.pairwise(edges)]


def check_boundaries(boundaries: Sequence[int], input_dim: int) -> tuple[int, ...]:
    """Checks band boundaries and returns them as a tuple of Python integers.

    Args:
        boundaries: Sequence of integers, strictly increasing in `(0, input_dim)`.
        input_dim: Integer. Vocabulary size V.

    Returns:
        The boundaries as a tuple of `int`.

    Raises:
        TypeError: if `boundaries` is not a sequence of integers.
        ValueError: if they are not strictly increasing in `(0, input_dim)`.

    Example:

    >>> check_boundaries([2, 5], 10)
    (2, 5)
    """
    if isinstance(boundaries, str | bytes) or not isinstance(
        boundaries, Sequence | np.ndarray
    ):
        raise TypeError(
            "`boundaries` must be a sequence of integers. "
            f"Received: boundaries={boundaries!r} (of type {type(boundaries)})"
        )
    values = list(boundaries)
    if any(
        isinstance(value, bool) or not isinstance(value, int | np.integer)
        for value in values
    ):
        raise TypeError(
            f"`boundaries` must hold integers. Received: boundaries={values!r}"
        )
    values = [int(value) for value in values]
    increasing = all(left < right for left, right in itertools.pairwise(values))
    if not increasing or (values and not 0 < values[0] <= values[-1] < input_dim):
        raise ValueError(
            "`boundaries` must be strictly increasing and inside (0, input_dim): "
            "each one is the first id of the next band, and no band may be empty. "
            f"Received: boundaries={values}, input_dim={input_dim}"
        )
    return tuple(values)


def num_band_parameters(
    input_dim: int, output_dim: int, boundaries: Sequence[int], ranks: Sequence[int]
) -> int:
    """Parameters of banded factors, `sum_i ranks[i] * (n_i + output_dim)`.

    Args:
        input_dim: Integer. Vocabulary size V.
        output_dim: Integer. Embedding size D.
        boundaries: Sequence of integers. Interior band boundaries.
        ranks: Sequence of integers. Rank of each band.

    Returns:
        The number of parameters in all `embeddings_a_i` and `embeddings_b_i`.

    Raises:
        ValueError: for invalid boundaries or ranks.

    Example:

    >>> num_band_parameters(100, 8, [10], [4, 2])
    280
    """
    _check_positive_int("output_dim", output_dim)
    slices = band_slices(input_dim, boundaries)
    ranks = check_ranks(ranks, slices, output_dim)
    return sum(
        rank * (band.stop - band.start + output_dim)
        for rank, band in zip(ranks, slices, strict=True)
    )


def check_ranks(
    ranks: Sequence[int], slices: Sequence[slice], output_dim: int
) -> tuple[int, ...]:
    """Checks one rank per band, `1 <= ranks[i] <= min(n_i, output_dim)`.

    Args:
        ranks: Sequence of integers.
        slices: The bands, as returned by `band_slices`.
        output_dim: Integer. Embedding size D.

    Returns:
        The ranks as a tuple of `int`.

    Raises:
        TypeError: if `ranks` is not a sequence of integers.
        ValueError: for a wrong number of ranks or a rank out of range.

    Example:

    >>> check_ranks([4, 2], band_slices(100, [10]), 8)
    (4, 2)
    """
    if isinstance(ranks, str | bytes) or not isinstance(ranks, Sequence | np.ndarray):
        raise TypeError(
            "`ranks` must be a sequence of integers, one per band. "
            f"Received: ranks={ranks!r} (of type {type(ranks)})"
        )
    values = list(ranks)
    if any(
        isinstance(value, bool) or not isinstance(value, int | np.integer)
        for value in values
    ):
        raise TypeError(f"`ranks` must hold integers. Received: ranks={values!r}")
    if len(values) != len(slices):
        raise ValueError(
            "`ranks` must hold one rank per band, `len(boundaries) + 1` = "
            f"{len(slices)} of them. Received: ranks={values}"
        )
    for index, (rank, band) in enumerate(zip(values, slices, strict=True)):
        limit = min(band.stop - band.start, output_dim)
        if not 1 <= rank <= limit:
            raise ValueError(
                f"`ranks[{index}]` must be in [1, min(n, output_dim)] = [1, {limit}] "
                f"for band {index} (ids {band.start}..{band.stop - 1}). "
                f"Received: ranks={values}"
            )
    return tuple(int(value) for value in values)


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
    if isinstance(compression, bool) or not isinstance(compression, int | float):
        raise TypeError(
            "`compression` must be a float in (0, 1). "
            f"Received: compression={compression!r} (of type {type(compression)})"
        )
    if not 0.0 < compression < 1.0:
        raise ValueError(
            "`compression` must be in (0, 1): the fraction of the embedding's "
            f"parameters to remove. Received: compression={compression}"
        )
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


def banded_svd(
    table: np.ndarray, boundaries: Sequence[int], ranks: Sequence[int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-band truncated SVD factors of a table, Σ in the second factor.

    Band `i` (rows `[start_i, stop_i)`) gets `tl.truncated_svd(table[band], ranks[i])`:
    `a_i = U_k` (`n_i x k_i`) and `b_i = diag(S_k) V_k^T` (`k_i x D`). The squared
    Frobenius error of the whole table is the sum of the bands' tail energies.

    Args:
        table: Array `(V, D)`, e.g. a trained embedding table.
        boundaries: Sequence of integers. Interior band boundaries.
        ranks: Sequence of integers. Rank of each band.

    Returns:
        A list of `(a_i, b_i)` pairs, one per band, in the table's floating dtype.

    Raises:
        ValueError: for a table that is not 2-D and finite, or invalid boundaries or
            ranks.

    Example:

    >>> table = np.random.default_rng(0).standard_normal((100, 8))
    >>> [(a.shape, b.shape) for a, b in banded_svd(table, [10], [4, 2])]
    [((10, 4), (4, 8)), ((90, 2), (2, 8))]
    """
    array = np.asarray(table)
    if array.ndim != 2:
        raise ValueError(
            "`table` must be a 2-D array (input_dim x output_dim). "
            f"Received: table with shape {array.shape}"
        )
    slices = band_slices(array.shape[0], boundaries)
    ranks = check_ranks(ranks, slices, array.shape[1])
    return [
        truncated_svd(array[band], rank, method="exact")
        for band, rank in zip(slices, ranks, strict=True)
    ]


def reconstruct_table(factors: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The full table `concat_i(a_i @ b_i)` that banded factors stand for.

    Args:
        factors: Sequence of `(a_i, b_i)` pairs, as returned by `banded_svd`.

    Returns:
        Array `(sum_i n_i, D)`.

    Example:

    >>> table = np.random.default_rng(0).standard_normal((100, 8))
    >>> reconstruct_table(banded_svd(table, [10], [8, 8])).shape
    (100, 8)
    """
    return np.concatenate([a @ b for a, b in factors], axis=0)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
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
