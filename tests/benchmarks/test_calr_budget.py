"""Tests for `benchmarks/calr_budget.py`: the budget rule, pairing and the report."""

import pytest

from benchmarks import calr_budget


def _row(dataset, p, method, seed, dev):
    return {
        "study": "recipe",
        "dataset": dataset,
        "model": "dan",
        "p": p,
        "method": method,
        "seed": seed,
        "dev_accuracy": dev,
        "dev_accuracy_with_step0": dev,
        "test_accuracy": dev - 0.01,
        "best_retrain_epoch_with_step0": 1,
    }


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.9, "calr_0.01_d0.8_h0.5"), (0.85, "calr_0.01_d0.8_h0.5")]
    + [(0.8, "calr_0.002_d0.8_h0.5_f0.25"), (0.5, "calr_0.002_d0.8_h0.5_f0.25")],
)
def test_rule_is_the_callbacks_threshold(p, expected):
    from benchmarks import recipe_study
    from tflite_lowrank.training.optimizer import _calr_settings

    assert calr_budget.rule(p) == expected
    # The study's schedule is exactly what the callback installs at that budget.
    schedule = recipe_study.SCHEDULES[calr_budget.rule(p)]
    installed = _calr_settings("calr", round(1.0 - p, 9))
    wanted = (schedule.peak, schedule.peak * schedule.floor_ratio, schedule.decay)
    assert installed == pytest.approx(wanted)


def test_summary_pairs_seeds_finished_by_every_schedule():
    rows = [
        _row("r8", 0.5, "constant_0.001", 0, 0.90),
        _row("r8", 0.5, "constant_0.001", 1, 0.80),  # no partner for seed 1
        _row("r8", 0.5, "calr_0.01_d0.8_h0.5", 0, 0.95),
        _row("rotten_tomatoes", 0.5, "constant_0.001", 0, 0.70),
        _row("rotten_tomatoes", 0.5, "calr_0.01_d0.8_h0.5", 0, 0.60),
    ]
    summary = calr_budget.summarize(rows)
    scores = summary[0.5]["scores"]
    assert summary[0.5]["datasets"] == {"rotten_tomatoes": [0], "r8": [0]}
    assert scores["constant_0.001"]["r8"] == pytest.approx(0.90)
    assert scores["constant_0.001"]["mean"] == pytest.approx(0.80)
    assert scores["calr_0.01_d0.8_h0.5"]["mean"] == pytest.approx(0.775)
    choice = calr_budget.select(summary)
    assert choice["per_budget"][0.5][0] == "constant_0.001"


def test_report_names_the_rule_and_the_best_alternative(tmp_path):
    rows = []
    for p in (0.5, 0.9):
        for seed in (0, 1):
            for method, dev in (
                ("calr_0.01_d0.8_h0.5", 0.80 if p == 0.9 else 0.70),
                ("calr_0.002_d0.8_h0.5_f0.25", 0.75),
                ("constant_0.001", 0.74),
            ):
                rows.append(_row("r8", p, method, seed, dev))
    path = tmp_path / "calr_budget.md"
    calr_budget.report(rows, path)
    text = path.read_text()
    assert "| 0.5 | `calr_0.002_d0.8_h0.5_f0.25` | `constant_0.001` | " in text
    assert "`calr_0.002_d0.8_h0.5_f0.25` | +5.00 | +1.00 |" in text
    assert "| 0.9 | `calr_0.01_d0.8_h0.5` | `constant_0.001` | " in text
    assert path.with_suffix(".png").stat().st_size > 0
