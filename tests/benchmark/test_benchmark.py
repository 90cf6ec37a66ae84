"""`benchmark_tflite` and `compare_models` on tiny converted files (LiteRT)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.benchmark import api as benchmark
from tflite_lowrank.benchmark import child as _benchmark_child
from tflite_lowrank.benchmark.api import (
    BenchmarkResult,
    Comparison,
    OutputMismatchError,
    benchmark_tflite,
    compare_models,
)
from tflite_lowrank.export.converter import convert_to_tflite
from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, SEQ_LEN, RANK = 50, 8, 5, 2
FAST = {"warmup_runs": 2, "num_runs": 20, "progress": False}


def build_dan(*, factorized: bool, num_labels: int = 2, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    token_ids = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    if factorized:
        embedding = LowRankEmbedding(VOCAB, DIM, RANK, mask_zero=True)
    else:
        embedding = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)
    x = keras.layers.GlobalAveragePooling1D()(embedding(token_ids))
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(num_labels, activation="softmax")(x)
    return keras.Model(token_ids, outputs)


def litert_predictions(path, token_ids: np.ndarray) -> np.ndarray:
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return np.array(
        [np.argmax(runner(token_ids=row[None, :])["output_0"]) for row in token_ids]
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, VOCAB, size=(40, SEQ_LEN)).astype(np.int32)
    token_ids[::3, 3:] = 0
    labels = rng.integers(0, 2, size=40)
    return token_ids, labels


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("benchmark")
    token_ids, _ = data
    paths = {
        "baseline": convert_to_tflite(
            build_dan(factorized=False), folder / "baseline.tflite"
        ).path,
        "lowrank": convert_to_tflite(
            build_dan(factorized=True), folder / "lowrank.tflite"
        ).path,
        "int8": convert_to_tflite(
            build_dan(factorized=True),
            folder / "lowrank_int8.tflite",
            quantization="int8",
            representative_data=token_ids,
        ).path,
        "three_labels": convert_to_tflite(
            build_dan(factorized=False, num_labels=3), folder / "three.tflite"
        ).path,
    }
    return paths


@pytest.fixture(scope="module")
def baseline_result(files, data):
    token_ids, labels = data
    return benchmark_tflite(
        files["baseline"], token_ids=token_ids, labels=labels, **FAST
    )


def test_benchmark_tflite_reports_every_measurement(baseline_result, files, data):
    result = baseline_result
    assert isinstance(result, BenchmarkResult)
    assert result.size_bytes == os.path.getsize(files["baseline"])
    assert (result.seq_len, result.num_labels) == (SEQ_LEN, 2)
    assert (result.num_threads, result.warmup_runs, result.num_runs) == (1, 2, 20)
    assert result.num_samples == len(data[0])
    assert result.load_time_ms > 0
    assert result.first_inference_ms > 0
    assert 0 < result.latency_p50_ms <= result.latency_p90_ms
    assert result.latency_mean_ms > 0
    assert result.model_memory_bytes > 0
    # The child imports NumPy and LiteRT only: TensorFlow alone would take 500 MB.
    assert result.model_memory_bytes < result.peak_memory_bytes < 300 * 2**20


def test_benchmark_tflite_accuracy_matches_litert_predictions(
    baseline_result, files, data
):
    token_ids, labels = data
    predictions = litert_predictions(files["baseline"], token_ids)
    np.testing.assert_array_equal(baseline_result.predictions, predictions)
    assert baseline_result.accuracy == pytest.approx(np.mean(predictions == labels))


def test_benchmark_result_to_dict_is_json_without_predictions(baseline_result):
    data = json.loads(json.dumps(baseline_result.to_dict()))
    assert "predictions" not in data
    assert data["latency_p50_ms"] == baseline_result.latency_p50_ms
    assert data["accuracy"] == baseline_result.accuracy


def test_benchmark_tflite_without_data_uses_valid_random_ids(files):
    result = benchmark_tflite(files["lowrank"], **FAST)
    assert result.accuracy is None
    assert result.predictions is None
    assert result.num_samples == 64


def test_benchmark_tflite_shows_progress_on_stderr(files, data, capfd):
    benchmark_tflite(
        files["lowrank"], token_ids=data[0], warmup_runs=0, num_runs=5, progress=True
    )
    captured = capfd.readouterr()
    assert "lowrank.tflite" in captured.err
    assert captured.out == ""


def test_benchmark_tflite_reports_a_dead_child(files, monkeypatch, tmp_path):
    dying = tmp_path / "dying_worker.py"
    dying.write_text("import sys; sys.exit(3)\n")
    monkeypatch.setattr(_benchmark_child, "_WORKER_PATH", dying)
    with pytest.raises(RuntimeError, match=r"died \(exit code 3\)"):
        benchmark_tflite(files["lowrank"], **FAST)


def test_benchmark_worker_never_imports_tensorflow_or_keras(files, data, tmp_path):
    """The measuring process runs `litert/worker.py` as a script: NumPy and LiteRT
    only, so that its peak memory is the model's and LiteRT's, not TensorFlow's."""
    np.save(tmp_path / "token_ids.npy", data[0][:4])
    request = {
        "path": os.path.abspath(files["baseline"]),
        "num_threads": 1,
        "warmup_runs": 0,
        "num_runs": 2,
        "progress": False,
        "want_predictions": True,
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    completed = subprocess.run(
        [sys.executable, str(_benchmark_child._WORKER_PATH), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert "error" not in report
    assert report["heavy_modules"] == []
    assert np.load(tmp_path / "predictions.npy").shape == (4,)


BAD_BENCHMARK_ARGUMENTS = [
    pytest.param(
        {"token_ids": np.full((2, SEQ_LEN), VOCAB)},
        ValueError,
        r"ids in \[0, 50\).*Received: token_ids with ids in \[50, 50\]",
        id="id-out-of-vocabulary",
    ),
    pytest.param(
        {"token_ids": np.ones((2, SEQ_LEN + 1), np.int32)},
        ValueError,
        r"Received: token_ids with shape \(2, 6\)",
        id="seq-len",
    ),
    pytest.param(
        {"token_ids": np.ones((2, SEQ_LEN), np.float32)},
        TypeError,
        "Received: token_ids with dtype float32",
        id="float-ids",
    ),
    pytest.param(
        {"token_ids": np.ones((2, SEQ_LEN), np.int32), "labels": np.array([0, 2])},
        ValueError,
        r"\[0, 2\).*Received: labels in \[0, 2\]",
        id="label-range",
    ),
    pytest.param(
        {"token_ids": np.ones((2, SEQ_LEN), np.int32), "labels": np.array([0])},
        ValueError,
        r"Received: labels with shape \(1,\)",
        id="label-count",
    ),
    pytest.param(
        {"labels": np.array([0, 1])},
        ValueError,
        "Received: token_ids=None with labels",
        id="labels-without-ids",
    ),
    pytest.param({"num_runs": 0}, ValueError, "Received: num_runs=0", id="num-runs"),
    pytest.param(
        {"num_threads": 1.5}, TypeError, "Received: num_threads=1.5", id="threads"
    ),
]


@pytest.mark.parametrize(("overrides", "error", "match"), BAD_BENCHMARK_ARGUMENTS)
def test_benchmark_tflite_rejects_bad_arguments(files, overrides, error, match):
    with pytest.raises(error, match=match):
        benchmark_tflite(files["lowrank"], **{**FAST, **overrides})


def test_benchmark_tflite_rejects_missing_and_invalid_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: path="):
        benchmark_tflite(tmp_path / "missing.tflite")
    not_a_model = tmp_path / "fake.tflite"
    not_a_model.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="not a valid `.tflite`.*Received: path="):
        benchmark_tflite(not_a_model)


# --- compare_models ----------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison(files, data):
    token_ids, labels = data
    return compare_models(
        [files["baseline"], files["lowrank"], files["int8"]], token_ids, labels, **FAST
    )


def test_compare_models_ratios_against_reference(comparison, files, data):
    assert isinstance(comparison, Comparison)
    reference, lowrank, int8 = comparison.rows
    assert (reference.size_ratio, reference.latency_ratio) == (1.0, 1.0)
    assert (reference.accuracy_delta, reference.agreement) == (0.0, 1.0)
    assert lowrank.size_ratio == pytest.approx(
        lowrank.size_bytes / reference.size_bytes
    )
    assert lowrank.size_ratio < 1
    assert int8.accuracy_delta == pytest.approx(int8.accuracy - reference.accuracy)
    expected_agreement = np.mean(
        litert_predictions(files["int8"], data[0])
        == litert_predictions(files["baseline"], data[0])
    )
    assert int8.agreement == pytest.approx(expected_agreement)
    assert comparison.max_accuracy_drop == pytest.approx(
        max(0.0, -lowrank.accuracy_delta, -int8.accuracy_delta)
    )


def test_comparison_renders_markdown_and_json(comparison):
    markdown = comparison.to_markdown()
    assert str(comparison) == markdown
    lines = markdown.splitlines()
    assert len(lines) == 2 + 3
    assert "size ratio" in lines[0] and "agreement" in lines[0]
    assert "baseline.tflite (reference)" in lines[2]
    data = json.loads(comparison.to_json())
    assert data["reference"] == 0
    assert [row["name"] for row in data["rows"]] == [
        "baseline.tflite",
        "lowrank.tflite",
        "lowrank_int8.tflite",
    ]
    assert len(data["results"]) == 3


def test_comparison_plot_writes_png_and_respects_overwrite(comparison, tmp_path):
    path = comparison.plot(tmp_path / "comparison.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError, match="overwrite=False"):
        comparison.plot(path)
    comparison.plot(path, overwrite=True)
    with pytest.raises(ValueError, match=r"\.png.*Received: path="):
        comparison.plot(tmp_path / "comparison.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.png"]


def test_compare_models_negative_reference_and_no_labels(files, data):
    comparison = compare_models(
        [files["baseline"], files["lowrank"]], data[0], reference=-1, **FAST
    )
    assert comparison.reference == 1
    assert comparison.rows[1].agreement == 1.0
    assert comparison.rows[0].accuracy is None
    assert comparison.max_accuracy_drop is None
    assert "n/a" in comparison.to_markdown()


@pytest.mark.parametrize(
    ("paths", "reference", "error", "match"),
    [
        ([], 0, ValueError, r"Received: paths=\[\]"),
        (["baseline"], 1, ValueError, "Received: reference=1"),
        (["baseline", "three_labels"], 0, OutputMismatchError, "same number of labels"),
        (["baseline", "missing"], 0, FileNotFoundError, r"Received: paths\[1\]="),
    ],
    ids=["empty", "reference", "num-labels", "missing-file"],
)
def test_compare_models_checks_files_before_running(
    files, data, monkeypatch, paths, reference, error, match
):
    def fail(*args, **kwargs):
        raise AssertionError("a benchmark ran before the files were checked")

    monkeypatch.setattr(benchmark, "_run_child", fail)
    paths = [files.get(name, f"/nonexistent/{name}.tflite") for name in paths]
    with pytest.raises(error, match=match):
        compare_models(paths, data[0], reference=reference, **FAST)


# --- truncated and corrupted files ---------------------------------------------------


def corrupted_for_litert_only(content: bytes) -> bytes:
    """`content` with one byte flipped that the flatbuffer walk accepts but LiteRT
    refuses (a corruption only the benchmark process detects)."""
    from tflite_lowrank.litert import flatbuffer

    for position in range(8, len(content)):
        changed = bytearray(content)
        changed[position] ^= 0xFF
        changed = bytes(changed)
        try:
            flatbuffer.inspect_model(changed)
        except Exception:  # noqa: S112 - the parent detects this one.
            continue
        try:
            Interpreter(model_content=changed).allocate_tensors()
        except (ValueError, RuntimeError):
            return changed
    raise AssertionError("no such byte")


@pytest.mark.parametrize("cut", [16, 200, -8], ids=["header", "middle", "end"])
def test_benchmark_tflite_rejects_a_truncated_file_naming_it(files, tmp_path, cut):
    content = Path(files["baseline"]).read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(content[:cut])
    with pytest.raises(ValueError, match=r"truncated or corrupted.*truncated\.tflite"):
        benchmark_tflite(path, **FAST)


def test_benchmark_tflite_rejects_a_file_only_litert_finds_corrupted(files, tmp_path):
    path = tmp_path / "corrupted.tflite"
    path.write_bytes(corrupted_for_litert_only(Path(files["baseline"]).read_bytes()))
    with pytest.raises(ValueError, match=r"could not load.*path='.*corrupted\.tflite'"):
        benchmark_tflite(path, **FAST)
    with pytest.raises(ValueError, match=r"could not load.*paths\[1\]="):
        compare_models(
            [files["baseline"], path], np.ones((2, SEQ_LEN), np.int32), **FAST
        )


def test_benchmark_tflite_reports_a_crash_while_loading_as_the_file(
    files, monkeypatch, tmp_path
):
    crashing = tmp_path / "crashing_worker.py"
    crashing.write_text(
        "import os, sys\nfrom pathlib import Path\n"
        "Path(sys.argv[1], 'loading').touch()\nos.kill(os.getpid(), 9)\n"
    )
    monkeypatch.setattr(_benchmark_child, "_WORKER_PATH", crashing)
    with pytest.raises(ValueError, match=r"crashed \(exit code -9\).*Received: path="):
        benchmark_tflite(files["lowrank"], **FAST)


def test_compare_models_accepts_a_numpy_reference(files, data):
    token_ids, labels = data
    comparison = compare_models(
        [files["baseline"], files["lowrank"]],
        token_ids,
        labels,
        reference=np.int64(1),
        num_threads=np.int64(1),
        warmup_runs=np.int64(0),
        num_runs=np.int64(2),
        progress=False,
    )
    assert comparison.reference == 1
    assert type(comparison.reference) is int
