"""The command line on the models users have (issue 30), run in this process.

`tflite_lowrank_cli.main.main([...])` with capsys: a variable-length binary sigmoid
classifier (`--seq-len`, `--check-data`), two heads (`--output`), a per-token tagger,
a custom layer without `--import`, and errors that name flags, not the library's
Python arguments. Tiny models: vocabulary 50, dim 8, sequence 5.
"""

import json

import keras
import numpy as np
import pytest

from tflite_lowrank.export.converter import convert_to_tflite
from tflite_lowrank_cli.main import main

VOCAB, DIM, SEQ_LEN = 50, 8, 5


def run(capsys, *args) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `tflite-lowrank ARGS...`."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(code: int, out: str, err: str) -> str:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("tflite-lowrank ") and "error:" in line
    return line


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Models saved as users save them, converted files and data files."""
    folder = tmp_path_factory.mktemp("outputs")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int64")  # keras.io's classifier.
    x = keras.layers.Embedding(VOCAB, DIM)(inputs)
    x = keras.layers.Conv1D(DIM, 3, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    sigmoid = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    keras.Model(inputs, sigmoid).save(folder / "binary.keras")
    labels3 = keras.layers.Dense(3, activation="sigmoid")(x)
    keras.Model(inputs, labels3).save(folder / "multilabel.keras")

    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    embedded = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    heads = keras.Model(
        inputs,
        {
            "topic": keras.layers.Dense(3)(pooled),
            "spam": keras.layers.Dense(1, activation="sigmoid")(pooled),
        },
    )
    convert_to_tflite(heads, folder / "heads.tflite")
    convert_to_tflite(heads, folder / "heads_dynamic.tflite", quantization="dynamic")
    x = keras.layers.LSTM(DIM, return_sequences=True)(embedded)
    tagger = keras.Model(inputs, keras.layers.Dense(4)(x))
    convert_to_tflite(tagger, folder / "tagger.tflite")

    rng = np.random.default_rng(0)
    ids = rng.integers(2, VOCAB, size=(20, SEQ_LEN)).astype(np.int32)
    ids[::2, 3:] = 0
    np.savez(folder / "binary.npz", token_ids=ids, labels=rng.integers(0, 2, 20))
    np.savez(folder / "topics.npz", token_ids=ids, labels=rng.integers(0, 3, 20))
    tags = rng.integers(0, 4, size=ids.shape)
    tags[ids == 0] = 0
    np.savez(folder / "tags.npz", token_ids=ids, labels=tags)
    return folder


def test_convert_variable_length_input_asks_for_the_seq_len_flag(folder, capsys):
    line = error_line(
        *run(capsys, "convert", folder / "binary.keras", folder / "x.tflite")
    )
    assert "pass `--seq-len`" in line and "Received: no --seq-len" in line
    assert "`seq_len`" not in line and "seq_len=" not in line
    assert not (folder / "x.tflite").exists()


def test_convert_binary_sigmoid_with_seq_len_and_check_data(folder, capsys):
    code, out, err = run(
        capsys,
        "convert",
        folder / "binary.keras",
        folder / "binary.tflite",
        "--seq-len",
        SEQ_LEN,
        "--check-data",
        folder / "binary.npz",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["seq_len"] == SEQ_LEN
    assert result["outputs"][0]["shape"] == [1, 2]
    assert result["two_class_outputs"] == ["output_0"]
    assert (result["check_source"], result["check_rows"]) == ("check_data", 20)
    assert result["accuracy"] == result["keras_accuracy"] is not None
    code, out, err = run(
        capsys,
        "benchmark",
        folder / "binary.tflite",
        "--data",
        folder / "binary.npz",
        "--runs",
        2,
        "--warmup",
        0,
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["accuracy"] == pytest.approx(result["accuracy"])


def test_convert_errors_name_flags_not_python_arguments(folder, capsys):
    line = error_line(
        *run(
            capsys,
            "convert",
            folder / "multilabel.keras",
            folder / "x.tflite",
            "--seq-len",
            SEQ_LEN,
        )
    )
    assert "pass `--keep-logits`" in line and "no --keep-logits" in line
    assert "keep_logits" not in line and "`seq_len`" not in line
    line = error_line(
        *run(
            capsys,
            "convert",
            folder / "binary.keras",
            folder / "x.tflite",
            "--seq-len",
            SEQ_LEN,
            "--check-data",
            folder / "topics.npz",
        )
    )
    assert "the labels of `--check-data`" in line and "0 or 1" in line
    assert "Received: --check-data labels in [0, 2]" in line


def test_convert_custom_layer_without_import_hints_at_the_import_flag(tmp_path, capsys):
    @keras.saving.register_keras_serializable(package="issue30")
    class Doubler(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2

    inputs = keras.Input((SEQ_LEN,), dtype="int32")
    x = Doubler()(keras.layers.Embedding(VOCAB, DIM)(inputs))
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.save(tmp_path / "custom.keras")
    keras.saving.get_custom_objects().pop("issue30>Doubler")  # A fresh process.
    line = error_line(
        *run(capsys, "convert", tmp_path / "custom.keras", tmp_path / "x.tflite")
    )
    assert "Could not locate class 'Doubler' (registered as 'issue30>Doubler')" in line
    assert "pass `--import MODULE`" in line


def test_compare_files_with_two_heads_needs_the_output_flag(folder, capsys):
    files = [folder / "heads.tflite", folder / "heads_dynamic.tflite"]
    line = error_line(*run(capsys, "compare", *files, "--data", folder / "topics.npz"))
    assert "several outputs, ['spam', 'topic']: pass `--output`" in line
    assert "Received: no --output" in line
    code, out, err = run(
        capsys,
        "compare",
        *files,
        "--data",
        folder / "topics.npz",
        "--output",
        "topic",
        "--runs",
        2,
        "--warmup",
        0,
        "--json",
    )
    assert code == 0, err
    results = json.loads(out)["results"]
    assert [result["output"] for result in results] == ["topic", "topic"]
    topics = folder / "topics.npz"
    line = error_line(
        *run(capsys, "benchmark", files[0], "--data", topics, "--output", "tags")
    )
    assert "`--output` must name one of the file's outputs" in line
    assert "Received: --output tags" in line


def test_benchmark_per_token_output_with_labels_per_token(folder, capsys):
    code, out, err = run(
        capsys,
        "benchmark",
        folder / "tagger.tflite",
        "--data",
        folder / "tags.npz",
        "--runs",
        2,
        "--warmup",
        0,
    )
    assert code == 0, err
    assert "accuracy: " in out and "n/a" not in out
    line = error_line(
        *run(
            capsys,
            "benchmark",
            folder / "tagger.tflite",
            "--data",
            folder / "binary.npz",
        )
    )
    assert "labels of `--data` must have shape (20, 5), one label per token" in line


def test_export_android_refuses_files_with_several_outputs(folder, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for key in ("baseline", "compressed"):
        (run_dir / f"{key}.tflite").write_bytes((folder / "heads.tflite").read_bytes())
    line = error_line(*run(capsys, "export-android", run_dir, tmp_path / "assets"))
    assert "one output expected, found 2 ['spam', 'topic']" in line
    assert "the Android app takes one classifier output" in line
    assert not (tmp_path / "assets").exists()
