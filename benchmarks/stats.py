"""The statistics of the reports: mean, sample standard deviation, standard error and
paired deltas by seed. Pure Python, no NumPy or TensorFlow.

Convention for fewer than two values: a sample standard deviation needs two values,
so `sd` (and with it `se`) of one value is `0.0`, which the tables print as
`± 0.00` next to their seed count (`n = 1`); `se` of no value is NaN, and so is
`mean` of no value. Every committed table that prints a spread of one seed relies on
the `0.0` (`frontier`, `recipe_study`, `demo_seeds`); `report.py` prints `(n=1)`
instead, whatever the spread, and `split_probes` prints no spread for one seed.

`peers.py` and `report.py` aggregate pandas frames with pandas' own `mean` and
`std` (NaN for one value, which their tables print as `0.00` and `(n=1)`): their
summaries (`peers_summary.json`) keep pandas' numbers to the last digit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean (`statistics.fmean`); NaN for no values.

    >>> mean([1.0, 2.0, 4.0])
    2.3333333333333335
    >>> mean([])
    nan
    """
    values = list(values)
    return statistics.fmean(values) if values else math.nan


def sd(values: Iterable[float]) -> float:
    """The sample standard deviation (`n - 1` in the denominator); 0.0 for n < 2.

    >>> sd([1.0, 2.0, 4.0])
    1.5275252316519468
    >>> sd([3.0])
    0.0
    """
    values = list(values)
    return statistics.stdev(values) if len(values) > 1 else 0.0


def se(values: Iterable[float]) -> float:
    """The standard error of the mean, `sd / sqrt(n)`: 0.0 for one value, NaN for none.

    >>> se([-1.0, -3.0])
    1.0
    """
    values = list(values)
    if not values:
        return math.nan
    return sd(values) / math.sqrt(len(values))


def paired_deltas(
    values: Mapping[int, float], reference: Mapping[int, float], *, scale: float = 1.0
) -> list[float]:
    """`scale * (values[s] - reference[s])` for every seed `s` both have, by seed.

    A seed that only one side has is left out, so each delta compares two runs that
    share everything but the method (pretraining, data order).

    >>> paired_deltas({0: 0.5, 1: 0.75, 2: 0.9}, {1: 1.0, 0: 0.25}, scale=100)
    [25.0, -25.0]
    """
    return [
        scale * (values[s] - reference[s]) for s in sorted(set(values) & set(reference))
    ]
