"""`EmbeddingFactorization(calibration_data=...)`: the gradient-weighted split."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite_lowrank as tl
from tflite_lowrank._keras import adapter
from tflite_lowrank.factorization.weighting import metric_roots, weighted_error
from tflite_lowrank.layers.factors import plan_factors
from tflite_lowrank.training.calibration import gradient_covariance

VOCAB, DIM, SEQ = 120, 8, 5


def _dan():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")(
        inputs
    )
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _data(rng, rows=96):
    ids = np.minimum(rng.zipf(1.3, size=(rows, SEQ)), VOCAB - 1).astype("int32")
    return ids, (ids[:, 0] % 3).astype("int32")


def test_gradient_covariance_matches_the_dense_gradient(rng):
    x, y = _data(rng)
    model = _dan()
    model.fit(x, y, epochs=1, verbose=0)
    variable = model.get_layer("embedding").embeddings
    covariance, used = gradient_covariance(model, variable, (x, y), steps=2)
    assert used == 2
    expected = np.zeros((DIM, DIM))
    loss = keras.losses.SparseCategoricalCrossentropy()
    for start in (0, 32):
        with tf.GradientTape() as tape:
            value = loss(y[start : start + 32], model(x[start : start + 32]))
        dense = np.asarray(tf.convert_to_tensor(tape.gradient(value, variable)))
        expected += dense.T.astype(np.float64) @ dense
    np.testing.assert_allclose(covariance, expected, rtol=1e-5, atol=1e-12)


class _AtSplit(keras.callbacks.Callback):
    """The table and the gradient covariance before the split (nothing changes
    between this epoch end and the split), the factors and predictions right after."""

    def __init__(self, x, data, steps):
        super().__init__()
        self.x, self.data, self.steps = x, data, steps

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            variable = self.model.get_layer("embedding").embeddings
            self.table = np.array(variable)
            self.covariance, _ = gradient_covariance(
                self.model, variable, self.data, self.steps
            )

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            layer = self.model.get_layer("embedding")
            self.factors = [np.array(w) for w in layer.weights]
            self.after = self.model.predict(self.x, verbose=0)
            self.rest = [np.array(w) for w in self.model.weights[2:]]


def test_calibrated_split_minimizes_the_weighted_error_and_keeps_the_function(rng):
    x, y = _data(rng)
    model = _dan()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=0.7,
        at_epoch=1,
        bands=1,
        verbose=0,
        calibration_data=data,
        calibration_steps=4,
    )
    probe = _AtSplit(x, data, 4)
    model.fit(x, y, epochs=2, batch_size=16, callbacks=[split, probe], verbose=0)
    assert split.result.calibration_batches == 4
    assert "4 calibration batches" in split.result.describe()

    root, _ = metric_roots(probe.covariance)
    a, b = probe.factors
    ((pa, pb),) = plan_factors(
        probe.table, rank=split.result.rank, bands=1, token_counts=None
    ).pairs
    assert weighted_error(probe.table, a, b, root) < 0.99 * weighted_error(
        probe.table, pa, pb, root
    )
    # Right after the split the model is the full one with W replaced by A B.
    twin = _dan()
    twin.set_weights([a @ b, *probe.rest])
    np.testing.assert_allclose(twin.predict(x, verbose=0), probe.after, atol=1e-5)


def test_calibrated_bands_and_multi_input_dict_arrays(rng):
    ids, y = _data(rng)
    extra = rng.standard_normal((len(ids), 2)).astype("float32")
    tokens = keras.Input((SEQ,), dtype="int32", name="tokens")
    side = keras.Input((2,), name="side")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="embedding")(tokens)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    hidden = keras.layers.Concatenate()([hidden, side])
    model = keras.Model(
        {"tokens": tokens, "side": side},
        keras.layers.Dense(3, activation="softmax")(hidden),
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x = {"tokens": ids, "side": extra}
    split = tl.EmbeddingFactorization(
        compression=0.6, at_epoch=1, bands=2, verbose=0, calibration_data=(x, y)
    )
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[split], verbose=0)
    # 96 examples in batches of 32 (the default steps, 100, is more than there are).
    assert split.result.calibration_batches == 3
    assert isinstance(model.get_layer("embedding"), tl.BandedLowRankEmbedding)


def test_no_gradient_falls_back_to_the_plain_split(rng, caplog):
    x, y = _data(rng)
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    hidden = keras.layers.Dense(4, trainable=False, kernel_initializer="zeros")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    split = tl.EmbeddingFactorization(
        compression=0.7, at_epoch=1, bands=1, verbose=0, calibration_data=(x, y)
    )
    with caplog.at_level(logging.WARNING):
        model.fit(x, y, epochs=2, callbacks=[split], verbose=0)
    assert split.result.calibration_batches == 0
    assert "no gradient" in caplog.text


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"calibration_data": "train.csv"}, TypeError, "calibration_data"),
        ({"calibration_data": np.zeros((4, SEQ))}, TypeError, "calibration_data"),
        ({"calibration_data": (np.zeros((4, SEQ)),)}, ValueError, "length 1"),
        ({"calibration_steps": 0}, ValueError, "calibration_steps"),
        ({"calibration_steps": 2.5}, TypeError, "calibration_steps"),
    ],
)
def test_bad_calibration_arguments_are_refused_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        tl.EmbeddingFactorization(compression=0.5, at_epoch=1, **kwargs)


def test_calibration_batches_without_labels_are_refused_at_the_split(rng):
    x, y = _data(rng)
    model = _dan()
    features_only = tf.data.Dataset.from_tensor_slices(x).batch(16)
    split = tl.EmbeddingFactorization(
        compression=0.7, at_epoch=1, verbose=0, calibration_data=features_only
    )
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        model.fit(x, y, epochs=2, callbacks=[split], verbose=0)
    # Nothing was split: the model still holds its full table.
    assert isinstance(model.get_layer("embedding"), keras.layers.Embedding)


@pytest.mark.parametrize(
    "compression, calibrated, weighting, peak, floor",
    [
        (0.9, False, "none", 1e-2, 1e-5),
        (0.9, True, "none", 3e-3, 3e-6),
        # A heavy split weighted by its consumer's kernel, without data.
        (0.9, False, "consumer", 3e-3, 3e-6),
        # Light splits: the shallow cycle, weighted or not.
        (0.6, True, "none", 2e-3, 5e-4),
        (0.6, False, "none", 2e-3, 5e-4),
        (0.6, False, "consumer", 2e-3, 5e-4),
    ],
)
def test_default_calr_peak_of_a_calibrated_split(
    rng, compression, calibrated, weighting, peak, floor
):
    x, y = _data(rng, rows=64)
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(400, 40, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    split = tl.EmbeddingFactorization(
        compression=compression,
        at_epoch=1,
        verbose=0,
        calibration_data=(x, y) if calibrated else None,
        weighting=weighting,
    )
    # `split_now` installs the schedule a split in `fit()` does, without tracing
    # `fit` (the other tests here split in `fit()`).
    split.split_now(model, steps_per_epoch=2)
    schedule = adapter.learning_rate_object(model.optimizer)
    assert isinstance(schedule, tl.CyclicalAnnealedLearningRate)
    assert schedule.initial_learning_rate == pytest.approx(peak)
    assert schedule.minimal_learning_rate == pytest.approx(floor)
    assert split.result.calibration_batches == (2 if calibrated else 0)
    by_consumer = weighting == "consumer"
    assert split.result.consumer == (model.layers[-1].name if by_consumer else None)
