"""Tests for `benchmarks/stats.py`: golden values and the convention for n < 2."""

import math

import pytest

from benchmarks import stats


def test_mean_sd_and_se_of_a_small_list():
    values = [1.0, 2.0, 4.0]
    assert stats.mean(values) == pytest.approx(7 / 3)
    # Sample variance: ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3.
    assert stats.sd(values) == pytest.approx(math.sqrt(7 / 3))
    assert stats.se(values) == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))


def test_golden_values_are_exact_where_the_arithmetic_is():
    assert stats.mean([-1.0, -3.0]) == -2.0
    assert stats.sd([-1.0, -3.0]) == math.sqrt(2.0)
    assert stats.se([-1.0, -3.0]) == 1.0
    assert stats.sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(
        math.sqrt(32 / 7)
    )


def test_generators_are_accepted():
    assert stats.mean(x / 2 for x in range(5)) == 1.0
    assert stats.sd(x for x in (3.0, 5.0)) == math.sqrt(2.0)


@pytest.mark.parametrize("values", [[0.5], [-2.25]])
def test_one_value_has_no_spread(values):
    # The tables print it as "± 0.00" next to n = 1.
    assert stats.mean(values) == values[0]
    assert stats.sd(values) == 0.0
    assert stats.se(values) == 0.0


def test_no_value_is_nan_not_an_error():
    assert math.isnan(stats.mean([]))
    assert stats.sd([]) == 0.0
    assert math.isnan(stats.se([]))


def test_sd_matches_the_helpers_it_replaces():
    import statistics

    values = [0.7412, 0.7531, 0.7388, 0.7602, 0.7455]
    # frontier/calr_budget `_sd`, recipe_study's inline stdev: bit for bit.
    assert stats.sd(values) == statistics.stdev(values)
    # demo_seeds' and split_probes' standard errors.
    assert stats.se(values) == statistics.stdev(values) / math.sqrt(len(values))
    assert stats.se(values) == statistics.stdev(values) / len(values) ** 0.5


def test_paired_deltas_keep_only_shared_seeds_in_seed_order():
    ours = {2: 0.70, 0: 0.50, 1: 0.75}
    baseline = {1: 1.00, 0: 0.25, 3: 0.90}
    assert stats.paired_deltas(ours, baseline) == [0.25, -0.25]
    assert stats.paired_deltas(ours, baseline, scale=100) == [25.0, -25.0]
    assert stats.paired_deltas(ours, {}) == []


def test_paired_deltas_are_the_inline_differences_they_replace():
    ours = {0: 0.8123, 1: 0.7911, 4: 0.8007}
    base = {0: 0.8231, 1: 0.7834, 4: 0.8102}
    expected = [100 * (ours[s] - base[s]) for s in (0, 1, 4)]
    assert stats.paired_deltas(ours, base, scale=100) == expected
    mean = stats.mean(stats.paired_deltas(ours, base, scale=100))
    assert mean == pytest.approx((-1.08 + 0.77 - 0.95) / 3)
