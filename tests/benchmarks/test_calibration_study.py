"""Tests for `benchmarks/calibration_study.py`: pairing, ranking and the report."""

import json

import pytest

from benchmarks import calibration_study as study


def _rows(dataset, seed, devs, step0=(0.70, 0.74)):
    """One row per (layout, schedule); `devs` maps the pair to its dev accuracy."""
    rows = []
    for layout in study.LAYOUTS:
        for schedule in study.SCHEDULES:
            dev = devs.get((layout, schedule), 0.5)
            rows.append(
                {
                    "dataset": dataset,
                    "seed": seed,
                    "p": study.P,
                    "factorization": layout,
                    "method": schedule,
                    "dev_accuracy": dev,
                    "dev_accuracy_with_step0": dev,
                    "test_accuracy": dev - 0.01,
                    "step0_dev_accuracy": step0[layout.endswith("calibrated")],
                    "step0_test_accuracy": step0[layout.endswith("calibrated")],
                }
            )
    return rows


def test_only_seeds_every_pair_finished_are_averaged():
    best = ("bands6_calibrated", "calr_0.001_d0.8_h0.5")
    rows = _rows("r8", 0, {best: 0.9}) + _rows("r8", 1, {best: 0.7})
    rows = [r for r in rows if not (r["seed"] == 1 and r["method"] == "constant_0.001")]
    summary = study.summarize(rows)
    cell = summary["table"][best]["r8"]
    assert cell["n"] == 1
    assert cell["dev"] == pytest.approx(90.0)


def test_report_ranks_by_mean_dev_and_shows_step0(tmp_path):
    best = ("bands6_calibrated", "constant_0.001")
    rows = _rows("rotten_tomatoes", 0, {best: 0.8, study.DEFAULT: 0.75})
    rows += _rows("r8", 0, {best: 0.9, study.DEFAULT: 0.93})
    path = tmp_path / "calibration_study.md"
    study.report(rows, path)
    text = path.read_text()
    ranking = text.split("## After retraining")[1]
    # best: (80 + 90) / 2 = 85.00 > default (75 + 93) / 2 = 84.00
    first = ranking.split("\n")[4]
    assert "**bands6_calibrated**" in first and "constant_0.001" in first
    assert "85.00" in first and "+1.00" in first
    # Step 0: the calibrated layout's row shows its own accuracy.
    assert "| bands6_calibrated | 74.00 | 74.00 |" in text
    data = json.loads(path.with_suffix(".json").read_text())
    assert data["datasets"] == ["rotten_tomatoes", "r8"]


def test_calibrated_rule_is_the_callbacks():
    from tflite_lowrank.training.optimizer import _calr_settings

    peak = _calr_settings("calr", 0.1, calibrated=True)[0]
    assert study.CALIBRATED_RULE.startswith(f"calr_{peak:g}_d0.8_h0.5")
    assert _calr_settings("calr", 0.1)[0] == 1e-2
