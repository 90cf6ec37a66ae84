"""The default recipe: `weighting="auto"` and `train_basis=None`.

A heavy split read by a recurrent layer is weighted by that layer's input kernel and
retrains with a fixed basis; everything else keeps the paper's plain SVD.
"""

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank._keras import adapter
from tflite_lowrank.training.arguments import (
    _resolve_train_basis,
    _resolve_weighting,
)
from tflite_lowrank.training.consumer import is_recurrent

VOCAB, DIM, SEQ, BATCH = 150, 12, 6, 16


def _data(rng, rows=96):
    ids = np.minimum(rng.zipf(1.3, size=(rows, SEQ)), VOCAB - 1).astype("int32")
    return ids, (ids[:, 0] % 2).astype("int32")


def _model(reader, *, before=(), mask=False):
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=mask, name="embedding")(inputs)
    for layer in before:
        x = layer(x)
    x = reader(x)
    if len(x.shape) == 3:
        x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _fit(model, data, **kwargs):
    split = tl.EmbeddingFactorization("embedding", at_epoch=1, verbose=0, **kwargs)
    model.fit(*data, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    return split


def _split_now(model, **kwargs):
    """The split `_fit` makes at epoch 1, without tracing `fit` (the recipe is
    chosen when the layer is split; `test_heavy_split_of_an_lstm_takes_the_recipe`
    splits in `fit()`)."""
    split = tl.EmbeddingFactorization("embedding", at_epoch=1, verbose=0, **kwargs)
    split.split_now(model, steps_per_epoch=96 // BATCH)
    return split


def _peak(model) -> float:
    return float(adapter.learning_rate_object(model.optimizer).initial_learning_rate)


def test_resolution_rules():
    assert _resolve_weighting("auto", 0.1, calibrated=False, fixed_recipe=True) == (
        "consumer"
    )
    assert _resolve_weighting("auto", 0.15, calibrated=False, fixed_recipe=True) == (
        "consumer"
    )
    assert (
        _resolve_weighting("auto", 0.2, calibrated=False, fixed_recipe=True) == "none"
    )
    assert _resolve_weighting("auto", 0.1, calibrated=True, fixed_recipe=True) == "none"
    assert _resolve_weighting("auto", 0.1, calibrated=False, fixed_recipe=False) == (
        "none"
    )
    for explicit in ("none", "consumer"):
        assert _resolve_weighting(explicit, 0.1, False, True) == explicit
    # `None` follows the recipe; explicit values win over it.
    assert _resolve_train_basis(None, 0.1, recipe=True) is False
    assert _resolve_train_basis(None, 0.1, recipe=False) is True
    assert _resolve_train_basis(True, 0.1, recipe=True) is True
    assert _resolve_train_basis("auto", 0.5, recipe=False) is False


@pytest.mark.parametrize(
    "reader, recurrent",
    [
        (lambda: keras.layers.LSTM(4, name="reader"), True),
        (lambda: keras.layers.GRU(4, return_sequences=True, name="reader"), True),
        (
            lambda: keras.layers.Bidirectional(
                keras.layers.SimpleRNN(3), name="reader"
            ),
            True,
        ),
        (lambda: keras.layers.Conv1D(4, 2, name="reader"), False),
        (lambda: keras.layers.Dense(4, name="reader"), False),
    ],
)
def test_is_recurrent(reader, recurrent):
    model = _model(reader())
    assert is_recurrent(model, model.get_layer("embedding")) is recurrent


def test_heavy_split_of_an_lstm_takes_the_recipe(rng):
    data = _data(rng)
    model = _model(keras.layers.LSTM(4, name="reader"), mask=True)
    split = _fit(model, data, compression=0.9)
    assert split.result.consumer == "reader"
    assert split.result.train_basis is False
    layer = model.get_layer("embedding")
    assert layer.train_basis is False and layer.mask_zero
    # The fixed basis' CALR: peak 1e-2.
    assert _peak(model) == pytest.approx(1e-2)
    assert "weighted by the input kernel of 'reader'" in split.result.describe()


def test_recipe_behind_dropout_in_a_bidirectional_gru(rng):
    model = _model(
        keras.layers.Bidirectional(keras.layers.GRU(3), name="reader"),
        before=(keras.layers.SpatialDropout1D(0.1),),
    )
    split = _split_now(model, compression=0.9)
    assert split.result.consumer == "reader"
    assert split.result.train_basis is False


@pytest.mark.parametrize(
    "reader, kwargs",
    [
        # A light split of an LSTM: not measured with the recipe, plain SVD.
        (lambda: keras.layers.LSTM(4, name="reader"), {"compression": 0.5}),
        # A DAN-like or convolutional reader at a heavy split.
        (lambda: keras.layers.Dense(4, name="reader"), {"compression": 0.9}),
        (lambda: keras.layers.Conv1D(4, 2, name="reader"), {"compression": 0.9}),
        # The old default, asked for by name.
        (
            lambda: keras.layers.LSTM(4, name="reader"),
            {"compression": 0.9, "weighting": "none"},
        ),
    ],
)
def test_plain_svd_otherwise(reader, kwargs, rng):
    model = _model(reader())
    split = _split_now(model, **kwargs)
    assert split.result.consumer is None
    assert split.result.train_basis is True
    assert model.get_layer("embedding").train_basis is True


def test_no_consumer_is_not_an_error_with_auto(rng):
    # LayerNormalization reads the vectors first: no linear consumer.
    model = _model(
        keras.layers.LSTM(4, name="reader"),
        before=(keras.layers.LayerNormalization(),),
    )
    split = _split_now(model, compression=0.9)
    assert split.result.consumer is None
    assert split.result.train_basis is True


def test_explicit_train_basis_wins_over_the_recipe(rng):
    model = _model(keras.layers.LSTM(4, name="reader"))
    split = _split_now(model, compression=0.9, train_basis=True)
    assert split.result.consumer == "reader"
    assert split.result.train_basis is True
    # A consumer-weighted split with a trained basis: the calibrated CALR.
    assert _peak(model) == pytest.approx(3e-3)


def test_calibration_data_takes_precedence(rng):
    x, y = _data(rng)
    model = _model(keras.layers.LSTM(4, name="reader"))
    split = _split_now(model, compression=0.9, calibration_data=(x[:32], y[:32]))
    assert split.result.consumer is None
    assert split.result.calibration_batches == 1
    assert split.result.train_basis is True
