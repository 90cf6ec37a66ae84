"""Tests for the pure pieces of `benchmarks/harness.py` (no training)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import harness, store

ROOT = Path(__file__).resolve().parents[2]


class _Tokenizer:
    vocabulary_size = 7
    seq_len = 3


def _data(num_train=10):
    x = np.arange(num_train * 3, dtype=np.int32).reshape(num_train, 3)
    y = np.arange(num_train, dtype=np.int32) % 2
    return harness.PreparedData("toy", _Tokenizer(), 2, x, y, x[:2], y[:2], x, y)


def test_environment_defaults_are_set_on_import_without_overriding(monkeypatch):
    for name in harness.ENVIRONMENT:
        assert os.environ[name]  # set by the import (or by the caller before it)
        monkeypatch.setenv(name, "caller's")
    harness.set_environment()
    assert all(os.environ[name] == "caller's" for name in harness.ENVIRONMENT)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    harness.set_environment()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_every_dataset_has_a_sequence_length_and_a_short_name():
    assert set(harness.SEQ_LEN) == set(harness.DATASETS) == set(harness.SHORT_NAMES)
    # The paper's 40 for the snippets; the lengths the committed studies ran with.
    assert harness.SEQ_LEN == {
        "rotten_tomatoes": 40,
        "r8": 100,
        "bbc": 200,
        "20newsgroups": 150,
    }


def test_recipes():
    assert harness.recipe_for(False) == harness.Recipe()
    quick = harness.recipe_for(True)
    assert (quick.pretrain_epochs, quick.retrain_epochs) == (1, 2)
    assert harness.Recipe().to_dict() == {
        "batch_size": 50,
        "pretrain_epochs": 3,
        "retrain_epochs": 5,
        "peak_learning_rate": 1e-2,
        "adam_epsilon": 1e-7,
        "decay": 0.1,
    }


def test_prepared_data_counts_steps_rounding_up():
    data = _data(num_train=101)
    assert data.steps_per_epoch(50) == 3
    assert (data.vocab_size, data.seq_len) == (7, 3)


def test_calibration_sample_is_seeded_sorted_and_capped():
    data = _data(num_train=10)
    x, y = harness.calibration_sample(data, seed=3, count=4)
    again, _ = harness.calibration_sample(data, seed=3, count=4)
    np.testing.assert_array_equal(x, again)
    rows = x[:, 0] // 3
    assert len(rows) == 4 and list(rows) == sorted(rows)
    np.testing.assert_array_equal(y, data.y_train[rows])
    # The callback's own draw (`training.calibration`), which the studies used.
    expected = np.sort(np.random.default_rng(3).permutation(10)[:4])
    np.testing.assert_array_equal(rows, expected)
    everything, _ = harness.calibration_sample(data, seed=0)
    assert len(everything) == 10  # fewer examples than CALIBRATION_EXAMPLES


def test_start_unpacks_in_order():
    start = harness.Start("data", "recipe", "table", "pretrained")
    assert tuple(start) == ("data", "recipe", "table", "pretrained")


def test_phase_fields_and_relative_to_base():
    phase = harness.PhaseResult(best_dev=0.8, best_epoch=5, train_seconds=12.5)
    assert harness.phase_fields(phase) == {
        "dev_accuracy": 0.8,
        "best_epoch": 5,
        "train_seconds": 12.5,
    }
    base = {
        "embedding_bytes": 4000,
        "tflite_bytes": 10000,
        "latency_p50_ms": 2.0,
        "test_accuracy": 0.75,
    }
    row = {
        "embedding_bytes": 100,
        "tflite_bytes": 2500,
        "latency_p50_ms": 1.0,
        "test_accuracy": 0.7,
    }
    assert harness.relative_to(row, base) is row
    assert row["embedding_bytes_ratio"] == 0.025
    assert row["tflite_bytes_ratio"] == 0.25
    assert row["latency_ratio"] == 0.5
    assert row["accuracy_delta_points"] == pytest.approx(-5.0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["finished_at"])


def test_dev_selection_is_the_only_lazy_attribute():
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        harness.Missing  # noqa: B018


def test_grid_calr_is_relative_to_the_peak():
    data = _data(num_train=100)
    recipe = harness.Recipe(batch_size=10)
    config = harness.calr(data, recipe, "retrain").get_config()
    assert config["initial_learning_rate"] == 1e-2
    assert config["minimal_learning_rate"] == pytest.approx(1e-5)
    assert config["step_size"] == 5.0  # half an epoch of 10 steps
    assert config["decay"] == 0.1
    pretrain = harness.calr(data, recipe, "pretrain").get_config()
    assert pretrain["minimal_learning_rate"] == pytest.approx(1e-7)


def test_store_missing_keeps_order():
    done = {("a", 1), ("c", 3)}
    keys = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    assert store.missing(keys, done) == [("b", 2), ("d", 4)]


def test_report_paths_import_neither_keras_nor_the_package():
    """`--report` of every script runs without TensorFlow (seconds, not minutes)."""
    code = (
        "import json, sys\n"
        "from benchmarks import calibration_study, calr_budget, demo_seeds, "
        "frontier, harness, peers, recipe_study, report, split_probes, stats, store\n"
        "print(json.dumps([m for m in ('keras', 'tensorflow', 'tflite_lowrank') "
        "if m in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(completed.stdout) == []
