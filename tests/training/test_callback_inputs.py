"""`EmbeddingFactorization` on the inputs users actually have: NumPy numbers, two
callbacks for one layer, a table that diverged before the split."""

import keras
import numpy as np
import pytest

from tflite_lowrank.factorization.svd import rank_for_compression
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.training.callback import EmbeddingFactorization
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

VOCAB, DIM, SEQ, SAMPLES = 50, 8, 5, 64


@pytest.fixture
def data(rng):
    x = rng.integers(1, VOCAB, (SAMPLES, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    return x, y


def model_with_embedding():
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_embedding_factorization_refuses_two_callbacks_for_one_layer_at_fit_start(
    data,
):
    model = model_with_embedding()
    first = EmbeddingFactorization("embedding", rank=2, at_epoch=1, verbose=0)
    second = EmbeddingFactorization("embedding", rank=3, at_epoch=1, bands=1, verbose=0)
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="Two `EmbeddingFactorization`.*'embedding'"):
        model.fit(*data, epochs=2, verbose=0, callbacks=[first, second])
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # Refused before training.
    # Nothing is held: either callback alone then splits the layer.
    model.fit(*data, epochs=2, verbose=0, callbacks=[second])
    assert isinstance(model.get_layer("embedding"), LowRankEmbedding)
    assert second.result.rank == 3


def test_embedding_factorization_refuses_a_table_that_is_not_finite(data):
    model = model_with_embedding()
    table = model.get_layer("embedding").embeddings
    values = np.array(table)
    values[7] = np.nan
    table.assign(values)
    optimizer = model.optimizer
    split = EmbeddingFactorization(rank=2, at_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"layer 'embedding'.*after epoch 1.*padding"):
        model.fit(*data, epochs=2, verbose=0, callbacks=[split])
    assert model.optimizer is optimizer  # Refused before anything changed.
    assert split.result is None
    assert type(model.get_layer("embedding")) is keras.layers.Embedding


# `in_fit`: split in `fit()`, where the NumPy `at_epoch` triggers the split and the
# learning rate trains; the other numbers are read when the layer is split, which
# `split_now` does without tracing `fit`.
NUMPY_ARGUMENTS = [
    pytest.param({"rank": np.int64(2)}, True, id="rank"),
    pytest.param({"compression": np.float32(0.5)}, False, id="compression"),
    pytest.param({"energy": np.float32(0.9)}, False, id="energy"),
    pytest.param({"rank": 2, "bands": np.int64(2)}, False, id="bands"),
    pytest.param(
        {"rank": 2, "bands": np.array([10], dtype=np.int64)}, False, id="bands-array"
    ),
    pytest.param(
        {"rank": 2, "learning_rate": np.float32(1e-3)}, True, id="learning-rate"
    ),
    pytest.param({"rank": 2, "verbose": np.int64(0)}, False, id="verbose"),
]


@pytest.mark.parametrize(("arguments", "in_fit"), NUMPY_ARGUMENTS)
def test_embedding_factorization_accepts_numpy_numbers(arguments, in_fit, data):
    model = model_with_embedding()
    arguments = {"verbose": 0, **arguments}
    split = EmbeddingFactorization(at_epoch=np.int64(1), **arguments)
    if in_fit:
        model.fit(*data, epochs=2, verbose=0, callbacks=[split])
    else:
        split.split_now(model, steps_per_epoch=2)
    assert split.result is not None and split.result.epoch == 1


def test_numpy_numbers_in_layers_schedule_and_rank_for_compression():
    assert rank_for_compression(np.int64(50), np.int64(8), np.float32(0.5)) == 3
    layer = LowRankEmbedding(np.int64(50), np.int64(8), np.int64(2))
    assert layer.get_config()["rank"] == 2
    assert type(layer.get_config()["rank"]) is int
    schedule = CyclicalAnnealedLearningRate(
        np.float32(1e-3), step_size=np.int64(4), steps_per_epoch=np.int64(8)
    )
    assert type(schedule.get_config()["steps_per_epoch"]) is int
