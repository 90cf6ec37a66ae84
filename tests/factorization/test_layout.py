"""Tests of the lookups banded factors cost and the latency-aware layout
(`factorization/layout.py`)."""

import numpy as np
import pytest

from tflite_lowrank.factorization import (
    allocate_band_ranks,
    band_slices,
    lookup_steps,
    num_lookup_ops,
    parameter_budget,
    plan_layout,
    rank_for_compression,
)


def _read(steps, input_dim, tables):
    """What the inference graph computes, in NumPy: for every id, the codes."""
    ids = np.arange(input_dim)
    codes = []
    for step, table in zip(steps, tables, strict=True):
        padded = np.concatenate(
            [
                np.zeros((step.pad_top, step.rank)),
                table,
                np.zeros((step.pad_bottom, step.rank)),
            ]
        )
        rows = ids - step.shift
        if step.lower is not None:
            rows = np.maximum(rows, step.lower)
        if step.upper is not None:
            rows = np.minimum(rows, step.upper)
        assert rows.min() >= 0 and rows.max() < len(padded)  # never out of range
        codes.append(padded[rows])
    return np.concatenate(codes, axis=1)


@pytest.mark.parametrize(
    "input_dim, boundaries, ranks",
    [
        (100, (), (3,)),
        (100, (7,), (5, 2)),
        (1000, (10, 100), (8, 4, 2)),
        (60, (6, 12), (2, 5, 3)),  # a middle band of 6 rows: clamp bounds [0, 7]
        (20_000, (5, 27, 141, 737, 3839), (5, 22, 42, 22, 9, 3)),
        (20_000, (141,), (50, 4)),  # the tail covers every id (prefix)
    ],
)
def test_lookup_steps_read_each_band_and_zeros_elsewhere(input_dim, boundaries, ranks):
    rng = np.random.default_rng(0)
    slices = band_slices(input_dim, boundaries)
    tables = [
        rng.standard_normal((s.stop - s.start, k))
        for s, k in zip(slices, ranks, strict=True)
    ]
    expected = np.zeros((input_dim, sum(ranks)))
    offset = 0
    for band, table in zip(slices, tables, strict=True):
        expected[band, offset : offset + table.shape[1]] = table
        offset += table.shape[1]
    steps = lookup_steps(input_dim, boundaries, ranks)
    np.testing.assert_array_equal(_read(steps, input_dim, tables), expected)
    # Each zero row is one clamp, or the tail covers every id (the file's reader
    # counts the vocabulary from that).
    for step in steps:
        clamps = (step.lower is not None) + (step.upper is not None)
        assert step.rows - clamps == step.stop - step.start or step.rows == input_dim


def test_lookup_steps_choose_the_prefix_tail_only_when_its_zero_rows_are_few():
    head, tail = lookup_steps(20_000, (141,), (50, 4))
    assert (head.upper, head.pad_bottom, head.num_ops) == (141, 1, 2)
    assert (tail.pad_top, tail.rows, tail.num_ops) == (141, 20_000, 1)
    *_, tail = lookup_steps(20_000, (5, 27, 141, 737, 3839), (5, 22, 42, 22, 9, 3))
    assert (tail.pad_top, tail.shift, tail.lower, tail.num_ops) == (1, 3838, 0, 3)


def test_num_lookup_ops_counts_gathers_clamps_and_the_concatenation():
    assert num_lookup_ops(1000, (), (4,)) == 1
    assert num_lookup_ops(20_000, (141,), (50, 4)) == 4
    # head 2, four middle bands 4 each, tail 3, concatenation 1
    assert num_lookup_ops(20_000, (5, 27, 141, 737, 3839), (5, 22, 42, 22, 9, 3)) == 22


@pytest.mark.parametrize("input_dim, output_dim", [(17_079, 50), (20_000, 300)])
def test_plan_layout_keeps_both_budgets(input_dim, output_dim):
    layout = plan_layout(input_dim, output_dim, 0.9)
    assert layout.num_parameters <= layout.budget
    assert layout.budget == parameter_budget(input_dim, output_dim, 0.9)
    assert layout.lookups <= 2 and layout.code_width <= output_dim
    assert layout.code_width == sum(layout.ranks)
    assert layout.lookup_ops == num_lookup_ops(
        input_dim, layout.boundaries, layout.ranks
    )
    assert layout.to_dict()["ranks"] == list(layout.ranks)


def test_plan_layout_with_one_lookup_is_the_single_svd():
    layout = plan_layout(20_000, 300, 0.9, max_lookups=1)
    assert layout.boundaries == ()
    assert layout.ranks == (rank_for_compression(20_000, 300, 0.9),)


def test_plan_layout_caps_the_code_width_where_the_rank_rule_does_not():
    unbounded = allocate_band_ranks(20_000, 50, 0.9, bands=2)
    assert sum(unbounded.ranks) > 50  # head rank 50 + tail: wider than D
    layout = plan_layout(20_000, 50, 0.9, max_code_width=20)
    assert layout.code_width <= 20 and layout.lookups == 2
    assert plan_layout(20_000, 50, 0.9, max_lookups=6, max_code_width=10**6).lookups > 2


def test_plan_layout_two_bands_beat_one_on_a_frequency_weighted_table():
    rng = np.random.default_rng(0)
    # Frequent words (small ids) spread over many directions, rare ones over few.
    table = rng.standard_normal((5000, 40)) * np.r_[np.ones(20), np.full(20, 0.05)]
    table[:200] = rng.standard_normal((200, 40))
    one = plan_layout(5000, 40, 0.9, max_lookups=1, table=table)
    two = plan_layout(5000, 40, 0.9, table=table)
    assert two.lookups == 2 and two.weighted_error < one.weighted_error


def test_plan_layout_rank_multiple_gives_even_ranks():
    layout = plan_layout(17_079, 50, 0.9, rank_multiple=2)
    assert all(rank % 2 == 0 for rank in layout.ranks)
    assert layout.num_parameters <= layout.budget


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_lookups": 0}, "max_lookups"),
        ({"max_code_width": 0}, "max_code_width"),
        ({"rank_multiple": 0}, "rank_multiple"),
    ],
)
def test_plan_layout_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plan_layout(1000, 16, 0.9, **kwargs)


def test_plan_layout_budget_too_small_names_the_compression():
    with pytest.raises(ValueError, match="compression=0.999"):
        plan_layout(100, 8, 0.999, rank_multiple=2)


def test_plan_layout_prefers_fewer_lookup_operators_among_near_ties():
    # The demo DAN's shapes: a tail that covers every id (one GATHER, no clamp) is
    # within 1% of the least weighted error, so it wins over an offset tail.
    layout = plan_layout(17_079, 50, 0.9)
    assert layout.lookups == 2 and layout.lookup_ops == 4
    (head,) = layout.boundaries
    *_, tail = lookup_steps(17_079, layout.boundaries, layout.ranks)
    assert tail.pad_top == head and tail.rows == 17_079
