"""`benchmarks/pipelines.py` and `benchmarks/unseen_model.py`: the choice of a
default and the target tables, on constructed rows (no training)."""

import pytest

from benchmarks import pipelines, unseen_model


def _row(dataset, protocol, recipe, seed, dev, test, embedding_bytes=100):
    files = {
        variant: {
            "dev_accuracy": dev,
            "test_accuracy": test,
            "bytes": embedding_bytes + 10,
            "embedding_bytes": embedding_bytes,
            "embedding_share": 0.9,
        }
        for variant in pipelines.MODES
    }
    return {
        "dataset": dataset,
        "model": "dan",
        "protocol": protocol,
        "recipe": recipe,
        "seed": seed,
        "files": files,
        "keras_dev_accuracy": dev,
        "split_happened": recipe != "baseline",
    }


def _rows(deltas: dict):
    """Rows with baseline accuracy 0.8 and, per (pipeline, recipe), dev = test
    deltas in points for seeds 0 and 1."""
    rows = []
    for (dataset, protocol), recipes in deltas.items():
        for seed in (0, 1):
            rows.append(_row(dataset, protocol, "baseline", seed, 0.8, 0.8, 10_000))
            for recipe, delta in recipes.items():
                value = 0.8 + delta / 100
                rows.append(_row(dataset, protocol, recipe, seed, value, value, 200))
    return rows


def test_the_default_is_chosen_by_its_worst_pipeline_on_dev():
    recipes = {r: -0.2 for r in pipelines.CANDIDATES}
    rows = _rows(
        {
            ("r8", "user"): {**recipes, "default": -3.0, "single": -1.0},
            ("bbc", "bench"): {**recipes, "default": +2.0, "single": -1.5},
        }
    )
    choice = pipelines.choose(rows)
    by = {t["recipe"]: t for t in choice["recipes"]}
    assert by["default"]["worst_dev"] == pytest.approx(-3.0)
    assert by["default"]["worst_dev_pipeline"] == "r8/dan/user"
    assert by["default"]["mean_dev"] == pytest.approx(-0.5)
    assert by["single"]["worst_dev"] == pytest.approx(-1.5)
    # Every other candidate's worst is -0.2: the best worst pipeline wins (ties:
    # the better mean, then the first).
    assert choice["chosen"] not in ("default", "single")
    assert by[choice["chosen"]]["worst_dev"] == pytest.approx(-0.2)


def test_the_two_best_screened_are_confirmed_on_all_their_seeds():
    recipes = {r: -3.0 for r in pipelines.CANDIDATES}
    first, second = pipelines.CANDIDATES[:2]
    screened = {**recipes, first: -0.5, second: -0.6}
    rows = _rows({("r8", "user"): screened, ("rt", "bench"): screened})
    # Seeds 2 to 4 of the two finalists only: the first falls behind there.
    for seed in (2, 3, 4):
        for pipeline in (("r8", "user"), ("rt", "bench")):
            rows.append(_row(*pipeline, "baseline", seed, 0.8, 0.8, 10_000))
            rows.append(_row(*pipeline, first, seed, 0.78, 0.78, 200))
            rows.append(_row(*pipeline, second, seed, 0.794, 0.794, 200))
    choice = pipelines.choose(rows)
    screening = {t["recipe"]: t for t in choice["recipes"]}
    assert screening[first]["worst_dev"] == pytest.approx(-0.5)  # Seeds 0 and 1.
    assert choice["finalists"] == [first, second]
    confirmed = {t["recipe"]: t for t in choice["confirmation"]["recipes"]}
    assert confirmed[first]["worst_dev"] == pytest.approx((-0.5 * 2 - 2.0 * 3) / 5)
    assert confirmed[second]["worst_dev"] == pytest.approx(-0.6)
    assert choice["chosen"] == second


def test_targets_need_the_bytes_and_the_accuracy():
    rows = _rows({("r8", "user"): {"default": -0.9, "qat_int4": -1.6}})
    # default's file: 210 bytes, 10 beyond the table in the baseline's file too:
    # 200 of the table's 10,000 bytes = 2%.
    table = pipelines.target_table(rows)
    first = [e for e in table if e["target"].startswith("<= 1.0")]
    (default,) = [e for e in first if e["recipe"] == "default"]
    assert default["share"] == pytest.approx(0.02)
    assert default["test_delta"] == pytest.approx(-0.9)
    assert default["met"]
    (qat,) = [e for e in table if e["recipe"] == "qat_int4"]
    assert qat["target"].startswith("<= 1.5") and not qat["met"]  # 2% > 1.3%
    (five,) = [e for e in table if e["target"].startswith("<= 0.5")]
    assert five["recipe"] == "default" and not five["met"]  # -0.9 < -0.5
    assert any("pipelines met" in line for line in pipelines.target_lines(table))


def _unseen_row(recipe, seed, float32, int8=None, **recorded):
    """An `unseen_model` row (int8 accuracy = float32's unless given)."""
    return {
        "recipe": recipe,
        "seed": seed,
        "files": {
            "float32": {"test_accuracy": float32, "embedding_bytes": 1000},
            "int8": {
                "test_accuracy": float32 if int8 is None else int8,
                "embedding_bytes": 25,
            },
        },
        **recorded,
    }


def test_unseen_model_summary_pairs_seeds():
    row = _unseen_row
    rows = [
        row("baseline", 0, 0.80, 0.80),
        row("default", 0, 0.79, 0.785),
        row("baseline", 1, 0.82, 0.82),
        row("default", 1, 0.82, 0.815),
        row("default", 2, 0.5, 0.5),  # no baseline yet: not paired
    ]
    summary = unseen_model.summarize(rows)
    assert summary["seeds"] == [0, 1]
    assert summary["deltas"]["int8"] == pytest.approx([-1.5, -0.5])
    assert summary["int8_mean"] == pytest.approx(-1.0)
    assert summary["share_median"] == pytest.approx(0.025)
    assert summary["met"]


def test_unseen_model_report_names_the_split_options_the_runs_recorded(tmp_path):
    row = _unseen_row
    output = tmp_path / "late.jsonl"
    rows = [
        row("baseline", 0, 0.80),
        row("default", 0, 0.79, split_epoch=8, fixed_basis_above=None),
    ]
    unseen_model.report(rows, output)
    text = (tmp_path / "late.md").read_text()
    assert "`at_epoch=8`, `fixed_basis_above=None`" in text
    # Rows from before the options were recorded: the split epoch of then, no rule.
    unseen_model.report([row("baseline", 0, 0.8), row("default", 0, 0.79)], output)
    text = (tmp_path / "late.md").read_text()
    assert f"`at_epoch={unseen_model.SPLIT_EPOCH}`. " in text
