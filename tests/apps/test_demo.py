"""Tests of `tflite_lowrank.apps.demo.run` and `tflite-lowrank demo`.

The default tier checks the arguments and the run folder's guards through the command
line in this process (the `cli` fixture), and runs the demo there on a slice of the
splits (60 training, 40 dev and 40 test texts). The integration tier runs the reduced
demo through the real `python -m tflite_lowrank_cli demo` (`--quick`: 500 training
texts, one epoch before and one after the split, real Rotten Tomatoes and GloVe) and
checks the run folder it leaves, and runs the full default demo.
"""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from tflite_lowrank.apps.demo import run as demo

_QUICK_TIMEOUT = 300  # seconds; the quick demo takes about 45 s on 2 busy cores.
_FULL_TIMEOUT = 900
_MODEL_KEYS = {
    "name",
    "file",
    "keras_model",
    "rank",
    "quantization",
    "size_bytes",
    "embedding_bytes",
    "accuracy",
    "accuracy_delta",
    "agreement",
    "latency_p50_ms",
    "latency_p90_ms",
    "load_time_ms",
    "peak_memory_bytes",
    "model_memory_bytes",
    "max_output_difference",
}


def _cli(*args, cwd=None, timeout=60):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "tflite_lowrank_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


def _digests(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
    }


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):  # only integration tests use it
    """Runs `tflite-lowrank demo --quick` once; returns (run folder, process, secs)."""
    output_dir = tmp_path_factory.mktemp("demo") / "run"
    start = time.perf_counter()
    completed = _cli(
        "demo", "--quick", "--output-dir", str(output_dir), timeout=_QUICK_TIMEOUT
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        pytest.fail(
            f"demo --quick exited {completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    return output_dir, completed, seconds


@pytest.fixture(scope="module")
def quick_results(quick_run):
    output_dir, _, _ = quick_run
    return json.loads((output_dir / demo.RESULTS_JSON).read_text(encoding="utf-8"))


@pytest.mark.integration
def test_demo_quick_prints_table_on_stdout_and_progress_on_stderr(quick_run):
    output_dir, completed, _ = quick_run
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("| model | rank | weights | accuracy |")
    for stem in demo.TFLITE_FILES:
        assert any(line.startswith(f"| {stem}") for line in lines), stem
    assert f"Run folder {output_dir}" in completed.stdout
    # Keras progress and the stage lines go to stderr, never into the table.
    assert "Epoch 1/2" not in completed.stdout
    assert "Epoch 1/2" in completed.stderr
    assert "[1/6]" in completed.stderr
    assert "[6/6] done" in completed.stderr
    assert "Finished in" in completed.stderr


@pytest.mark.integration
def test_demo_quick_writes_every_run_file_and_nothing_else(quick_run):
    output_dir, _, _ = quick_run
    assert sorted(path.name for path in output_dir.iterdir()) == sorted(demo.RUN_FILES)
    for name in demo.RUN_FILES:
        assert (output_dir / name).stat().st_size > 0, name
    # The staging folder beside the run is gone.
    assert [path.name for path in output_dir.parent.iterdir()] == [output_dir.name]
    assert (output_dir / demo.PLOT_FILENAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
def test_demo_quick_results_json_schema(quick_run, quick_results):
    output_dir, _, _ = quick_run
    results = quick_results
    assert list(results) == [
        "format_version",
        "created_by",
        "settings",
        "data",
        "rank",
        "training",
        "reference",
        "models",
        "android",
        "stage_seconds",
        "environment",
    ]
    assert results["format_version"] == demo.RESULTS_FORMAT_VERSION
    assert results["settings"] == {
        "dataset": "rotten_tomatoes",
        "model": "dan",
        "compression": 0.9,
        "epochs": 2,
        "split_epoch": 1,
        "seed": 0,
        "max_train_samples": 500,
        "batch_size": 50,
        "learning_rate": 1e-3,
        "seq_len": 40,
        "train_basis": None,
        "calibrate": False,
        "weighting": "auto",
    }
    data = results["data"]
    assert data["num_train"] == 500
    assert data["label_names"] == ["rotten", "fresh"]
    vocab = (output_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert data["vocab_size"] == len(vocab)
    assert vocab[:2] == ["<pad>", "<unk>"]
    # k = floor(0.1 * V * 50 / (V + 50)) for the 50-d GloVe table.
    assert results["rank"] == int(0.1 * len(vocab) * 50 / (len(vocab) + 50))

    baseline, compressed = (
        results["training"]["baseline"],
        results["training"]["compressed"],
    )
    assert baseline["factorization"] is None
    assert compressed["factorization"]["rank"] == results["rank"]
    assert compressed["factorization"]["epoch"] == 1
    assert compressed["best_epoch"] == 2  # chosen among factorized epochs only
    for summary in (baseline, compressed):
        assert len(summary["dev_accuracy_per_epoch"]) == summary["epochs"] == 2
        best = summary["dev_accuracy_per_epoch"][summary["best_epoch"] - 1]
        assert summary["dev_accuracy"] == best

    assert results["reference"] == "baseline_float32"
    assert list(results["models"]) == list(demo.TFLITE_FILES)
    for stem, model in results["models"].items():
        assert set(model) == _MODEL_KEYS, stem
        assert model["file"] == demo.TFLITE_FILES[stem]
        assert model["rank"] == (results["rank"] if "compressed" in stem else None)
        assert model["quantization"] == stem.split("_")[1]
        assert 0.5 <= model["accuracy"] <= 1.0, stem  # better than chance
        assert model["size_bytes"] == (output_dir / model["file"]).stat().st_size
        assert model["latency_p50_ms"] > 0
        assert model["peak_memory_bytes"] > 0
    assert results["models"]["baseline_float32"]["accuracy_delta"] == 0.0
    assert results["android"] == {
        "baseline": "baseline_float32.tflite",
        "compressed": "compressed_dynamic.tflite",
    }
    assert set(results["stage_seconds"]) == {
        "data",
        "train_baseline",
        "train_compressed",
        "convert",
        "benchmark",
        "total",
    }


@pytest.mark.integration
def test_demo_quick_compressed_files_are_smaller(quick_results):
    models = quick_results["models"]
    for quantization in ("float32", "dynamic"):
        baseline = models[f"baseline_{quantization}"]
        compressed = models[f"compressed_{quantization}"]
        assert compressed["size_bytes"] < baseline["size_bytes"] / 3, quantization
        assert compressed["embedding_bytes"] < baseline["embedding_bytes"] / 5
    assert (
        models["baseline_dynamic"]["size_bytes"]
        < models["baseline_float32"]["size_bytes"] / 2
    )
    assert min(models.values(), key=lambda m: m["size_bytes"])["name"] == (
        "compressed_dynamic"
    )


@pytest.mark.integration
def test_demo_quick_files_follow_the_contracts(quick_run, quick_results):
    from tflite_lowrank.litert import contract as _contract
    from tflite_lowrank.litert import flatbuffer as _flatbuffer

    output_dir, _, _ = quick_run
    for file_name in demo.TFLITE_FILES.values():
        info = _flatbuffer.inspect_model((output_dir / file_name).read_bytes())
        assert _contract.contract_problems(info) == [], file_name
        ((input_spec,), (output_spec,)) = info.inputs, info.outputs
        assert (input_spec.name, input_spec.dtype) == ("token_ids", "int32")
        assert list(input_spec.shape) == [1, 40]
        assert list(output_spec.shape) == [1, 2]
    labels = (output_dir / "labels.txt").read_text(encoding="utf-8").split("\n")
    assert labels == ["rotten", "fresh", ""]
    lines = (output_dir / "test.tsv").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == quick_results["data"]["num_test"]
    for line in lines[:-1]:
        label, tab, text = line.partition("\t")
        assert tab and label in ("rotten", "fresh")
        assert "\r" not in text


@pytest.mark.integration
def test_demo_rerun_without_overwrite_exits_2_and_leaves_the_run(quick_run):
    output_dir, _, _ = quick_run
    before = _digests(output_dir)
    completed = _cli("demo", "--quick", "--output-dir", str(output_dir))
    assert completed.returncode == 2
    assert "already holds a run" in completed.stderr
    assert "--overwrite" in completed.stderr
    assert "Received: output_dir=" in completed.stderr
    assert completed.stdout == ""
    assert _digests(output_dir) == before
    assert [path.name for path in output_dir.parent.iterdir()] == [output_dir.name]


@pytest.mark.parametrize("name", [demo.RESULTS_JSON, "compressed_dynamic.tflite"])
def test_demo_into_a_folder_holding_a_run_exits_2_and_leaves_it(tmp_path, name, cli):
    # The guard the integration test above checks on a real run, on one run file.
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / name).write_text("an earlier run")
    (output_dir / "notes.txt").write_text("mine")
    before = _digests(output_dir)
    completed = cli("demo", "--quick", "--output-dir", output_dir)
    assert completed.returncode == 2, completed.stderr
    assert "already holds a run" in completed.stderr
    assert name in completed.stderr
    assert "--overwrite" in completed.stderr
    assert "Received: output_dir=" in completed.stderr
    assert completed.stdout == ""
    assert _digests(output_dir) == before
    assert [path.name for path in tmp_path.iterdir()] == [output_dir.name]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--compression", "1.5"], "compression=1.5"),
        (["--compression", "0"], "compression=0"),
        (["--compression", "abc"], "--compression"),
        (["--model", "bert"], "model='bert'"),
        (["--dataset", "imdb"], "dataset='imdb'"),
        (["--epochs", "1"], "epochs=1"),
        (["--epochs", "4", "--split-epoch", "4"], "split_epoch=4"),
        (["--split-epoch", "0"], "split_epoch=0"),
        (["--max-train-samples", "0"], "max_train_samples=0"),
        (["--seed", "-1"], "seed=-1"),
    ],
    ids=lambda value: "_".join(value) if isinstance(value, list) else None,
)
def test_demo_rejects_bad_arguments_with_exit_2_naming_them(tmp_path, args, named, cli):
    output_dir = tmp_path / "run"
    completed = cli("demo", "--output-dir", output_dir, *args)
    assert completed.returncode == 2, completed.stderr
    assert named in completed.stderr
    assert not output_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_an_output_dir_that_is_a_file(tmp_path, cli):
    target = tmp_path / "run"
    target.write_text("not a folder")
    completed = cli("demo", "--quick", "--output-dir", target)
    assert completed.returncode == 2
    assert "`output_dir` is a file" in completed.stderr
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dataset": 3}, TypeError, "Received: dataset=3"),
        ({"model": "LSTM"}, ValueError, "Received: model='LSTM'"),
        ({"compression": True}, TypeError, "Received: compression=True"),
        ({"epochs": 2.0}, TypeError, "Received: epochs=2.0"),
        ({"epochs": 3, "split_epoch": 5}, ValueError, "split_epoch=5, epochs=3"),
        ({"max_train_samples": 5}, ValueError, "max_train_samples=5"),
        ({"overwrite": "yes"}, TypeError, "Received: overwrite='yes'"),
        ({"progress": 1}, TypeError, "Received: progress=1"),
        ({"train_basis": "no"}, TypeError, "Received: train_basis='no'"),
        ({"calibrate": 1}, TypeError, "Received: calibrate=1"),
        ({"weighting": 1}, TypeError, "Received: weighting=1"),
        ({"weighting": "kernel"}, ValueError, "Received: weighting='kernel'"),
        (
            {"weighting": "consumer", "calibrate": True},
            ValueError,
            "weighting='consumer', calibrate=True",
        ),
        ({"output_dir": 42}, TypeError, "Received: output_dir=42"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else None,
)
def test_run_demo_checks_arguments_before_any_work(tmp_path, kwargs, error, match):
    kwargs.setdefault("output_dir", tmp_path / "run")
    with pytest.raises(error, match=match):
        demo.run_demo(**kwargs)
    assert list(tmp_path.iterdir()) == []


def test_default_output_dir_is_under_runs_and_marks_subsamples():
    assert str(demo.default_output_dir("rotten_tomatoes", "dan", 0.9)) == (
        "runs/rotten_tomatoes-dan-p0.9"
    )
    assert str(demo.default_output_dir("r8", "lstm", 0.75, 500)) == (
        "runs/r8-lstm-p0.75-n500"
    )
    fixed = demo.default_output_dir("r8", "dan", 0.9, train_basis=False)
    assert str(fixed) == "runs/r8-dan-p0.9-fixed"
    weighted = demo.default_output_dir(
        "r8", "dan", 0.9, train_basis=False, weighting="consumer"
    )
    assert str(weighted) == "runs/r8-dan-p0.9-fixed-consumer"
    # The defaults (train_basis=None, weighting="auto") add nothing; explicit
    # choices are marked, so an explicit run never lands in a default one.
    plain = demo.default_output_dir(
        "r8", "lstm", 0.9, train_basis=True, weighting="none"
    )
    assert str(plain) == "runs/r8-lstm-p0.9-trained-plain"


def test_demo_help_lists_the_options(cli):
    # How fast `--help` is, is the console script's business (tests/cli: it imports
    # neither Keras nor TensorFlow); a wall-clock bound here failed on a loaded box.
    completed = cli("demo", "--help")
    assert completed.returncode == 0
    for option in (
        "--dataset",
        "--model",
        "--compression",
        "--fixed-basis",
        "--calibrate",
        "--weighting",
        "--output-dir",
        "--quick",
    ):
        assert option in completed.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    ("options", "settings", "factorization"),
    [
        # 500 training texts: all of them, in 16 batches of 32.
        (
            ("--fixed-basis", "--calibrate"),
            {"calibrate": True, "train_basis": False},
            {"calibration_batches": 16},
        ),
        # The data-free option for Rotten Tomatoes; the DAN's first Dense after
        # the mean reads the vectors.
        (
            ("--fixed-basis", "--weighting", "consumer"),
            {"weighting": "consumer", "train_basis": False},
            {"calibration_batches": 0, "consumer": "hidden_1"},
        ),
        # The LSTM's default at p = 0.9 (weighting="auto", train_basis=None):
        # weighted by the LSTM's input kernel, bases fixed.
        (
            ("--model", "lstm"),
            {"weighting": "auto", "train_basis": None},
            {"calibration_batches": 0, "consumer": "lstm"},
        ),
    ],
    ids=["calibrated", "consumer", "lstm-default"],
)
def test_demo_quick_with_a_fixed_weighted_split(
    tmp_path, options, settings, factorization
):
    # Integration tier: a second demo run (about a minute each); the options themselves
    # are tested with the callback (tests/compression/test_train_basis.py,
    # test_calibration.py, test_consumer_weighting.py, test_recurrent_recipe.py).
    output_dir = tmp_path / "run"
    completed = _cli(
        "demo",
        "--quick",
        *options,
        "--no-progress",
        "--output-dir",
        str(output_dir),
        timeout=_QUICK_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((output_dir / demo.RESULTS_JSON).read_text(encoding="utf-8"))
    assert results["settings"] | settings == results["settings"]
    split = results["training"]["compressed"]["factorization"]
    assert split["train_basis"] is False
    assert split | factorization == split
    assert results["models"]["compressed_float32"]["max_output_difference"] < 1e-3
    if "consumer" in factorization:
        report = (output_dir / "results.md").read_text(encoding="utf-8")
        consumer = factorization["consumer"]
        assert f"weighted by the input kernel of '{consumer}'" in report


@pytest.mark.integration
def test_demo_full_default_run_keeps_accuracy_and_shrinks_the_model(tmp_path):
    # The README's first command, as a new user runs it (default output folder).
    start = time.perf_counter()
    completed = _cli("demo", cwd=tmp_path, timeout=_FULL_TIMEOUT)
    seconds = time.perf_counter() - start
    assert completed.returncode == 0, completed.stderr[-3000:]
    output_dir = tmp_path / "runs" / "rotten_tomatoes-dan-p0.9"
    assert sorted(path.name for path in output_dir.iterdir()) == sorted(demo.RUN_FILES)
    results = json.loads((output_dir / demo.RESULTS_JSON).read_text(encoding="utf-8"))
    models = results["models"]
    assert results["settings"]["epochs"] == 8
    assert results["data"]["num_train"] > 10_000
    assert results["rank"] == 4
    assert models["baseline_float32"]["accuracy"] > 0.70
    # The compressed model keeps most of the accuracy at about 1/10 of the size.
    assert models["compressed_dynamic"]["accuracy_delta"] > -0.05
    assert models["compressed_float32"]["size_bytes"] < (
        0.15 * models["baseline_float32"]["size_bytes"]
    )
    assert seconds < 600  # the budget on 2 cores

    # Replacing the run needs --overwrite and keeps unrelated files.
    (output_dir / "notes.txt").write_text("mine")
    again = _cli(
        "demo",
        "--quick",
        "--output-dir",
        str(output_dir),
        "--overwrite",
        timeout=_QUICK_TIMEOUT,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((output_dir / demo.RESULTS_JSON).read_text(encoding="utf-8"))
    assert rerun["settings"]["max_train_samples"] == 500
    assert (output_dir / "notes.txt").read_text() == "mine"


def test_demo_on_a_slice_of_the_data_writes_the_run_in_process(
    tmp_path, monkeypatch, cli
):
    # The default tier's demo run: the command line in this process, on the first
    # 60 training texts and 40 dev and test texts of the real splits (the quick demo
    # on whole splits is in the integration tier above). Checks the streams, the run
    # folder, results.json's layout and the files' contracts, not the accuracies.
    from tflite_lowrank.apps.demo import training
    from tflite_lowrank.data.datasets import TextSplit
    from tflite_lowrank.litert import contract as _contract
    from tflite_lowrank.litert import flatbuffer as _flatbuffer

    def head(split, rows):
        groups = None if split.groups is None else split.groups[:rows]
        return TextSplit(list(split.texts[:rows]), split.labels[:rows], groups)

    load_dataset = training.load_dataset

    def sliced(name, **kwargs):
        data = load_dataset(name, **kwargs)
        return dataclasses.replace(
            data, dev=head(data.dev, 40), test=head(data.test, 40)
        )

    monkeypatch.setattr(training, "load_dataset", sliced)
    output_dir = tmp_path / "run"
    completed = cli(
        "demo", "--quick", "--max-train-samples", "60", "--output-dir", output_dir
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("| model | rank | weights | accuracy |")
    for stem in demo.TFLITE_FILES:
        assert any(line.startswith(f"| {stem}") for line in lines), stem
    assert f"Run folder {output_dir}" in completed.stdout
    assert "[1/6]" in completed.stderr and "[6/6] done" in completed.stderr
    assert "Epoch 1/2" in completed.stderr and "Epoch 1/2" not in completed.stdout
    assert sorted(path.name for path in output_dir.iterdir()) == sorted(demo.RUN_FILES)
    assert [path.name for path in tmp_path.iterdir()] == [output_dir.name]
    results = json.loads((output_dir / demo.RESULTS_JSON).read_text(encoding="utf-8"))
    assert results["format_version"] == demo.RESULTS_FORMAT_VERSION
    assert results["settings"]["max_train_samples"] == 60
    assert (results["data"]["num_train"], results["data"]["num_test"]) == (60, 40)
    assert list(results["models"]) == list(demo.TFLITE_FILES)
    for stem, model in results["models"].items():
        assert set(model) == _MODEL_KEYS, stem
        assert model["size_bytes"] == (output_dir / model["file"]).stat().st_size
        info = _flatbuffer.inspect_model((output_dir / model["file"]).read_bytes())
        assert _contract.contract_problems(info) == [], stem
    models = results["models"]
    for quantization in ("float32", "dynamic"):
        compressed = models[f"compressed_{quantization}"]
        assert (
            compressed["size_bytes"] < models[f"baseline_{quantization}"]["size_bytes"]
        )
    lines = (output_dir / "test.tsv").read_text(encoding="utf-8").split("\n")
    assert len(lines) - 1 == 40
