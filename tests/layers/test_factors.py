"""plan_factors: the banded split's factors, error and cost."""

import numpy as np
import pytest

from tflite_lowrank.factorization import svd
from tflite_lowrank.factorization.bands import reconstruct_table
from tflite_lowrank.layers.factors import plan_factors


@pytest.fixture(scope="module")
def tall_table():
    # Tall enough that every band but the first goes through the Gram matrix.
    rng = np.random.default_rng(0)
    scale = 1.0 / np.sqrt(1.0 + np.arange(16))
    return (rng.standard_normal((6000, 16)) * scale).astype(np.float32)


def test_plan_factors_banded_error_is_the_direct_relative_error(tall_table):
    factors = plan_factors(tall_table, rank=4, bands=4, token_counts=None)
    assert len(factors.pairs) == 4
    direct = np.linalg.norm(
        tall_table.astype(np.float64) - reconstruct_table(factors.pairs)
    ) / np.linalg.norm(tall_table.astype(np.float64))
    np.testing.assert_allclose(factors.relative_error, direct, rtol=1e-5)


def test_plan_factors_banded_computes_each_gram_matrix_once(tall_table, monkeypatch):
    calls = []
    compute = svd._compute_gram_eigh

    def counting(matrix):
        calls.append(matrix.shape)
        return compute(matrix)

    monkeypatch.setattr(svd, "_compute_gram_eigh", counting)
    factors = plan_factors(tall_table, rank=4, bands=4, token_counts=None)
    tall_bands = [a.shape for a, _ in factors.pairs if a.shape[0] >= 4 * 16]
    assert tall_bands, "the fixture must have bands that use the Gram matrix"
    assert len(calls) == len(set(calls)) == len(tall_bands)
    # Outside plan_factors nothing is kept.
    assert svd._GRAM_CACHE is None


def test_reuse_gram_decompositions_keys_by_view(tall_table):
    with svd.reuse_gram_decompositions():
        first = svd._gram_eigh(tall_table[:100])
        again = svd._gram_eigh(tall_table[:100])
        other = svd._gram_eigh(tall_table[100:200])
    assert first is again
    assert other is not first
    np.testing.assert_allclose(
        np.sqrt(np.clip(other[0], 0, None)),
        np.linalg.svd(tall_table[100:200].astype(np.float64), compute_uv=False),
        rtol=1e-6,
        atol=1e-6,
    )
