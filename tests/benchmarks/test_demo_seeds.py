"""Tests for `benchmarks/demo_seeds.py`: resuming, the summary and the report."""

import math

import pytest

from benchmarks import demo_seeds, store


def _row(config: str, seed: int, delta: float) -> dict:
    row = {"study": "demo_seeds", "config": config, "seed": seed}
    for name in demo_seeds.FILES:
        row[f"{name}_delta_points"] = delta
    return row


def test_summary_is_the_mean_and_standard_error_over_seeds():
    rows = [
        _row("default", 0, -1.0),
        _row("default", 1, -3.0),
        _row("default", 2, -2.0),
    ]
    rows.append(_row("consumer_fixed", 0, 0.5))
    summary = {entry["config"]: entry for entry in demo_seeds.summarize(rows)}
    mean, se, low, high = summary["default"]["compressed_dynamic"]
    assert mean == pytest.approx(-2.0)
    assert se == pytest.approx(1.0 / math.sqrt(3))
    assert (low, high) == (-3.0, -1.0)
    # One seed: no spread.
    assert summary["consumer_fixed"]["compressed_dynamic"] == (0.5, 0.0, 0.5, 0.5)
    assert "calibrated_fixed" not in summary


def test_report_names_the_options_and_every_seed(tmp_path):
    rows = [_row("default", 0, -1.5), _row("consumer_fixed", 1, 0.25)]
    path = tmp_path / "demo_seeds.md"
    demo_seeds.report(rows, path)
    text = path.read_text(encoding="utf-8")
    assert "`--weighting consumer --fixed-basis`" in text
    assert "`(defaults)`" in text
    assert "| default | -1.50 | - |" in text
    assert "| consumer_fixed | - | +0.25 |" in text


def test_finished_runs_are_skipped(tmp_path, monkeypatch):
    output = tmp_path / "demo_seeds.jsonl"
    store.append_row(output, _row("default", 0, -1.0))
    calls = []

    def fake_run_one(config, seed):
        calls.append((config, seed))
        return _row(config, seed, 0.0)

    monkeypatch.setattr(demo_seeds, "run_one", fake_run_one)
    args = demo_seeds.parse_args(
        ["--configs", "default", "consumer_fixed", "--seeds", "0", "--no-progress"]
    )
    args.output = output
    demo_seeds.run(args)
    assert calls == [("consumer_fixed", 0)]
    assert len(store.read_rows(output)) == 2
