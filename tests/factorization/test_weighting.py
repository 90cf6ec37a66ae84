"""Task-weighted truncated SVD: `weighting` and `plan_factors(gradient_covariance=)`."""

import numpy as np
import pytest

from tflite_lowrank.factorization.weighting import (
    RIDGE,
    metric_roots,
    relative_error,
    unweight,
    weighted_error,
)
from tflite_lowrank.layers.factors import plan_factors


def _covariance(rng, dim, spread=100.0):
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (q * np.geomspace(spread, 1.0, dim)) @ q.T


def test_metric_roots_are_inverse_square_roots_of_the_ridged_metric(rng):
    c = _covariance(rng, 6)
    root, inverse = metric_roots(c)
    ridged = c + RIDGE * np.trace(c) / 6 * np.eye(6)
    np.testing.assert_allclose(root @ root, ridged, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(root @ inverse, np.eye(6), atol=1e-10)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 4)), "square"),
        (np.zeros((3, 3)), "zero"),
        (np.full((3, 3), np.nan), "finite"),
    ],
)
def test_metric_roots_refuses_bad_covariances(bad, message):
    with pytest.raises(ValueError, match=message):
        metric_roots(bad)


def test_single_band_weighted_factors_reach_the_weighted_optimum(rng):
    table = rng.standard_normal((80, 10)).astype("float32")
    c = _covariance(rng, 10)
    root, _ = metric_roots(c)
    weighted = plan_factors(
        table, rank=3, bands=1, token_counts=None, gradient_covariance=c
    )
    plain = plan_factors(table, rank=3, bands=1, token_counts=None)
    ((a, b),) = weighted.pairs
    # Eckart-Young in the weighted metric: the error is the tail of W C^{1/2}.
    tail = np.linalg.svd(table.astype(np.float64) @ root, compute_uv=False)[3:]
    np.testing.assert_allclose(
        weighted_error(table, a, b, root), np.sqrt(np.sum(tail**2)), rtol=1e-4
    )
    ((pa, pb),) = plain.pairs
    assert weighted_error(table, a, b, root) < weighted_error(table, pa, pb, root)
    # ... and the plain error is the plain SVD's to beat, not the weighted one's.
    assert plain.relative_error < weighted.relative_error
    # The paper's form: orthonormal A, B = diag(S) V^T with orthogonal rows.
    np.testing.assert_allclose(a.T @ a, np.eye(3), atol=1e-5)
    gram = b @ b.T
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-3)


def test_a_scaled_identity_metric_gives_the_plain_product(rng):
    table = rng.standard_normal((60, 8)).astype("float32")
    weighted = plan_factors(
        table, rank=2, bands=1, token_counts=None, gradient_covariance=5 * np.eye(8)
    )
    plain = plan_factors(table, rank=2, bands=1, token_counts=None)
    ((a, b),), ((pa, pb),) = weighted.pairs, plain.pairs
    np.testing.assert_allclose(a @ b, pa @ pb, atol=1e-5)
    np.testing.assert_allclose(weighted.relative_error, plain.relative_error, 1e-5)


def test_banded_weighted_factors_keep_the_budget_and_report_the_plain_error(rng):
    table = rng.standard_normal((400, 12)).astype("float32")
    c = _covariance(rng, 12)
    factors = plan_factors(
        table, rank=3, bands=3, token_counts=None, gradient_covariance=c
    )
    assert len(factors.pairs) == 3
    assert factors.num_parameters <= 3 * (400 + 12)
    edges = (0, *factors.boundaries, 400)
    product = np.concatenate([a @ b for a, b in factors.pairs])
    expected = np.linalg.norm(table - product) / np.linalg.norm(table)
    np.testing.assert_allclose(factors.relative_error, expected, rtol=1e-4)
    slices = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_allclose(
        relative_error(table, factors.pairs, slices), expected, rtol=1e-4
    )


def test_unweight_keeps_the_product(rng):
    a, _ = np.linalg.qr(rng.standard_normal((30, 4)))
    b = rng.standard_normal((4, 7))
    _, inverse = metric_roots(_covariance(rng, 7))
    new_a, new_b = unweight(a, b, inverse)
    np.testing.assert_allclose(new_a @ new_b, a @ b @ inverse, atol=1e-10)
    np.testing.assert_allclose(new_a.T @ new_a, np.eye(4), atol=1e-10)


def test_relative_error_over_row_chunks_equals_the_direct_formula(rng, monkeypatch):
    import tflite_lowrank.factorization.weighting as weighting

    table = rng.standard_normal((50, 6)).astype("float32")
    pairs = [
        unweight(np.linalg.qr(rng.standard_normal((n, 2)))[0], b, np.eye(6))
        for n, b in (
            (20, rng.standard_normal((2, 6))),
            (30, rng.standard_normal((2, 6))),
        )
    ]
    slices = [slice(0, 20), slice(20, 50)]
    product = np.concatenate([a @ b for a, b in pairs])
    expected = np.linalg.norm(table - product) / np.linalg.norm(table)
    # Several chunks a band, the last one cut at the band's end.
    monkeypatch.setattr(weighting, "_CHUNK_ROWS", 7)
    np.testing.assert_allclose(relative_error(table, pairs, slices), expected, 1e-6)
