"""`weighting`: a split weighted by the input kernel of the layer reading vectors."""

import json

import keras
import numpy as np
import pytest
from interrupting import Interrupt

import tflite_lowrank as tl
from tflite_lowrank._keras import adapter
from tflite_lowrank._keras.graph import NoConsumer, find_consumer
from tflite_lowrank.factorization.weighting import metric_roots
from tflite_lowrank.layers.factors import plan_factors
from tflite_lowrank.training.consumer import consumer_covariance

VOCAB, DIM, SEQ, BATCH = 150, 12, 6, 16


def _data(rng, rows=96, vocab=VOCAB):
    ids = np.minimum(rng.zipf(1.3, size=(rows, SEQ)), vocab - 1).astype("int32")
    return ids, (ids[:, 0] % 2).astype("int32")


def _dan(hidden=5, dropout=0.1):
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")(inputs)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _sequential(reader, vocab=VOCAB):
    model = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            keras.layers.Embedding(vocab, DIM, name="embedding"),
            reader,
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


# ----------------------------------------------------------------- the consumer


def test_consumer_covariance_of_each_kind_of_kernel(rng):
    dense = keras.layers.Dense(4)
    dense.build((None, DIM))
    kernel = rng.normal(size=(DIM, 4)).astype("float32")
    dense.kernel.assign(kernel)
    np.testing.assert_allclose(
        consumer_covariance(dense), kernel.astype(np.float64) @ kernel.T, rtol=1e-6
    )
    # Conv1D (width, D, filters): every tap reads the vector.
    conv = keras.layers.Conv1D(3, 2)
    conv.build((None, SEQ, DIM))
    taps = rng.normal(size=(2, DIM, 3)).astype("float32")
    conv.kernel.assign(taps)
    expected = sum(t.astype(np.float64) @ t.T for t in taps)
    np.testing.assert_allclose(consumer_covariance(conv), expected, rtol=1e-6)
    # Bidirectional: both directions' input kernels.
    both = keras.layers.Bidirectional(keras.layers.LSTM(3))
    both.build((None, SEQ, DIM))
    forward = both.forward_layer.cell.kernel.numpy().astype(np.float64)
    backward = both.backward_layer.cell.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(
        consumer_covariance(both),
        forward @ forward.T + backward @ backward.T,
        rtol=1e-6,
    )


def test_find_consumer_walks_identities_and_the_mean():
    model = _dan()
    consumer, chain = find_consumer(model, model.get_layer("embedding"))
    assert consumer.name == "hidden"
    assert [type(layer).__name__ for layer in chain] == [
        "Dropout",
        "GlobalAveragePooling1D",
    ]
    lstm = _sequential(keras.layers.LSTM(4, return_sequences=True))
    assert isinstance(
        find_consumer(lstm, lstm.get_layer("embedding"))[0], keras.layers.LSTM
    )


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda: _sequential(keras.layers.LayerNormalization()), "LayerNormalization"),
        (lambda: _two_readers(), "feeds 2 layers"),
    ],
)
def test_no_consumer_says_why(build, reason):
    model = build()
    with pytest.raises(NoConsumer, match=reason):
        find_consumer(model, model.get_layer("embedding"))


def _two_readers():
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    a = keras.layers.GlobalAveragePooling1D()(x)
    b = keras.layers.GlobalMaxPooling1D()(x)
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([a, b]))
    return keras.Model(inputs, outputs)


# ------------------------------------------------------------------ the maths


def test_weighted_factors_are_better_in_the_consumers_metric(rng):
    table = rng.normal(size=(VOCAB, DIM))
    kernel = rng.normal(size=(DIM, 3)) * np.linspace(3.0, 0.1, DIM)[:, None]
    covariance = kernel @ kernel.T
    root, _ = metric_roots(covariance)
    plain = plan_factors(table, rank=3, bands=1, token_counts=None)
    weighted = plan_factors(
        table, rank=3, bands=1, token_counts=None, gradient_covariance=covariance
    )

    def error(factors, metric):
        product = np.concatenate([a @ b for a, b in factors.pairs])
        return np.linalg.norm((table - product) @ metric)

    # Each minimizes its own metric: the weighted split loses less of what the
    # consumer reads, the plain one less of the table.
    assert error(weighted, root) < error(plain, root)
    assert error(plain, np.eye(DIM)) <= error(weighted, np.eye(DIM)) + 1e-9


# ---------------------------------------------------------------- the callback


class _AtSplit(keras.callbacks.Callback):
    def __init__(self, x):
        super().__init__()
        self.x = x

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.table = np.array(self.model.get_layer("embedding").embeddings)
            self.weights = self.model.get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.after = self.model.predict(self.x, verbose=0)
            layer = self.model.get_layer("embedding")
            if hasattr(layer, "reconstructed_table"):
                self.product = layer.reconstructed_table()
            else:
                self.product = np.array(layer.embeddings_a) @ np.array(
                    layer.embeddings_b
                )


@pytest.mark.parametrize("bands", [1, "auto"])
def test_weighted_split_preserves_the_function(bands, rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=0.9,
        at_epoch=1,
        bands=bands,
        weighting="consumer",
        verbose=0,
    )
    at_split = _AtSplit(x)
    model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split, at_split], verbose=0)
    assert split.result.consumer == "hidden"
    assert "weighted by the input kernel of 'hidden'" in split.result.describe()
    # Right after the split the outputs are those of the table A @ B.
    plain = _dan()
    plain.set_weights(at_split.weights)
    plain.get_layer("embedding").set_weights([at_split.product])
    np.testing.assert_allclose(
        at_split.after, plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    # The weighted product is closer in what `hidden` reads than the plain SVD's.
    kernel = np.array(plain.get_layer("hidden").kernel, dtype=np.float64)
    root, _ = metric_roots(kernel @ kernel.T)
    if bands == 1:
        plain_factors = plan_factors(
            at_split.table.astype(np.float64),
            rank=split.result.rank,
            bands=1,
            token_counts=None,
        )
        ((a, b),) = plain_factors.pairs
        plain_product = a @ b
        weighted_error = np.linalg.norm((at_split.table - at_split.product) @ root)
        plain_error = np.linalg.norm((at_split.table - plain_product) @ root)
        assert weighted_error < plain_error
    # A heavy weighted split retrains at the calibrated CALR.
    schedule = adapter.learning_rate_object(model.optimizer)
    assert schedule.initial_learning_rate == pytest.approx(3e-3)


def test_default_is_the_plain_svd_and_consumer_weights_light_splits_too(rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding", compression=0.9, at_epoch=1, bands=1, verbose=0
    )
    at_split = _AtSplit(x)
    model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split, at_split], verbose=0)
    assert split.result.consumer is None
    s = np.linalg.svd(at_split.table, compute_uv=False)
    np.testing.assert_allclose(
        np.linalg.norm(at_split.table - at_split.product),
        np.sqrt((s[split.result.rank :] ** 2).sum()),
        rtol=1e-4,
    )
    # The light split is chosen and weighted at the split: `split_now`, no `fit`.
    light = tl.EmbeddingFactorization(
        "embedding", compression=0.5, at_epoch=1, weighting="consumer"
    )
    light.split_now(_dan(), steps_per_epoch=len(x) // BATCH)
    assert light.result.consumer == "hidden"
    schedule = adapter.learning_rate_object(light.model.optimizer)
    assert schedule.initial_learning_rate == pytest.approx(2e-3)


def test_consumer_without_one_raises_before_training(rng):
    x, y = _data(rng)
    model = _sequential(keras.layers.LayerNormalization())
    before = [np.array(w) for w in model.get_weights()]
    split = tl.EmbeddingFactorization(compression=0.9, at_epoch=1, weighting="consumer")
    with pytest.raises(ValueError, match='weighting="consumer"') as info:
        model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    assert "LayerNormalization" in str(info.value)
    # Nothing trained, nothing split.
    for w, w0 in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert isinstance(model.get_layer("embedding"), keras.layers.Embedding)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weighting": "gradient"}, "`weighting` must be"),
        ({"weighting": "Auto"}, "`weighting` must be"),
        ({"weighting": None}, "`weighting` must be"),
        (
            {"weighting": "consumer", "calibration_data": ([[1]], [0])},
            "calibration_data",
        ),
    ],
)
def test_weighting_is_checked_in_the_constructor(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        tl.EmbeddingFactorization(compression=0.9, at_epoch=1, **kwargs)
    assert "Received: weighting=" in str(info.value)


# Integration tier: a training, a save and load and three conversions; the weighted
# split is checked above, the factors folding into a Conv1D in
# tests/export/test_fold.py.
@pytest.mark.integration
def test_consumer_weighting_on_sequential_conv1d_converts(rng, tmp_path):
    x, y = _data(rng, vocab=2000)
    model = _sequential(keras.layers.Conv1D(6, 3), vocab=2000)
    split = tl.EmbeddingFactorization(
        compression=0.8, at_epoch=1, bands=3, weighting="consumer"
    )
    model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    assert split.result.consumer == model.layers[1].name
    assert len(split.result.band_ranks) == 3
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    for mode, tolerance in (("float32", 1e-4), ("dynamic", 0.1), ("int4", 0.2)):
        result = tl.convert_to_tflite(
            model, tmp_path / f"model_{mode}.tflite", quantization=mode
        )
        # The factors fold into the Conv1D, as the plain SVD's do.
        assert result.folded_into == (split.result.consumer,)
        assert result.max_output_difference < tolerance


def _lstm():
    return _sequential(keras.layers.LSTM(4, return_sequences=True, name="reader"))


@pytest.mark.parametrize(
    ("build", "kwargs", "train_basis", "peak"),
    [
        # Dropout's random state is not in a backup: none in the DAN.
        (lambda: _dan(dropout=0.0), {"weighting": "consumer"}, True, 3e-3),
        # The LSTM's default (weighting="auto"): weighted, fixed basis, peak 1e-2.
        # Integration tier: three LSTM trainings each (a fixed basis resumes in the
        # default tier in test_train_basis.py, a weighted split above).
        pytest.param(_lstm, {}, False, 1e-2, marks=pytest.mark.integration),
        # The same weighting with a trained basis: the weighted CALR.
        pytest.param(
            _lstm, {"train_basis": True}, True, 3e-3, marks=pytest.mark.integration
        ),
    ],
    ids=["dan-consumer", "lstm-default", "lstm-trained-basis"],
)
def test_weighted_split_resumes_from_a_backup(
    build, kwargs, train_basis, peak, rng, tmp_path
):
    """A restart after a post-split backup gets the same (weighted) CALR back."""
    x, y = _data(rng)

    def run(backup, stop_at=None):
        keras.utils.set_random_seed(3)
        model = build()
        restore = keras.callbacks.BackupAndRestore(str(backup))
        split = tl.EmbeddingFactorization(
            "embedding",
            compression=0.9,
            at_epoch=1,
            coordinate_with=[restore],
            verbose=0,
            **kwargs,
        )
        callbacks = [restore, split]
        if stop_at is not None:
            callbacks.append(Interrupt(stop_at))
        try:
            model.fit(
                x,
                y,
                epochs=3,
                batch_size=BATCH,
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
            )
        except RuntimeError as error:
            assert "interrupted" in str(error)
        return model, split

    uninterrupted, first = run(tmp_path / "a")
    assert first.result.consumer is not None
    assert first.result.train_basis is train_basis
    run(tmp_path / "b", stop_at=2)  # Killed after the first post-split epoch.
    marker = json.loads((tmp_path / "b" / "tflite_lowrank_split.json").read_text())
    assert marker["config"]["name"] == "embedding"
    assert marker["config"]["train_basis"] is train_basis
    resumed, split = run(tmp_path / "b")
    assert split.result.resumed and split.result.train_basis is train_basis
    schedule = adapter.learning_rate_object(resumed.optimizer)
    assert schedule.initial_learning_rate == pytest.approx(peak)
    for w, w0 in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_allclose(w, w0, rtol=1e-5, atol=1e-6)


def test_consumer_inside_a_keras_hub_layer_is_refused_with_the_reason(rng):
    keras_hub = pytest.importorskip("keras_hub")
    x, y = _data(rng)
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras_hub.layers.TokenAndPositionEmbedding(VOCAB, SEQ, DIM)(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    split = tl.EmbeddingFactorization(
        compression=0.9, at_epoch=1, bands=1, weighting="consumer"
    )
    with pytest.raises(ValueError, match="inside a nested model") as info:
        model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    assert "token_embedding" in str(info.value)
    # The default (the plain SVD) splits it.
    split = tl.EmbeddingFactorization(compression=0.9, at_epoch=1, bands=1)
    model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    assert split.result.consumer is None
