"""`benchmark_tflite` and `compare_models` on the outputs users' models have (issue 30).

A binary sigmoid classifier (1-wide, and written as two-class probabilities), a model
with two heads (`output=`), a per-token tagger (labels per token, padding ignored),
and the warning for a quantized file that loses accuracy against its float32 file.
Tiny models: vocabulary 50, dim 8, sequence 5; every file runs in its LiteRT child.
"""

import warnings

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.benchmark.api import benchmark_tflite, compare_models
from tflite_lowrank.export.converter import convert_to_tflite
from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, SEQ_LEN = 50, 8, 5
FAST = {"warmup_runs": 1, "num_runs": 5, "progress": False}


def token_ids(num_rows: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, VOCAB, size=(num_rows, SEQ_LEN)).astype(np.int32)
    for row, length in enumerate(rng.integers(1, SEQ_LEN + 1, size=num_rows)):
        ids[row, length:] = 0
    return ids


def run_litert(path, rows: np.ndarray, output: str = "output_0") -> np.ndarray:
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return np.concatenate([runner(token_ids=row[None, :])[output] for row in rows])


def sequential(*layers) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.fixture(scope="module")
def rows():
    return token_ids(30, seed=1)


@pytest.fixture(scope="module")
def binary_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("binary")
    model = sequential(
        keras.layers.Embedding(VOCAB, DIM),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones"),
    )
    one_wide = convert_to_tflite(model, folder / "p.tflite", keep_logits=True)
    two_class = convert_to_tflite(model, folder / "two_class.tflite")
    return one_wide.path, two_class.path


def test_binary_sigmoid_files_are_scored_at_one_half_with_labels_0_1(
    binary_files, rows
):
    one_wide, two_class = binary_files
    p = run_litert(one_wide, rows)[:, 0]
    assert 0 < np.mean(p > 0.5) < 1  # Both classes are predicted.
    labels = np.random.default_rng(2).integers(0, 2, size=len(rows))
    expected = float(np.mean((p > 0.5) == labels))
    result = benchmark_tflite(one_wide, token_ids=rows, labels=labels, **FAST)
    assert result.num_labels == 1
    assert result.accuracy == pytest.approx(expected)
    comparison = compare_models([two_class, one_wide], rows, labels, **FAST)
    assert [row.accuracy for row in comparison.rows] == pytest.approx([expected] * 2)
    assert comparison.rows[1].agreement == 1.0
    with pytest.raises(ValueError, match=r"0 or 1.*Received: labels in \[0, 2\]"):
        benchmark_tflite(one_wide, token_ids=rows, labels=labels * 2, **FAST)


@pytest.fixture(scope="module")
def head_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heads")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = {
        "topic": keras.layers.Dense(3)(x),
        "spam": keras.layers.Dense(1, activation="sigmoid")(x),
    }
    model = keras.Model(inputs, outputs)
    return [
        convert_to_tflite(model, folder / f"{mode}.tflite", quantization=mode).path
        for mode in ("float32", "dynamic")
    ]


def test_compare_scores_the_named_output_of_files_with_several(head_files, rows):
    labels = np.random.default_rng(3).integers(0, 3, size=len(rows))
    comparison = compare_models(head_files, rows, labels, output="topic", **FAST)
    predicted = np.argmax(run_litert(head_files[0], rows, "topic"), axis=1)
    assert comparison.rows[0].accuracy == pytest.approx(np.mean(predicted == labels))
    assert comparison.results[0].output == "topic"
    assert comparison.to_dict()["results"][0]["output"] == "topic"
    # Timing alone needs no output name.
    assert benchmark_tflite(head_files[0], **FAST).accuracy is None


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (None, r"several outputs, \['spam', 'topic'\]: pass `output`.*Received: "),
        ("tags", r"one of the file's outputs \['spam', 'topic'\].*output='tags'"),
    ],
)
def test_compare_without_a_valid_output_name_names_the_outputs(
    head_files, rows, output, match
):
    labels = np.zeros(len(rows), np.int64)
    with pytest.raises(ValueError, match=match):
        compare_models(head_files, rows, labels, output=output, **FAST)


@pytest.fixture(scope="module")
def tagger_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagger")
    model = sequential(
        keras.layers.Embedding(VOCAB, DIM, mask_zero=True),
        keras.layers.LSTM(DIM, return_sequences=True),
        keras.layers.Dense(4),
    )
    return [
        convert_to_tflite(model, folder / f"{mode}.tflite", quantization=mode).path
        for mode in ("float32", "dynamic")
    ]


def test_per_token_outputs_are_scored_on_the_tokens_only(tagger_files, rows):
    labels = np.random.default_rng(4).integers(0, 4, size=rows.shape)
    labels[rows == 0] = -1  # Padding labels are neither checked nor scored.
    comparison = compare_models(tagger_files, rows, labels, **FAST)
    tokens = rows != 0
    for path, row, result in zip(
        tagger_files, comparison.rows, comparison.results, strict=True
    ):
        predicted = np.argmax(run_litert(path, rows), axis=-1)
        assert result.predictions.shape == rows.shape
        np.testing.assert_array_equal(result.predictions, predicted)
        assert row.accuracy == pytest.approx(
            np.mean(predicted[tokens] == labels[tokens])
        )
    first, second = comparison.results
    assert comparison.rows[1].agreement == pytest.approx(
        np.mean(first.predictions[tokens] == second.predictions[tokens])
    )
    with pytest.raises(ValueError, match=r"shape \(30, 5\), one label per token"):
        benchmark_tflite(tagger_files[0], token_ids=rows, labels=labels[:, 0], **FAST)


@pytest.fixture(scope="module")
def quantized_files(tmp_path_factory):
    """A baseline, and a compressed model as float32 and as full-integer int8."""
    folder = tmp_path_factory.mktemp("quantized")

    def model(embedding):
        return sequential(
            embedding,
            keras.layers.Conv1D(64, 3, padding="same", activation="relu"),
            keras.layers.Conv1D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(3),
        )

    baseline = model(keras.layers.Embedding(VOCAB, DIM))
    compressed = model(LowRankEmbedding(VOCAB, DIM, 2))
    train = token_ids(64, seed=5)
    paths = {
        "baseline": convert_to_tflite(baseline, folder / "baseline.tflite").path,
        "float32": convert_to_tflite(compressed, folder / "lowrank.tflite").path,
        "int8": convert_to_tflite(
            compressed,
            folder / "lowrank_int8.tflite",
            quantization="int8",
            representative_data=train,
        ).path,
    }
    test = token_ids(40, seed=6)
    labels = np.argmax(run_litert(paths["float32"], test), axis=1)
    return paths, test, labels


def test_compare_warns_when_a_quantized_file_loses_accuracy_against_float32(
    quantized_files,
):
    paths, rows, labels = quantized_files
    files = [paths["baseline"], paths["float32"], paths["int8"]]
    with pytest.warns(UserWarning) as caught:
        comparison = compare_models(files, rows, labels, **FAST)
    base, float32, int8 = comparison.rows
    assert float32.accuracy == 1.0 and int8.accuracy < 0.99
    (warning,) = caught
    message = str(warning.message)
    assert f"{int8.accuracy:.2%}" in message and "100.00%" in message
    assert "lowrank_int8.tflite" in message and "/lowrank.tflite" in message
    assert f"{100 * (1 - int8.accuracy):.2f} points below" in message


def test_compare_does_not_warn_against_the_float32_file_of_another_model(
    quantized_files,
):
    paths, rows, labels = quantized_files
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_models([paths["baseline"], paths["int8"]], rows, labels, **FAST)
