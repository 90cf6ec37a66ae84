"""Frequency-aware banded factors of an embedding table and their rank rule. NumPy.

A plain rank-k SVD spends the same rank on the 10,000th word as on "not", "good" and
"bad". Here the frequency-sorted vocabulary (id 0 padding, id 1 unknown, then the most
frequent word first, as `tl.Tokenizer` and `keras.layers.TextVectorization` number
it) is cut into contiguous bands of ids, `[0, b_1), [b_1, b_2), ..., [b_m, V)`, and
each band `i` of `n_i` rows gets its own truncated-SVD factors of rank `k_i`:
`a_i = U_k` (`n_i x k_i`) and `b_i = diag(S_k) V_k^T` (`k_i x D`), Σ in `b` as in
the paper. The bands hold `sum_i k_i * (n_i + D)` parameters.

The rank rule that shares a parameter budget among the bands is in `band_ranks.py`.

Ids that are not sorted by frequency: the bands are contiguous id ranges, so give the
vocabulary a frequency order first (`frequency_order`) and renumber the tokenizer and
the table rows with it, once, before training. An in-graph id lookup would cost 4 V
bytes, a fifth of the whole budget at D = 50 and p = 0.9.

Reference: Chen, Si, Li, Chelba, Hsieh, "GroupReduce: Block-Wise Low-Rank
Approximation for Neural Language Model Shrinking", NeurIPS 2018.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from tflite_lowrank.factorization.svd import truncated_svd


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
    values = _int_sequence("boundaries", boundaries, "a sequence of integers")
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
    values = _int_sequence("ranks", ranks, "a sequence of integers, one per band")
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


def banded_svd(
    table: np.ndarray,
    boundaries: Sequence[int],
    ranks: Sequence[int],
    method: str = "auto",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-band truncated SVD factors of a table, Σ in the second factor.

    Band `i` (rows `[start_i, stop_i)`) gets `tl.truncated_svd(table[band], ranks[i])`:
    `a_i = U_k` (`n_i x k_i`) and `b_i = diag(S_k) V_k^T` (`k_i x D`). The squared
    Frobenius error of the whole table is the sum of the bands' tail energies.

    Args:
        table: Array `(V, D)`, e.g. a trained embedding table.
        boundaries: Sequence of integers. Interior band boundaries.
        ranks: Sequence of integers. Rank of each band.
        method: String. `truncated_svd`'s method for every band. Defaults to
            `"auto"` (the Gram matrix for tall bands: a 400k x 300 table's bands
            take about a second, where LAPACK's full SVD takes minutes).

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
        truncated_svd(array[band], rank, method=method)
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


def _int_sequence(name: str, value, expected: str) -> list[int]:
    """`value` as a list of ints; raises TypeError naming `name` otherwise."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(
            f"`{name}` must be {expected}. "
            f"Received: {name}={value!r} (of type {type(value)})"
        )
    values = list(value)
    if any(
        isinstance(item, bool) or not isinstance(item, int | np.integer)
        for item in values
    ):
        raise TypeError(f"`{name}` must hold integers. Received: {name}={values!r}")
    return [int(item) for item in values]
