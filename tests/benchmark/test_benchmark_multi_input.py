"""`benchmark_tflite` and `compare_models` on files with several token-id inputs.

A tiny pair classifier (inputs `question` [1, 5] and `answer` [1, 3] sharing one
embedding of 50 rows, 2 labels) is converted twice (float32, dynamic) and run in the
LiteRT child process with rows keyed by input name.
"""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.benchmark.api import benchmark_tflite, compare_models
from tflite_lowrank.export.converter import convert_to_tflite

VOCAB, DIM = 50, 8
LENGTHS = {"question": 5, "answer": 3}
FAST = {"warmup_runs": 2, "num_runs": 10, "progress": False}


def build_pair_model(seed: int = 0) -> keras.Model:
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
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    return keras.Model([question, answer], outputs, name="pair")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    rows = {
        name: rng.integers(1, VOCAB, size=(24, length)).astype(np.int32)
        for name, length in LENGTHS.items()
    }
    return rows, rng.integers(0, 2, size=24)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    model = build_pair_model()
    return {
        mode: convert_to_tflite(
            model, folder / f"pair_{mode}.tflite", quantization=mode
        ).path
        for mode in ("float32", "dynamic")
    }


def litert_predictions(path, rows) -> np.ndarray:
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return np.array(
        [
            np.argmax(runner(**{k: v[[i]] for k, v in rows.items()})["output_0"])
            for i in range(len(rows["question"]))
        ]
    )


def test_benchmark_tflite_runs_every_input(files, data):
    rows, labels = data
    result = benchmark_tflite(files["float32"], token_ids=rows, labels=labels, **FAST)
    expected = litert_predictions(files["float32"], rows)
    np.testing.assert_array_equal(result.predictions, expected)
    assert result.accuracy == pytest.approx(np.mean(expected == labels))
    assert result.num_samples == 24
    assert result.seq_len == 5  # The longest input.


def test_benchmark_tflite_without_data_feeds_every_input(files):
    result = benchmark_tflite(files["dynamic"], **FAST)
    assert result.num_samples == 64 and result.latency_p50_ms > 0


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        pytest.param(
            lambda rows: rows["question"],
            TypeError,
            r"dict of integer arrays keyed by input name, \['answer', 'question'\], "
            r"for the model path='.*pair_float32\.tflite'",
            id="array",
        ),
        pytest.param(
            lambda rows: {"question": rows["question"]},
            ValueError,
            r"model path='.*pair_float32\.tflite': expected keys "
            r"\['answer', 'question'\], found \['question'\] \(missing \['answer'\]\)",
            id="missing",
        ),
        pytest.param(
            lambda rows: {**rows, "context": rows["answer"]},
            ValueError,
            r"found \['answer', 'context', 'question'\] \(unexpected \['context'\]\)",
            id="extra",
        ),
        pytest.param(
            lambda rows: {**rows, "answer": rows["question"]},
            ValueError,
            r"Received: token_ids\['answer'\] with shape \(24, 5\)",
            id="shape",
        ),
    ],
)
def test_benchmark_tflite_checks_rows_against_the_inputs(
    files, data, rows, error, match
):
    with pytest.raises(error, match=match):
        benchmark_tflite(files["float32"], token_ids=rows(data[0]), **FAST)


def test_compare_models_runs_files_with_several_inputs(files, data):
    rows, labels = data
    comparison = compare_models(
        [files["float32"], files["dynamic"]], rows, labels, **FAST
    )
    assert [row.name for row in comparison.rows] == [
        "pair_float32.tflite",
        "pair_dynamic.tflite",
    ]
    expected = litert_predictions(files["dynamic"], rows)
    np.testing.assert_array_equal(comparison.results[1].predictions, expected)


def test_compare_models_names_the_file_whose_inputs_differ(files, data, tmp_path):
    single = keras.Input((5,), dtype="int32", name="token_ids")
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(VOCAB, DIM)(single)
    )
    model = keras.Model(single, keras.layers.Dense(2, activation="softmax")(x))
    path = convert_to_tflite(model, tmp_path / "single.tflite").path
    with pytest.raises(
        ValueError,
        match=r"paths\[1\]='.*single\.tflite'.*expected keys \['token_ids'\]",
    ):
        compare_models([files["float32"], path], data[0], **FAST)
