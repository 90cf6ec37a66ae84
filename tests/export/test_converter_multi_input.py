"""`convert_to_tflite` on models with several token-id inputs, and non-token inputs.

A pair classifier (a question of 6 ids and an answer of 4 sharing one embedding of
1000 rows, 3 labels) is converted in every mode; the file keeps the input names in
its `serving_default` signature and matches Keras in LiteRT. Models whose inputs are
not token ids (float features, a string input with a `TextVectorization` inside) are
refused before any conversion work.
"""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.errors import OutputMismatchError
from tflite_lowrank.export import converter as convert
from tflite_lowrank.export.converter import convert_to_tflite

VOCAB, DIM, NUM_LABELS = 1000, 8, 3
LENGTHS = {"question": 6, "answer": 4}
TOLERANCES = {"float32": 1e-5, "float16": 1e-2, "dynamic": 2e-2, "int8": 5e-2}
TOLERANCES["int4"] = 5e-2


def build_pair_model(structure: str = "list", *, seed: int = 0) -> keras.Model:
    """Two named int32 inputs sharing one embedding; ends in logits."""
    keras.utils.set_random_seed(seed)
    question = keras.Input((LENGTHS["question"],), dtype="int32", name="question")
    answer = keras.Input((LENGTHS["answer"],), dtype="int32", name="answer")
    embedding = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")
    pooled = [
        keras.layers.GlobalAveragePooling1D()(embedding(question)),
        keras.layers.GlobalAveragePooling1D()(embedding(answer)),
    ]
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()(pooled))
    outputs = keras.layers.Dense(NUM_LABELS)(x)
    inputs = (
        {"question": question, "answer": answer}
        if structure == "dict"
        else [question, answer]
    )
    return keras.Model(inputs, outputs, name=f"pair_{structure}")


def make_rows(num_rows: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = {}
    for name, length in LENGTHS.items():
        ids = rng.integers(1, VOCAB, size=(num_rows, length)).astype(np.int32)
        for row, kept in enumerate(rng.integers(1, length + 1, size=num_rows)):
            ids[row, kept:] = 0
        rows[name] = ids
    return rows


def run_litert(path, rows: dict[str, np.ndarray]) -> np.ndarray:
    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner(
        "serving_default"
    )
    num_rows = len(rows["question"])
    return np.concatenate(
        [
            runner(**{name: array[[index]] for name, array in rows.items()})["output_0"]
            for index in range(num_rows)
        ]
    )


def keras_probabilities(model: keras.Model, rows: dict[str, np.ndarray]) -> np.ndarray:
    logits = model([rows["question"], rows["answer"]], training=False)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


@pytest.fixture(scope="module")
def pair_model():
    return build_pair_model()


@pytest.mark.parametrize("mode", ["float32", "dynamic", "float16", "int8", "int4"])
def test_convert_multi_input_keeps_input_names_and_matches_keras(
    pair_model, tmp_path, mode
):
    path = tmp_path / f"pair_{mode}.tflite"
    result = convert_to_tflite(
        pair_model,
        path,
        quantization=mode,
        representative_data=make_rows(32, seed=1) if mode == "int8" else None,
    )
    interpreter = Interpreter(model_path=str(path))
    assert list(interpreter.get_signature_list()) == ["serving_default"]
    details = interpreter.get_signature_runner("serving_default").get_input_details()
    assert {name: list(detail["shape"]) for name, detail in details.items()} == {
        "question": [1, 6],
        "answer": [1, 4],
    }
    assert {detail["dtype"] for detail in details.values()} == {np.int32}
    assert {spec.name: spec.shape for spec in result.inputs} == {
        "question": (1, 6),
        "answer": (1, 4),
    }
    assert result.appended_softmax
    rows = make_rows(16, seed=2)
    actual = run_litert(path, rows)
    expected = keras_probabilities(pair_model, rows)
    assert np.max(np.abs(actual - expected)) <= TOLERANCES[mode]
    assert result.max_output_difference <= TOLERANCES[mode]


def test_convert_multi_input_dict_structured_model(tmp_path):
    model = build_pair_model("dict")
    result = convert_to_tflite(model, tmp_path / "pair.tflite")
    assert sorted(spec.name for spec in result.inputs) == ["answer", "question"]
    rows = make_rows(8, seed=3)
    actual = run_litert(tmp_path / "pair.tflite", rows)
    logits = keras.ops.convert_to_numpy(model(rows, training=False))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_convert_multi_input_checks_litert_against_keras(
    pair_model, tmp_path, monkeypatch
):
    """The parity check runs every input: a wrong Keras reference is caught."""
    real = convert._keras_outputs

    def shifted(model, rows):
        assert isinstance(rows, dict) and sorted(rows) == ["answer", "question"]
        return real(model, rows)[:, ::-1] * 5.0  # Other logits than LiteRT's.

    monkeypatch.setattr(convert, "_keras_outputs", shifted)
    with pytest.raises(OutputMismatchError, match="differ from Keras"):
        convert_to_tflite(pair_model, tmp_path / "pair.tflite")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def no_conversion(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the converter ran before the arguments were checked")

    monkeypatch.setattr(convert, "_run_converter", fail)


BAD_ROWS = [
    pytest.param(
        np.ones((4, 6), np.int32),
        TypeError,
        r"dict of integer arrays keyed by input name, \['question', 'answer'\].*"
        r"Received: representative_data of type ndarray",
        id="not-a-dict",
    ),
    pytest.param(
        {"question": np.ones((4, 6), np.int32)},
        ValueError,
        r"expected keys \['question', 'answer'\], found \['question'\] "
        r"\(missing \['answer'\]\)",
        id="missing-key",
    ),
    pytest.param(
        {
            "question": np.ones((4, 6), np.int32),
            "answer": np.ones((4, 4), np.int32),
            "context": np.ones((4, 4), np.int32),
        },
        ValueError,
        r"found \['answer', 'context', 'question'\] \(unexpected \['context'\]\)",
        id="extra-key",
    ),
    pytest.param(
        {"question": np.ones((4, 6), np.int32), "answer": np.ones((4, 6), np.int32)},
        ValueError,
        r"Received: representative_data\['answer'\] with shape \(4, 6\)",
        id="shape",
    ),
    pytest.param(
        {"question": np.ones((4, 6), np.int32), "answer": np.ones((3, 4), np.int32)},
        ValueError,
        r"same number of rows.*\{'question': 4, 'answer': 3\}",
        id="row-counts",
    ),
    pytest.param(
        {
            "question": np.full((4, 6), VOCAB, np.int32),
            "answer": np.ones((4, 4), np.int32),
        },
        ValueError,
        r"ids in \[0, 1000\).*Received: representative_data\['question'\]",
        id="id-range",
    ),
]


@pytest.mark.parametrize(("rows", "error", "match"), BAD_ROWS)
def test_convert_multi_input_checks_representative_data_before_work(
    pair_model, tmp_path, no_conversion, rows, error, match
):
    with pytest.raises(error, match=match):
        convert_to_tflite(
            pair_model,
            tmp_path / "pair.tflite",
            quantization="int8",
            representative_data=rows,
        )
    assert list(tmp_path.iterdir()) == []


def _float_features_model() -> keras.Model:
    features = keras.Input((5,), name="features")
    outputs = keras.layers.Dense(NUM_LABELS, activation="softmax")(features)
    return keras.Model(features, outputs, name="features_model")


def _string_model() -> keras.Model:
    text = keras.Input((1,), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    vectorize.adapt(["a good film", "a bad film"])
    x = keras.layers.Embedding(20, DIM)(vectorize(text))
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(NUM_LABELS, activation="softmax")(x)
    return keras.Model(text, outputs, name="string_model")


def _mixed_model() -> keras.Model:
    token_ids = keras.Input((6,), dtype="int32", name="token_ids")
    features = keras.Input((5,), name="features")
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(VOCAB, DIM)(token_ids)
    )
    x = keras.layers.Concatenate()([x, features])
    outputs = keras.layers.Dense(NUM_LABELS, activation="softmax")(x)
    return keras.Model([token_ids, features], outputs, name="mixed_model")


@pytest.mark.parametrize(
    ("build", "match"),
    [
        pytest.param(
            _float_features_model,
            r"token ids.*input 'features' has dtype float32 and shape \(None, 5\).*"
            r"Received: model='features_model'",
            id="float-features",
        ),
        pytest.param(
            _string_model,
            r"input 'text' has dtype string.*tokenize outside the model.*"
            r"Received: model='string_model'",
            id="string-text-vectorization",
        ),
        pytest.param(
            _mixed_model,
            r"input 'features' has dtype float32.*Received: model='mixed_model'",
            id="ids-and-features",
        ),
    ],
)
def test_convert_refuses_inputs_that_are_not_token_ids(
    tmp_path, no_conversion, build, match
):
    with pytest.raises(ValueError, match=match):
        convert_to_tflite(build(), tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []


def test_convert_float_input_into_embedding_is_still_token_ids(tmp_path):
    """`keras.Input((seq_len,))` (float32) straight into an Embedding converts."""
    token_ids = keras.Input((6,), name="ids")
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(50, DIM)(token_ids)
    )
    model = keras.Model(
        token_ids, keras.layers.Dense(NUM_LABELS, activation="softmax")(x)
    )
    result = convert_to_tflite(model, tmp_path / "model.tflite")
    assert [(spec.name, spec.shape, spec.dtype) for spec in result.inputs] == [
        ("token_ids", (1, 6), "int32")
    ]
