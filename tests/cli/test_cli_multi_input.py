"""The command line on models with several token-id inputs, and non-token inputs.

`convert`, `benchmark` and `compare` on a tiny pair classifier (inputs `question`
[1, 5] and `answer` [1, 3], one shared embedding) with a .npz keyed by input name;
a .npz with a missing or extra key, a .tsv for such a model, and a model whose input
is not token ids exit 2 with one line naming what was expected and received. In
this process (the `cli` fixture of tests/conftest.py); the same checks at the API
level are in tests/export/test_converter_multi_input.py and tests/benchmark/.
"""

import json

import keras
import numpy as np
import pytest

from tflite_lowrank.export.converter import convert_to_tflite

VOCAB, DIM = 50, 8
LENGTHS = {"question": 5, "answer": 3}


def last_line_error(completed, expected):
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    line = completed.stderr.strip().splitlines()[-1]
    assert "error:" in line
    for text in expected:
        assert text in line, line


def build_pair_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    question = keras.Input((LENGTHS["question"],), dtype="int32", name="question")
    answer = keras.Input((LENGTHS["answer"],), dtype="int32", name="answer")
    embedding = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)
    x = keras.layers.Concatenate()(
        [
            keras.layers.GlobalAveragePooling1D()(embedding(question)),
            keras.layers.GlobalAveragePooling1D()(embedding(answer)),
        ]
    )
    return keras.Model([question, answer], keras.layers.Dense(2)(x), name="pair")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_multi")
    build_pair_model(0).save(folder / "pair.keras")
    convert_to_tflite(build_pair_model(0), folder / "a.tflite")
    convert_to_tflite(build_pair_model(1), folder / "b.tflite", quantization="dynamic")
    rng = np.random.default_rng(0)
    rows = {
        name: rng.integers(1, VOCAB, size=(12, length)).astype(np.int32)
        for name, length in LENGTHS.items()
    }
    labels = rng.integers(0, 2, size=12)
    np.savez(folder / "data.npz", **rows, labels=labels)
    np.savez(folder / "missing.npz", question=rows["question"], labels=labels)
    np.savez(folder / "extra.npz", **rows, token_ids=rows["question"])
    (folder / "data.tsv").write_text("1\tw1 w2\n")
    (folder / "vocab.txt").write_text("<pad>\n<unk>\nw1\nw2\n")
    return folder


@pytest.fixture(scope="module")
def refused_models(tmp_path_factory):
    """Models whose input is not token ids: float features, a string input."""
    folder = tmp_path_factory.mktemp("cli_refused")
    features = keras.Input((4,), name="features")
    keras.Model(features, keras.layers.Dense(2, activation="softmax")(features)).save(
        folder / "features.keras"
    )
    text = keras.Input((1,), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(["a good film", "a bad film"])
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(20, DIM)(vectorize(text))
    )
    keras.Model(text, keras.layers.Dense(2, activation="softmax")(x)).save(
        folder / "text.keras"
    )
    return folder


def test_cli_convert_keeps_the_input_names(workdir, cli):
    output = workdir / "pair_cli.tflite"
    completed = cli("convert", workdir / "pair.keras", output, "--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert {spec["name"]: spec["shape"] for spec in result["inputs"]} == {
        "question": [1, 5],
        "answer": [1, 3],
    }


def test_cli_convert_int8_with_npz_keyed_by_input_name(workdir, cli):
    output = workdir / "pair_int8.tflite"
    completed = cli(
        "convert",
        workdir / "pair.keras",
        output,
        "--quantization",
        "int8",
        "--representative-data",
        workdir / "data.npz",
    )
    assert completed.returncode == 0, completed.stderr
    assert "inputs answer int32 [1, 3], question int32 [1, 5]" in completed.stdout


def test_cli_benchmark_runs_every_input(workdir, cli):
    completed = cli(
        "benchmark", workdir / "a.tflite", "--data", workdir / "data.npz", "--runs", 5
    )
    assert completed.returncode == 0, completed.stderr
    assert "input: answer int32 [1, 3], question int32 [1, 5], 12 rows" in (
        completed.stdout
    )
    assert "accuracy: " in completed.stdout and "n/a" not in completed.stdout


def test_cli_compare_runs_every_input(workdir, cli):
    completed = cli(
        "compare",
        workdir / "a.tflite",
        workdir / "b.tflite",
        "--data",
        workdir / "data.npz",
        "--runs",
        5,
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)["rows"]
    assert [row["name"] for row in rows] == ["a.tflite", "b.tflite"]


@pytest.mark.parametrize(
    ("command", "data", "expected"),
    [
        pytest.param(
            "benchmark",
            "missing.npz",
            [
                "missing.npz",
                "a.tflite",
                "expected keys ['answer', 'question'] (and optionally ['labels'])",
                "found ['labels', 'question'] (missing ['answer'])",
            ],
            id="benchmark-missing-key",
        ),
        pytest.param(
            "compare",
            "extra.npz",
            [
                "extra.npz",
                "a.tflite",
                "found ['answer', 'question', 'token_ids'] (unexpected ['token_ids'])",
            ],
            id="compare-extra-key",
        ),
        pytest.param(
            "benchmark",
            "data.tsv",
            ["several inputs, ['answer', 'question']", "pass a .npz", "data.tsv"],
            id="tsv",
        ),
    ],
)
def test_cli_data_that_does_not_fit_the_inputs_exits_2(
    workdir, command, data, expected, cli
):
    files = [workdir / "a.tflite"] + (
        [workdir / "b.tflite"] if command == "compare" else []
    )
    completed = cli(
        command, *files, "--data", workdir / data, "--vocab", workdir / "vocab.txt"
    )
    last_line_error(completed, expected)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("features.keras", ["input 'features' has dtype float32", "token ids"]),
        ("text.keras", ["input 'text' has dtype string", "tokenize outside"]),
    ],
)
def test_cli_convert_refuses_inputs_that_are_not_token_ids(
    refused_models, model, expected, cli
):
    output = refused_models / f"{model}.tflite"
    completed = cli("convert", refused_models / model, output)
    last_line_error(completed, expected)
    assert not output.exists()
