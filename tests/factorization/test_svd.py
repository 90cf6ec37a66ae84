"""Tests of the pure-NumPy factorization maths (golden values only for exact maths)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tflite_lowrank.factorization.svd import (
    rank_for_compression,
    rank_for_energy,
    singular_values,
    truncated_svd,
)

METHODS = ("exact", "gram", "randomized", "auto")


def decaying_matrix(rng, rows, cols, decay=0.9, dtype="float32"):
    """A matrix with known singular values `decay**i` and random singular vectors."""
    k = min(rows, cols)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    s = decay ** np.arange(k)
    return ((u * s) @ v.T).astype(dtype), s


def tail_energy(matrix, rank):
    s = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
    return np.sqrt(np.sum(s[rank:] ** 2))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rank", [1, 5, 17], ids=lambda r: f"rank{r}")
def test_truncated_svd_error_equals_tail_energy(method, rank, rng):
    matrix, _ = decaying_matrix(rng, 300, 40)
    embeddings_a, embeddings_b = truncated_svd(matrix, rank, method=method)
    assert embeddings_a.shape == (300, rank)
    assert embeddings_b.shape == (rank, 40)
    error = np.linalg.norm(matrix.astype(np.float64) - embeddings_a @ embeddings_b)
    np.testing.assert_allclose(error, tail_energy(matrix, rank), rtol=1e-4)


@pytest.mark.parametrize("method", ["exact", "gram", "randomized"])
def test_truncated_svd_puts_sigma_in_b_and_a_is_orthonormal(method, rng):
    matrix, s = decaying_matrix(rng, 200, 30, dtype="float64")
    embeddings_a, embeddings_b = truncated_svd(matrix, 6, method=method)
    np.testing.assert_allclose(embeddings_a.T @ embeddings_a, np.eye(6), atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(embeddings_b, axis=1), s[:6], rtol=1e-8)


def test_truncated_svd_balanced_splits_sigma_evenly(rng):
    matrix, s = decaying_matrix(rng, 200, 30, dtype="float64")
    plain_a, plain_b = truncated_svd(matrix, 6)
    a, b = truncated_svd(matrix, 6, balanced=True)
    np.testing.assert_allclose(a @ b, plain_a @ plain_b, atol=1e-10)
    np.testing.assert_allclose(a.T @ a, np.diag(s[:6]), atol=1e-8)
    np.testing.assert_allclose(b @ b.T, np.diag(s[:6]), atol=1e-8)


def test_truncated_svd_gram_matches_exact(rng):
    matrix, _ = decaying_matrix(rng, 2000, 50)
    exact_a, exact_b = truncated_svd(matrix, 10, method="exact")
    gram_a, gram_b = truncated_svd(matrix, 10, method="gram")
    # Same factors, signs included (both are made deterministic the same way).
    np.testing.assert_allclose(gram_a, exact_a, atol=1e-5)
    np.testing.assert_allclose(gram_b, exact_b, atol=1e-5)
    np.testing.assert_allclose(
        singular_values(matrix, "gram"), singular_values(matrix, "exact"), atol=1e-6
    )


def test_truncated_svd_randomized_within_one_percent_of_exact_tail(rng):
    # A slowly decaying spectrum, the hard case for a randomized range finder.
    matrix = rng.standard_normal((2000, 300)).astype("float32")
    matrix *= (1.0 / np.sqrt(1.0 + np.arange(300)))[None, :].astype("float32")
    rank = 29
    exact = tail_energy(matrix, rank)
    a, b = truncated_svd(matrix, rank, method="randomized")
    error = np.linalg.norm(matrix.astype(np.float64) - a @ b)
    assert exact <= error <= 1.01 * exact


def test_truncated_svd_keeps_float_dtype_and_converts_integers(rng):
    matrix, _ = decaying_matrix(rng, 40, 8, dtype="float64")
    a, b = truncated_svd(matrix, 2)
    assert a.dtype == np.float64 and b.dtype == np.float64
    a, b = truncated_svd(matrix.astype("float32"), 2)
    assert a.dtype == np.float32 and b.dtype == np.float32
    a, b = truncated_svd(rng.integers(-5, 5, (40, 8)), 2)
    assert a.dtype == np.float32


def test_truncated_svd_is_deterministic_up_to_no_sign_flips(rng):
    matrix, _ = decaying_matrix(rng, 100, 12)
    first = truncated_svd(matrix, 4, method="randomized", seed=3)
    second = truncated_svd(matrix, 4, method="randomized", seed=3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 12),
    data=st.data(),
)
def test_truncated_svd_property_error_is_tail_energy(rows, cols, data):
    rank = data.draw(st.integers(1, min(rows, cols)))
    seed = data.draw(st.integers(0, 2**16))
    matrix = np.random.default_rng(seed).standard_normal((rows, cols))
    a, b = truncated_svd(matrix, rank)
    error = np.linalg.norm(matrix - a @ b)
    np.testing.assert_allclose(error, tail_energy(matrix, rank), rtol=1e-6, atol=1e-9)


def test_rank_for_compression_paper_value():
    assert rank_for_compression(10_000, 300, 0.9) == 29


@pytest.mark.parametrize(
    "input_dim, expected",
    [
        (14_000, [264, 205, 146, 88, 58, 29, 14]),
        (8_500, [260, 202, 144, 86, 57, 28, 14]),
    ],
    ids=["V14k", "V8.5k"],
)
def test_rank_for_compression_matches_paper_table(input_dim, expected):
    ranks = [
        rank_for_compression(input_dim, 300, p)
        for p in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
    ]
    assert ranks == expected


def test_rank_for_compression_factors_never_exceed_budget():
    for input_dim in (50, 1_000, 400_000):
        for p in (0.5, 0.8, 0.9, 0.95):
            rank = rank_for_compression(input_dim, 50, p)
            assert rank * (input_dim + 50) <= (1 - p) * input_dim * 50 + 1e-6


@pytest.mark.parametrize(
    "values, energy, expected",
    [
        ([3.0, 2.0, 1.0], 0.9, 2),  # 9/14 < 0.9 <= 13/14
        ([3.0, 2.0, 1.0], 9 / 14, 1),
        ([3.0, 2.0, 1.0], 1.0, 3),
        ([1.0, 2.0, 3.0], 0.9, 2),  # order does not matter
        ([5.0, 0.0, 0.0], 1.0, 1),
    ],
)
def test_rank_for_energy_golden(values, energy, expected):
    assert rank_for_energy(values, energy) == expected


def test_singular_values_sorted_descending():
    assert singular_values(np.diag([3.0, 1.0, 2.0])).tolist() == [3.0, 2.0, 1.0]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: truncated_svd(np.ones((4, 3)), 0), ValueError, "Received: rank=0"),
        (lambda: truncated_svd(np.ones((4, 3)), 4), ValueError, "Received: rank=4"),
        (lambda: truncated_svd(np.ones((4, 3)), 1.5), TypeError, "Received: rank=1.5"),
        (
            lambda: truncated_svd(np.ones((4, 3)), 1, method="qr"),
            ValueError,
            "Received: method='qr'",
        ),
        (lambda: truncated_svd(np.ones(4), 1), ValueError, "shape \\(4,\\)"),
        (
            lambda: truncated_svd(np.full((4, 3), np.nan), 1),
            ValueError,
            "must be finite",
        ),
        (
            lambda: rank_for_compression(10_000, 300, 1.0),
            ValueError,
            "Received: compression=1.0",
        ),
        (
            lambda: rank_for_compression(10_000, 300, "0.9"),
            TypeError,
            "Received: compression='0.9'",
        ),
        (
            lambda: rank_for_compression(50, 8, 0.99),
            ValueError,
            "Received: compression=0.99",
        ),
        (
            lambda: rank_for_compression(0, 300, 0.5),
            ValueError,
            "Received: input_dim=0",
        ),
        (lambda: rank_for_energy([1.0], 0.0), ValueError, "Received: energy=0.0"),
        (lambda: rank_for_energy([1.0, -1.0], 0.5), ValueError, "non-negative"),
        (lambda: rank_for_energy([0.0, 0.0], 0.5), ValueError, "all zero"),
    ],
    ids=[
        "rank0",
        "rank_too_big",
        "rank_float",
        "method",
        "not_2d",
        "nan",
        "compression_1",
        "compression_str",
        "compression_rank0",
        "input_dim",
        "energy0",
        "negative_values",
        "zero_values",
    ],
)
def test_factorize_errors_name_argument_and_received_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("rank", [3, 12], ids=lambda r: f"rank{r}")
def test_truncated_svd_gram_float32_chunks_match_exact_tail_energy(
    rank, rng, monkeypatch
):
    # The float32 (sgemm) Gram path of large tables, forced on a small one.
    from tflite_lowrank.factorization import svd as factorize

    monkeypatch.setattr(factorize, "_FLOAT32_GRAM_MIN_ELEMENTS", 0)
    monkeypatch.setattr(factorize, "_FLOAT32_CHUNK_ROWS", 700)
    matrix, _ = decaying_matrix(rng, 3000, 40)
    assert matrix.dtype == np.float32
    embeddings_a, embeddings_b = truncated_svd(matrix, rank, method="gram")
    error = np.linalg.norm(matrix.astype(np.float64) - embeddings_a @ embeddings_b)
    np.testing.assert_allclose(error, tail_energy(matrix, rank), rtol=1e-4)
    exact_a, exact_b = truncated_svd(matrix, rank, method="exact")
    np.testing.assert_allclose(
        embeddings_a @ embeddings_b, exact_a @ exact_b, atol=1e-4
    )
