"""Tests of the banded factors and their rank rule (`compression/bands.py`)."""

import numpy as np
import pytest

from tflite_lowrank.factorization.band_ranks import (
    allocate_band_ranks,
    frequency_order,
    parameter_budget,
    resolve_bands,
)
from tflite_lowrank.factorization.bands import (
    band_slices,
    banded_svd,
    geometric_boundaries,
    num_band_parameters,
    reconstruct_table,
)
from tflite_lowrank.factorization.svd import rank_for_compression, truncated_svd

VOCAB, DIM = 50, 8


def test_geometric_boundaries_golden():
    assert geometric_boundaries(20_000, 4) == (12, 141, 1682)
    assert geometric_boundaries(50, 4) == (3, 7, 19)
    assert geometric_boundaries(50, 1) == ()


def test_geometric_boundaries_merge_duplicates_for_tiny_vocabularies():
    assert geometric_boundaries(4, 8) == (1, 2, 3)


def test_band_slices_cover_the_vocabulary():
    slices = band_slices(VOCAB, [3, 7, 19])
    assert [(band.start, band.stop) for band in slices] == [
        (0, 3),
        (3, 7),
        (7, 19),
        (19, 50),
    ]


def test_num_band_parameters_golden():
    assert num_band_parameters(100, 8, [10], [4, 2]) == 4 * 18 + 2 * 98


def test_parameter_budget_golden():
    assert parameter_budget(10_000, 300, 0.9) == 300_000


@pytest.mark.parametrize(
    "shape", [(10, 2), (37, 8), (1000, 50), (20_000, 50), (10_000, 300)], ids=str
)
def test_allocate_band_ranks_one_band_is_the_plain_rank_rule(shape):
    for compression in np.linspace(0.05, 0.95, 19):
        try:
            expected = rank_for_compression(*shape, float(compression))
        except ValueError:
            continue
        allocation = allocate_band_ranks(*shape, float(compression), bands=1)
        assert allocation.boundaries == ()
        assert allocation.ranks == (expected,)


@pytest.mark.parametrize("bands", [2, 4, 6, [12, 400]], ids=str)
@pytest.mark.parametrize("compression", [0.5, 0.8, 0.9, 0.95], ids=str)
def test_allocate_band_ranks_never_exceeds_the_budget(bands, compression, rng):
    table = rng.standard_normal((2000, 50)) * np.linspace(3, 0.1, 50)
    for source in (None, table):
        allocation = allocate_band_ranks(
            2000, 50, compression, bands=bands, table=source
        )
        used = num_band_parameters(2000, 50, allocation.boundaries, allocation.ranks)
        assert used == allocation.num_parameters <= allocation.budget
        assert allocation.budget == parameter_budget(2000, 50, compression)
        # Nothing more fits: every band is at its limit or its next rank is too dear.
        slices = band_slices(2000, allocation.boundaries)
        for rank, band in zip(allocation.ranks, slices, strict=True):
            size = band.stop - band.start
            assert rank == min(size, 50) or used + size + 50 > allocation.budget


def test_allocate_band_ranks_gives_the_head_more_rank():
    allocation = allocate_band_ranks(20_000, 50, 0.9)
    assert allocation.boundaries == (12, 141, 1682)
    assert allocation.ranks == (12, 50, 22, 3)
    plain = rank_for_compression(20_000, 50, 0.9)
    assert allocation.ranks[0] > plain and allocation.ranks[-1] < plain


def test_allocate_band_ranks_flat_counts_give_the_tail_more_than_zipf():
    flat = allocate_band_ranks(20_000, 50, 0.9, token_counts=np.ones(20_000))
    zipf = allocate_band_ranks(20_000, 50, 0.9)
    assert flat.ranks[-1] > zipf.ranks[-1]


def test_allocate_band_ranks_follows_the_table_spectrum(rng):
    # The head band (ids 0..99) is exactly rank 1: its rank is better spent on the tail.
    table = rng.standard_normal((1000, DIM))
    table[:100] = rng.standard_normal((100, 1)) @ rng.standard_normal((1, DIM))
    prior = allocate_band_ranks(1000, DIM, 0.5, bands=[100])
    trained = allocate_band_ranks(1000, DIM, 0.5, bands=[100], table=table)
    assert prior.ranks == (8, 3)
    assert trained.ranks == (3, 4)


def test_allocate_band_ranks_warns_for_unsorted_counts():
    counts = np.arange(VOCAB, dtype=float)
    with pytest.warns(UserWarning, match="frequency_order"):
        allocate_band_ranks(VOCAB, DIM, 0.5, bands=2, token_counts=counts)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"compression": 1.5}, "Received: compression=1.5"),
        ({"bands": [10, 5]}, r"Received: boundaries=\[10, 5\]"),
        ({"bands": [0, 5]}, r"Received: boundaries=\[0, 5\]"),
        ({"token_counts": np.ones(3)}, "token_counts with shape"),
        ({"table": np.ones((3, 3))}, "table with shape"),
        ({"compression": 0.99, "bands": 6}, "Received: compression=0.99"),
    ],
    ids=["compression", "decreasing", "zero", "counts", "table", "too-small"],
)
def test_allocate_band_ranks_rejects_bad_arguments(kwargs, match):
    arguments = {"compression": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        allocate_band_ranks(VOCAB, DIM, **arguments)


def test_frequency_order_sorts_by_count_then_id():
    assert frequency_order([0, 5, 1, 9, 5]).tolist() == [3, 1, 4, 2, 0]


@pytest.mark.parametrize(
    "boundaries, ranks",
    [([], [3]), ([10], [4, 2]), ([3, 7, 19], [3, 4, 2, 1])],
    ids=str,
)
def test_banded_svd_error_equals_per_band_tail_energy(boundaries, ranks, rng):
    table = rng.standard_normal((VOCAB, DIM)).astype("float32")
    factors = banded_svd(table, boundaries, ranks)
    error = np.linalg.norm(table - reconstruct_table(factors))
    tails = [
        np.linalg.svd(table[band], compute_uv=False)[rank:]
        for band, rank in zip(band_slices(VOCAB, boundaries), ranks, strict=True)
    ]
    expected = np.sqrt(sum(np.sum(tail**2) for tail in tails))
    np.testing.assert_allclose(error, expected, rtol=1e-4)
    for (a, b), rank in zip(factors, ranks, strict=True):
        assert a.shape[1] == b.shape[0] == rank and b.shape[1] == DIM
        # Σ is in `b`: the columns of `a` are orthonormal.
        np.testing.assert_allclose(a.T @ a, np.eye(rank), atol=1e-5)


def test_banded_svd_one_band_equals_truncated_svd(rng):
    table = rng.standard_normal((VOCAB, DIM)).astype("float32")
    ((a, b),) = banded_svd(table, [], [3])
    expected_a, expected_b = truncated_svd(table, 3, method="exact")
    np.testing.assert_allclose(a, expected_a, atol=1e-6)
    np.testing.assert_allclose(b, expected_b, atol=1e-5)


@pytest.mark.parametrize(
    "ranks, match",
    [([3], "one rank per band"), ([3, 0], r"ranks\[1\]"), ([4, 2], r"ranks\[0\]")],
    ids=["count", "zero", "above-band-size"],
)
def test_banded_svd_rejects_bad_ranks(ranks, match, rng):
    table = rng.standard_normal((VOCAB, DIM))
    with pytest.raises(ValueError, match=match):
        banded_svd(table, [3], ranks)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("auto", 20_000, 50, 4), 6),
        (("auto", 20, 8, 1), 1),
        ((3, 20_000, 50, 4), 3),
        (((10, 100), 20_000, 50, 4), (10, 100)),
    ],
    ids=["auto_large", "auto_small", "int", "boundaries"],
)
def test_resolve_bands(args, expected):
    assert resolve_bands(*args) == expected
