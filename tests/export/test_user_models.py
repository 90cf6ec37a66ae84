"""`convert_to_tflite` on the model shapes users have (issue 30).

The keras.io "text classification from scratch" model (variable-length int64 input,
one sigmoid), a model with two heads, a per-token tagger and a Conv1D model in int4,
each converted and run in LiteRT against Keras. Tiny models: vocabulary 50, dim 8,
sequence 5.
"""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.export.converter import convert_to_tflite
from tflite_lowrank.export.fold import fold_projection
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, SEQ_LEN = 50, 8, 5


def token_ids(num_rows: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, VOCAB, size=(num_rows, SEQ_LEN)).astype(np.int32)
    for row, length in enumerate(rng.integers(1, SEQ_LEN + 1, size=num_rows)):
        ids[row, length:] = 0
    return ids


def run_litert(path, rows: np.ndarray) -> dict[str, np.ndarray]:
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    outputs = [runner(token_ids=row[None, :]) for row in rows]
    return {name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}


def keras_io_model(activation: str | None = "sigmoid") -> keras.Model:
    """keras.io's "text classification from scratch", shrunk: `shape=(None,)` int64."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = keras.layers.Embedding(VOCAB, DIM)(inputs)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Conv1D(DIM, 3, padding="valid", activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(DIM, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    predictions = keras.layers.Dense(1, activation=activation, name="predictions")(x)
    return keras.Model(inputs, predictions)


# --- 1. binary sigmoid classifiers and variable-length inputs --------------------


def test_variable_length_input_without_seq_len_names_seq_len(tmp_path):
    with pytest.raises(ValueError, match=r"pass `seq_len`.*Received: seq_len=None"):
        convert_to_tflite(keras_io_model(), tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("activation", ["sigmoid", None])
def test_binary_classifier_converts_to_two_class_probabilities(tmp_path, activation):
    model = keras_io_model(activation)
    rows = token_ids(24, seed=1)
    labels = np.random.default_rng(2).integers(0, 2, size=len(rows))
    result = convert_to_tflite(
        model, tmp_path / "binary.tflite", seq_len=SEQ_LEN, check_data=(rows, labels)
    )
    assert result.seq_len == SEQ_LEN
    assert [(spec.name, spec.shape) for spec in result.inputs] == [
        ("token_ids", (1, SEQ_LEN))
    ]
    assert [(spec.name, spec.shape) for spec in result.outputs] == [
        ("output_0", (1, 2))
    ]
    assert result.two_class_outputs == ("output_0",)
    assert not result.appended_softmax
    raw = keras.ops.convert_to_numpy(model(rows, training=False))
    p = raw if activation == "sigmoid" else 1 / (1 + np.exp(-raw))
    actual = run_litert(result.path, rows)["output_0"]
    np.testing.assert_allclose(actual, np.concatenate([1 - p, p], axis=1), atol=1e-5)
    # Scored at the threshold 0.5, on the check rows, for the file and for Keras.
    expected_accuracy = float(np.mean((p[:, 0] > 0.5) == labels))
    assert result.keras_accuracy == pytest.approx(expected_accuracy)
    assert result.accuracy == pytest.approx(expected_accuracy)
    assert (result.check_source, result.check_rows) == ("check_data", len(rows))


def test_keep_logits_keeps_a_sigmoid_one_wide(tmp_path):
    result = convert_to_tflite(
        keras_io_model(), tmp_path / "p.tflite", seq_len=SEQ_LEN, keep_logits=True
    )
    assert result.outputs[0].shape == (1, 1)
    assert result.two_class_outputs == ()


# --- 2. several outputs and per-token outputs ------------------------------------


def two_head_model(structure: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    topic = keras.layers.Dense(3, name="topic")(x)  # Logits.
    spam = keras.layers.Dense(1, activation="sigmoid", name="spam")(x)
    if structure == "dict":
        return keras.Model(inputs, {"topic_head": topic, "spam_head": spam})
    return keras.Model(inputs, [topic, spam])


@pytest.mark.parametrize(
    ("structure", "names"),
    [("dict", ("spam_head", "topic_head")), ("list", ("spam", "topic"))],
)
def test_several_outputs_keep_their_names(tmp_path, structure, names):
    model = two_head_model(structure)
    rows = token_ids(12, seed=3)
    result = convert_to_tflite(model, tmp_path / "heads.tflite", check_data=rows)
    spam, topic = names
    assert {spec.name: spec.shape for spec in result.outputs} == {
        spam: (1, 2),
        topic: (1, 3),
    }
    assert result.appended_softmax and result.two_class_outputs == (spam,)
    signature = Interpreter(model_path=result.path).get_signature_list()
    assert signature["serving_default"]["outputs"] == sorted(names)
    raw = model(rows, training=False)
    raw = raw if isinstance(raw, dict) else dict(zip(names[::-1], raw, strict=True))
    raw = {key: keras.ops.convert_to_numpy(value) for key, value in raw.items()}
    actual = run_litert(result.path, rows)
    topic_probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(raw[topic]))
    np.testing.assert_allclose(actual[topic], topic_probabilities, atol=1e-5)
    p = raw[spam]
    np.testing.assert_allclose(
        actual[spam], np.concatenate([1 - p, p], axis=1), atol=1e-5
    )


def test_several_outputs_accuracy_of_the_named_output(tmp_path):
    model = two_head_model("dict")
    rows = token_ids(16, seed=4)
    labels = np.random.default_rng(5).integers(0, 3, size=len(rows))
    result = convert_to_tflite(
        model, tmp_path / "heads.tflite", check_data=(rows, {"topic_head": labels})
    )
    logits = keras.ops.convert_to_numpy(model(rows)["topic_head"])
    assert result.keras_accuracy == pytest.approx(
        float(np.mean(np.argmax(logits, axis=1) == labels))
    )
    assert result.accuracy == pytest.approx(result.keras_accuracy)
    with pytest.raises(ValueError, match=r"dict keyed by the output.*check_data\[1\]"):
        convert_to_tflite(model, tmp_path / "x.tflite", check_data=(rows, labels))


def tagger(num_tags: int = 4) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)(inputs)
    x = keras.layers.LSTM(DIM, return_sequences=True)(x)
    return keras.Model(inputs, keras.layers.Dense(num_tags, name="tags")(x))


def test_per_token_output_is_scored_per_token_with_the_padding_mask(tmp_path):
    model = tagger()
    rows = token_ids(16, seed=6)
    labels = np.random.default_rng(7).integers(0, 4, size=rows.shape)
    labels[rows == 0] = 99  # Padding: never checked, never scored.
    result = convert_to_tflite(
        model, tmp_path / "tagger.tflite", check_data=(rows, labels)
    )
    assert [(spec.name, spec.shape) for spec in result.outputs] == [
        ("output_0", (1, SEQ_LEN, 4))
    ]
    logits = keras.ops.convert_to_numpy(model(rows, training=False))
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    actual = run_litert(result.path, rows)["output_0"]
    np.testing.assert_allclose(actual, probabilities, atol=1e-5)
    tokens = rows != 0
    expected = float(np.mean(np.argmax(logits, axis=-1)[tokens] == labels[tokens]))
    assert result.keras_accuracy == pytest.approx(expected)
    assert result.accuracy == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"shape \(16, 5\).*Received: check_data"):
        convert_to_tflite(model, tmp_path / "x.tflite", check_data=(rows, labels[:, 0]))


# --- 3. int4 quantizes every matrix; nothing grows a file --------------------------


def conv_model() -> keras.Model:
    """A compressed Conv1D model whose second kernel (3 x 64 x 32) matters."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = LowRankEmbedding(VOCAB, DIM, 2, name="embedding")(inputs)
    x = keras.layers.Conv1D(64, 3, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def test_int4_quantizes_conv1d_kernels_and_is_smaller_than_dynamic(tmp_path):
    model = conv_model()
    sizes, results = {}, {}
    for mode in ("float32", "dynamic", "int4"):
        results[mode] = convert_to_tflite(
            model, tmp_path / f"{mode}.tflite", quantization=mode
        )
        sizes[mode] = results[mode].size_bytes
    assert sizes["int4"] < sizes["dynamic"] < sizes["float32"], sizes
    convs = [w for w in results["int4"].weights if w.op == "CONV_2D"]
    assert [w.shape for w in convs] == [(64, 1, 3, 2), (32, 1, 3, 64)]
    # The 384-value first kernel stays float32 (as in "dynamic"), the second is int8.
    assert [w.dtype for w in convs] == ["float32", "int8"], convs
    assert convs[0].decision == "kept float32: fewer than 1024 elements"
    assert convs[1].decision.startswith("int8, one scale per channel")
    assert all(w.decision for w in results["dynamic"].weights)
    assert results["int4"].folded_into == ("c1",)


def test_int4_keeps_float32_a_weight_that_int8_would_not_shrink(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB, DIM)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(2, name="bottleneck")(x)  # A 2-wide input to the next:
    x = keras.layers.Dense(600, name="wide")(x)  # 1,200 int8 bytes + 600 scales.
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    float32 = convert_to_tflite(model, tmp_path / "f.tflite")
    int4 = convert_to_tflite(model, tmp_path / "q.tflite", quantization="int4")
    (wide,) = [w for w in int4.weights if w.shape == (600, 2)]
    assert wide.dtype == "float32"
    assert wide.decision.startswith("kept float32: int8 with its 600 channel scales")
    (out,) = [w for w in int4.weights if w.shape == (2, 600)]
    assert out.dtype == "int8"
    assert int4.size_bytes < float32.size_bytes


def banded_lstm() -> keras.Model:
    """Bands whose ranks add up to 16 > D = 8: the folded LSTM kernel would grow."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ_LEN,), dtype="int32", name="token_ids")
    x = BandedLowRankEmbedding(
        VOCAB, DIM, boundaries=[10], ranks=[8, 8], mask_zero=True, name="embedding"
    )(inputs)
    x = keras.layers.LSTM(DIM, name="lstm")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


def test_folding_that_would_grow_the_weights_is_skipped_and_reported(tmp_path):
    model = banded_lstm()
    result = convert_to_tflite(model, tmp_path / "banded.tflite")
    assert result.folded_into == ()
    (fold,) = result.fold_results
    assert not fold.folded
    assert "would grow the weights from 384 to 512 parameters" in fold.reason
    unfolded = convert_to_tflite(
        model, tmp_path / "unfolded.tflite", fold_projection=False
    )
    assert result.size_bytes == unfolded.size_bytes
    # `fold_projection` itself still folds when asked to (latency over size).
    _, results = fold_projection(model, return_results=True)
    assert results[0].folded


# --- 4. the parity check runs on check_data --------------------------------------


def test_check_data_is_what_the_file_is_checked_on(tmp_path):
    model = conv_model()
    train, test = token_ids(64, seed=8), token_ids(40, seed=9)
    logits = keras.ops.convert_to_numpy(model(test, training=False))
    labels = np.argmax(logits, axis=1)  # Keras is right on every row.
    path = tmp_path / "int8.tflite"
    with pytest.warns(UserWarning, match=r"int8 file int8\.tflite has an accuracy"):
        result = convert_to_tflite(
            model,
            path,
            quantization="int8",
            representative_data=train,
            check_data=(test, labels),
        )
    assert (result.check_source, result.check_rows) == ("check_data", 40)
    actual = run_litert(path, test)["output_0"]
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    assert result.max_output_difference == pytest.approx(
        float(np.max(np.abs(actual - probabilities))), abs=1e-6
    )
    assert result.keras_accuracy == 1.0
    assert result.accuracy == pytest.approx(
        float(np.mean(np.argmax(actual, axis=1) == labels))
    )
    assert result.accuracy < 0.99
    without = convert_to_tflite(
        model, tmp_path / "x.tflite", quantization="int8", representative_data=train
    )
    assert (without.check_source, without.check_rows) == ("representative_data", 16)
    assert without.accuracy is None and without.keras_accuracy is None


@pytest.mark.parametrize(
    ("check_data", "error", "match"),
    [
        (np.ones((3, SEQ_LEN + 1), np.int32), ValueError, r"Received: check_data "),
        ((np.ones((3, SEQ_LEN), np.int32),), ValueError, "a tuple of 1 items"),
        (
            (np.ones((3, SEQ_LEN), np.int32), np.array([0, 1, 3])),
            ValueError,
            r"\[0, 3\).*Received: check_data\[1\] in \[0, 3\]",
        ),
        (
            (np.ones((3, SEQ_LEN), np.int32), np.zeros(3)),
            TypeError,
            r"Received: check_data\[1\] with dtype float64",
        ),
    ],
)
def test_check_data_errors_name_the_argument(tmp_path, check_data, error, match):
    with pytest.raises(error, match=match):
        convert_to_tflite(conv_model(), tmp_path / "x.tflite", check_data=check_data)
    assert list(tmp_path.iterdir()) == []
