"""Latency-aware layouts of banded factors: the lookups they cost, and a plan. NumPy.

Frequency bands (`bands.py`) cost lookups. Per token, a LiteRT file of
`tl.BandedLowRankEmbedding` runs one `GATHER` per band and reads a code as wide as
the sum of the band ranks, `K = sum_i k_i`; once the projection is folded, the next
layer's input is `K` wide too. On a model as cheap as the paper's DAN (a few
microseconds per text) each extra operator costs about a tenth of the baseline, and
an LSTM whose folded input is wider than `D` runs slower than its baseline.

- `lookup_steps` is how the layer's inference graph reads each band without a select:
  the band's rows padded with zero rows, and the ids clamped into them (one
  `MINIMUM` for the head, `SUB`, `MAXIMUM` and `MINIMUM` for a middle band; the tail
  either covers all ids, its rows preceded by zero rows, when that costs few bytes,
  or is offset by one `SUB` and one `MAXIMUM`). Every band is one `GATHER`, the codes
  one `CONCATENATION`. Each padding row is either one clamp (the file's reader
  subtracts one row per `MINIMUM`/`MAXIMUM` to count the vocabulary) or, for a tail
  that covers all ids, the first ids themselves.
- `plan_layout` chooses the band boundaries and ranks under the parameter budget of
  `compression` and a latency budget: at most `max_lookups` bands (lookups per
  token) and a code at most `max_code_width` wide (default `D`: a folded consumer
  never wider than the baseline's). Among the head sizes it tries, it keeps the
  layout with the least frequency-weighted squared reconstruction error (within 1%,
  the one with the fewest lookup operators), with the greedy rank rule of
  `band_ranks.py` (capped by the code width).

Reference: Chen, Si, Li, Chelba, Hsieh, "GroupReduce: Block-Wise Low-Rank
Approximation for Neural Language Model Shrinking", NeurIPS 2018.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tflite_lowrank.factorization.band_ranks import (
    _FREQUENCY_POWER,
    _check_counts,
    _check_table,
    parameter_budget,
)
from tflite_lowrank.factorization.bands import (
    _check_positive_int,
    band_slices,
    check_ranks,
    geometric_boundaries,
)

# A tail that covers all ids (its rows preceded by zero rows, one GATHER and no
# clamp) when those zero rows hold at most this share of the factors' entries.
_PREFIX_SHARE = 1 / 16
# Head sizes `plan_layout` tries for two bands: round(V ** (j / 24)), j = 4 .. 20.
_HEAD_GRID = 24
# Layouts whose weighted error is within this fraction of the least are ties.
_ERROR_TOLERANCE = 0.01


@dataclasses.dataclass(frozen=True)
class LookupStep:
    """How the inference graph reads one band: `table[clamp(ids - shift)]`.

    The table is the band's `n x k` rows with `pad_top` zero rows above and
    `pad_bottom` below; the ids are shifted, then clamped to `[lower, upper]`
    (`None`: no clamp on that side), so that ids outside the band read a zero row.
    """

    start: int
    stop: int
    rank: int
    pad_top: int
    pad_bottom: int
    shift: int
    lower: int | None
    upper: int | None

    @property
    def rows(self) -> int:
        """Rows of the padded table in the file."""
        return self.pad_top + self.stop - self.start + self.pad_bottom

    @property
    def num_ops(self) -> int:
        """Operators of this band: the GATHER and the id arithmetic before it."""
        return (
            1 + (self.shift != 0) + (self.lower is not None) + (self.upper is not None)
        )


def lookup_steps(
    input_dim: int, boundaries: Sequence[int], ranks: Sequence[int]
) -> tuple[LookupStep, ...]:
    """The select-free lookup of each band (see the module docstring).

    Example:

    >>> [(s.rows, s.num_ops) for s in lookup_steps(1000, [10, 100], [8, 4, 2])]
    [(11, 2), (92, 4), (901, 3)]
    >>> [(s.rows, s.num_ops) for s in lookup_steps(20_000, [131], [50, 4])]
    [(132, 2), (20000, 1)]
    """
    slices = band_slices(input_dim, boundaries)
    ranks = check_ranks(ranks, slices, max(ranks, default=1))
    if len(slices) == 1:
        return (LookupStep(0, input_dim, ranks[0], 0, 0, 0, None, None),)
    entries = sum((b.stop - b.start) * k for b, k in zip(slices, ranks, strict=True))
    steps, last = [], len(slices) - 1
    for index, (band, rank) in enumerate(zip(slices, ranks, strict=True)):
        size = band.stop - band.start
        if index == 0:
            step = LookupStep(band.start, band.stop, rank, 0, 1, 0, None, size)
        elif index == last and band.start * rank <= _PREFIX_SHARE * entries:
            step = LookupStep(band.start, band.stop, rank, band.start, 0, 0, None, None)
        elif index == last:
            step = LookupStep(
                band.start, band.stop, rank, 1, 0, band.start - 1, 0, None
            )
        else:
            step = LookupStep(
                band.start, band.stop, rank, 1, 1, band.start - 1, 0, size + 1
            )
        steps.append(step)
    return tuple(steps)


def num_lookup_ops(
    input_dim: int, boundaries: Sequence[int], ranks: Sequence[int]
) -> int:
    """Operators of the banded lookup: `lookup_steps`' plus one `CONCATENATION`.

    >>> num_lookup_ops(20_000, [], [4]), num_lookup_ops(20_000, [131], [50, 4])
    (1, 4)
    """
    steps = lookup_steps(input_dim, boundaries, ranks)
    return sum(step.num_ops for step in steps) + (len(steps) > 1)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Bands and ranks chosen by `plan_layout`, with what they cost.

    Args:
        boundaries: Tuple of integers. Interior band boundaries (empty: one band).
        ranks: Tuple of integers. Rank of each band.
        num_parameters: Integer. `sum_i k_i (n_i + D)`.
        budget: Integer. The parameter budget of `compression`.
        code_width: Integer. `sum_i k_i`, the width a folded consumer reads.
        lookups: Integer. Lookups (`GATHER`s) per token, the number of bands.
        lookup_ops: Integer. Operators of the lookup (`num_lookup_ops`).
        weighted_error: Float. Frequency-weighted squared reconstruction error
            (relative to the weighted energy of the table or of the prior).
    """

    boundaries: tuple[int, ...]
    ranks: tuple[int, ...]
    num_parameters: int
    budget: int
    code_width: int
    lookups: int
    lookup_ops: int
    weighted_error: float

    def to_dict(self) -> dict[str, object]:
        return {
            **dataclasses.asdict(self),
            "boundaries": list(self.boundaries),
            "ranks": list(self.ranks),
        }


def plan_layout(
    input_dim: int,
    output_dim: int,
    compression: float,
    *,
    max_lookups: int = 2,
    max_code_width: int | None = None,
    token_counts: Sequence[float] | np.ndarray | None = None,
    table: np.ndarray | None = None,
    rank_multiple: int = 1,
) -> Layout:
    """Bands and ranks within a parameter budget and a latency budget.

    Tries one band and, for each number of bands up to `max_lookups`, the head sizes
    `round(V ** (j / 12))` (two bands) or the geometric boundaries (more), allocates
    the ranks greedily (largest weighted energy per parameter first, as
    `allocate_band_ranks`) with `sum(ranks) <= max_code_width`, and keeps, among the
    layouts within 1% of the least weighted error, the one with the fewest lookup
    operators (`num_lookup_ops`), then the narrowest code.

    Args:
        input_dim: Integer. Vocabulary size V.
        output_dim: Integer. Embedding size D.
        compression: Float in (0, 1). As in `tl.rank_for_compression`.
        max_lookups: Integer >= 1. Most bands (lookups per token). Defaults to `2`:
            a head of frequent words and one tail.
        max_code_width: Integer or None. Most `sum(ranks)`; None means `output_dim`.
        token_counts: 1-D array of `input_dim` counts, or None for the Zipf prior.
        table: Array `(input_dim, output_dim)` or None (a prior spectrum).
        rank_multiple: Integer >= 1. Every rank a multiple of it (2: even code
            widths, which 4-bit `EMBEDDING_LOOKUP` tables need). Defaults to `1`.

    Returns:
        A `Layout`.

    Raises:
        ValueError: for invalid sizes, or a budget too small for one band.

    Example:

    >>> layout = plan_layout(20_000, 50, 0.9)
    >>> layout.lookups <= 2 and layout.code_width <= 50
    True
    >>> layout.num_parameters <= layout.budget
    True
    """
    budget = parameter_budget(input_dim, output_dim, compression)
    _check_positive_int("max_lookups", max_lookups)
    _check_positive_int("rank_multiple", rank_multiple)
    width = output_dim if max_code_width is None else max_code_width
    _check_positive_int("max_code_width", width)
    weights = _row_weights(input_dim, token_counts)
    if table is not None:
        table = _check_table(table, input_dim, output_dim).astype(np.float64)
    spectra = _Spectra(table, output_dim)
    candidates = [()]
    if max_lookups >= 2:
        heads = {
            round(input_dim ** (j / _HEAD_GRID))
            for j in range(_HEAD_GRID // 6, _HEAD_GRID * 5 // 6 + 1)
        }
        candidates += [(h,) for h in sorted(heads) if 0 < h < input_dim]
    for bands in range(3, max_lookups + 1):
        boundaries = geometric_boundaries(input_dim, bands)
        if len(boundaries) == bands - 1:
            candidates.append(boundaries)
    layouts = [
        _allocate(
            input_dim,
            output_dim,
            boundaries,
            budget,
            width,
            rank_multiple,
            weights,
            spectra,
        )
        for boundaries in candidates
    ]
    layouts = [layout for layout in layouts if layout is not None]
    best = None
    if layouts:
        # Within `_ERROR_TOLERANCE` of the least error, the fewest lookup operators
        # (then the narrowest code): on a model as cheap as a DAN each operator costs
        # about as much as 20 columns of code.
        least = min(layout.weighted_error for layout in layouts)
        near = [
            layout
            for layout in layouts
            if layout.weighted_error <= least * (1 + _ERROR_TOLERANCE) + 1e-12
        ]
        best = min(near, key=lambda x: (x.lookup_ops, x.code_width, x.weighted_error))
    if best is None:
        raise ValueError(
            f"`compression={compression}` leaves {budget} parameters, too few for "
            f"one band of rank {rank_multiple}. Received: compression={compression}, "
            f"input_dim={input_dim}, output_dim={output_dim}"
        )
    return best


def _row_weights(input_dim: int, token_counts) -> np.ndarray:
    if token_counts is None:
        counts = 1.0 / np.arange(1, input_dim + 1, dtype=np.float64)
    else:
        counts = _check_counts(token_counts, input_dim)
    weights = counts**_FREQUENCY_POWER
    total = weights.sum()
    return weights / total if total > 0 else weights


class _Spectra:
    """Squared singular values of row ranges: a prior, or from prefix Gram matrices
    of the table (a range's Gram is the difference of two prefixes')."""

    def __init__(self, table: np.ndarray | None, output_dim: int):
        self.table, self.output_dim, self.prefixes = table, output_dim, {0: 0.0}

    def _prefix(self, stop: int):
        if stop not in self.prefixes:
            below = max(key for key in self.prefixes if key < stop)
            chunk = self.table[below:stop]
            self.prefixes[stop] = self.prefixes[below] + chunk.T @ chunk
        return self.prefixes[stop]

    def energies(self, start: int, stop: int) -> np.ndarray:
        size = stop - start
        limit = min(size, self.output_dim)
        if self.table is None:
            ranks = np.arange(1, limit + 1, dtype=np.float64)
            return size / (ranks * np.sum(1.0 / ranks))
        gram = self._prefix(stop) - self._prefix(start)
        values = np.sort(np.clip(np.linalg.eigvalsh(gram), 0.0, None))[::-1]
        return values[:limit]


def _allocate(
    input_dim, output_dim, boundaries, budget, width, step, weights, spectra
) -> Layout | None:
    slices = band_slices(input_dim, boundaries)
    sizes = np.array([band.stop - band.start for band in slices], dtype=np.int64)
    costs = sizes + output_dim
    limits = np.minimum(sizes, output_dim) // step * step
    energies = [spectra.energies(band.start, band.stop) for band in slices]
    band_weights = np.array([weights[band].mean() for band in slices])
    ranks = np.full(len(slices), step, dtype=np.int64)
    used = int(costs.sum()) * step
    if used > budget or ranks.sum() > width or np.any(limits < step):
        return None
    while True:
        best, best_gain = -1, -1.0
        for index in range(len(slices)):
            if (
                ranks[index] + step > limits[index]
                or used + step * costs[index] > budget
                or ranks.sum() + step > width
            ):
                continue
            energy = energies[index][ranks[index] : ranks[index] + step].sum()
            gain = band_weights[index] * energy / (step * costs[index])
            if gain > best_gain:  # strict: ties stay with the earlier (head) band
                best, best_gain = index, gain
        if best < 0:
            break
        ranks[best] += step
        used += step * int(costs[best])
    total = sum(w * e.sum() for w, e in zip(band_weights, energies, strict=True))
    residual = sum(
        w * e[k:].sum() for w, e, k in zip(band_weights, energies, ranks, strict=True)
    )
    ranks = tuple(int(k) for k in ranks)
    return Layout(
        boundaries=tuple(boundaries),
        ranks=ranks,
        num_parameters=used,
        budget=budget,
        code_width=int(sum(ranks)),
        lookups=len(ranks),
        lookup_ops=num_lookup_ops(input_dim, boundaries, ranks),
        weighted_error=float(residual / total) if total > 0 else 0.0,
    )
