"""Tests for the pure pieces of `benchmarks/latency_layouts.py` (nothing is timed)."""

import numpy as np
import pytest

from benchmarks import latency_layouts


def test_token_ids_are_valid_padded_rows():
    ids = latency_layouts.token_ids(100, 12, rows=20)
    assert ids.shape == (20, 12) and ids.dtype == np.int32
    assert ids.min() >= 0 and ids.max() < 100
    assert (ids[:, :5] > 0).all()  # at least 5 real tokens per row


def test_summarize_takes_per_round_ratios_then_the_median():
    files = {name: {} for name in ("baseline/float32", "baseline/dynamic", "x/y")}
    p50 = {
        "baseline/float32": [1.0, 2.0, 4.0],
        "baseline/dynamic": [2.0, 2.0, 2.0],
        "x/y": [0.5, 2.0, 2.0],  # 0.5, 1.0, 0.5 of the baseline, round by round
    }
    latency_layouts.summarize(files, p50)
    assert files["x/y"]["ratio_to_float32"] == pytest.approx(0.5)
    assert files["x/y"]["ratio_to_dynamic"] == pytest.approx(1.0)
    assert files["x/y"]["p50_us"] == pytest.approx(2e6)


@pytest.mark.parametrize("layout", latency_layouts.LAYOUTS)
def test_every_layout_keeps_the_single_svd_budget(layout):
    from tflite_lowrank.factorization import num_band_parameters, rank_for_compression

    vocab, dim = 17_079, 50
    boundaries, ranks = latency_layouts.layout_of(layout, vocab, dim)
    rank = rank_for_compression(vocab, dim, latency_layouts.COMPRESSION)
    assert num_band_parameters(vocab, dim, boundaries, ranks) <= rank * (vocab + dim)


def test_markdown_has_a_row_per_layout_and_a_column_per_mode(tmp_path):
    entry = {
        "ratio_to_float32": 0.9,
        "ratio_to_dynamic": 1.1,
        "ranks": [4],
        "code_width": 4,
        "folded_into": ["hidden_1"],
        "size_bytes": 10,
        "embedding_bytes": 8,
        "p50_us": 2.0,
        "ops": ["GATHER"],
    }
    files = {
        f"{layout}/{mode}": {**entry, "layout": layout, "mode": mode}
        for layout in ("baseline", "bands1")
        for mode in ("float32", "dynamic")
    }
    report = {
        "settings": {"compression": 0.9, "rounds": 3, "runs": 10},
        "models": {"m": {"vocab": 10, "dim": 4, "seq_len": 3, "files": files}},
    }
    path = tmp_path / "out.md"
    latency_layouts.write_markdown(report, path)
    text = path.read_text()
    assert "| layout | ranks | code | folded | float32 | dynamic |" in text
    assert "| bands1 | 4 | 4 | yes | 0.90x (1.10x) | 0.90x (1.10x) |" in text
