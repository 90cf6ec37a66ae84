"""Tests of `EmbeddingFactorization`: the split in the middle of `fit()`."""

import json
import logging
import os
import subprocess
import sys
import textwrap
import weakref

import keras
import numpy as np
import pytest
from interrupting import Interrupt

from tflite_lowrank._keras import adapter, graph
from tflite_lowrank.factorization.svd import rank_for_energy, singular_values
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.training.callback import EmbeddingFactorization
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

VOCAB, DIM, SEQ, SAMPLES, BATCH = 50, 8, 5, 128, 32
STEPS = SAMPLES // BATCH
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture
def data(rng):
    x = rng.integers(1, VOCAB, (SAMPLES, SEQ)).astype("int32")
    x[: SAMPLES // 4, 3:] = 0  # right padding in a quarter of the rows
    y = (x[:, 0] % 2).astype("int32")  # learnable through the embedding only
    return x, y


# ------------------------------------------------------------------ models


def embedding(**kwargs):
    return keras.layers.Embedding(
        VOCAB, DIM, mask_zero=True, name="embedding", **kwargs
    )


def compiled(model, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss=LOSS)
    return model


def functional(head):
    def build():
        inputs = keras.Input((SEQ,), dtype="int32")
        x = embedding()(inputs)
        if head == "lstm":
            x = keras.layers.LSTM(4)(x)
        elif head == "gru":
            x = keras.layers.GRU(4)(x)
        elif head == "bidirectional":
            x = keras.layers.Bidirectional(keras.layers.LSTM(3))(x)
        elif head == "gap":
            x = keras.layers.GlobalAveragePooling1D()(x)
        elif head == "conv1d":
            x = keras.layers.Conv1D(4, 3, padding="same")(x)
            x = keras.layers.GlobalAveragePooling1D()(x)
        elif head == "bidirectional_gru":
            x = keras.layers.Bidirectional(keras.layers.GRU(3))(x)
        elif head == "used_twice":
            x = keras.layers.Concatenate()(
                [keras.layers.GlobalAveragePooling1D()(x), keras.layers.LSTM(3)(x)]
            )
        return compiled(keras.Model(inputs, keras.layers.Dense(2)(x)))

    return build


def sequential():
    return compiled(
        keras.Sequential(
            [
                keras.Input((SEQ,), dtype="int32"),
                embedding(),
                keras.layers.LSTM(4),
                keras.layers.Dense(2),
            ]
        )
    )


def shared_two_inputs():
    first = keras.Input((SEQ,), dtype="int32")
    second = keras.Input((SEQ,), dtype="int32")
    table = embedding()
    pool = keras.layers.GlobalAveragePooling1D()
    x = keras.layers.Concatenate()([pool(table(first)), pool(table(second))])
    model = keras.Model([first, second], keras.layers.Dense(2)(x), name="two_inputs")
    return compiled(model)


def nested():
    inner_inputs = keras.Input((SEQ,), dtype="int32")
    inner = keras.Model(
        inner_inputs,
        keras.layers.GlobalAveragePooling1D()(embedding()(inner_inputs)),
        name="encoder",
    )
    inputs = keras.Input((SEQ,), dtype="int32")
    return compiled(keras.Model(inputs, keras.layers.Dense(2)(inner(inputs))))


@keras.saving.register_keras_serializable(package="tflite_lowrank_tests")
class Classifier(keras.Model):
    """A subclassed model that serializes its embedding layer (Keras' nested-layer
    pattern), so that its `.keras` file rebuilds whatever layer it holds."""

    def __init__(self, table=None, **kwargs):
        super().__init__(**kwargs)
        self.table = table if table is not None else embedding()
        self.recurrent = keras.layers.LSTM(4)
        self.head = keras.layers.Dense(2)

    def call(self, inputs):
        return self.head(self.recurrent(self.table(inputs)))

    def get_config(self):
        return {
            "name": self.name,
            "table": keras.saving.serialize_keras_object(self.table),
        }

    @classmethod
    def from_config(cls, config):
        config["table"] = keras.saving.deserialize_keras_object(config["table"])
        return cls(**config)


def subclassed():
    model = Classifier()
    model(np.zeros((1, SEQ), dtype="int32"))
    return compiled(model)


def inputs_for(model, x):
    return [x, x[::-1]] if model.name == "two_inputs" else x


def outputs(model, inputs):
    """Eager outputs (no `predict` tracing: keeps the recurrent tests fast)."""
    return keras.ops.convert_to_numpy(model(inputs, training=False))


class Snapshot(keras.callbacks.Callback):
    """Weights (and the table's position) when epoch `epoch` begins."""

    def __init__(self, epoch, layer_name="embedding"):
        super().__init__()
        self.epoch = epoch
        self.layer_name = layer_name
        self.weights = None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.weights = self.model.get_weights()
            layer = find_layer(self.model, self.layer_name)
            self.table_index = [id(v) for v in self.model.weights].index(
                id(layer.weights[0])
            )


class PostSplit(keras.callbacks.Callback):
    """Outputs and weights right after the split (placed after the split)."""

    def __init__(self, epoch, x):
        super().__init__()
        self.epoch, self.x = epoch, x

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.weights = self.model.get_weights()
            self.outputs = outputs(self.model, inputs_for(self.model, self.x))


class EpochWeights(keras.callbacks.Callback):
    def __init__(self, x):
        super().__init__()
        self.x = x
        self.weights, self.outputs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.outputs.append(outputs(self.model, self.x))


def find_layer(model, name):
    for layer in graph.flatten_layers(model):
        if layer.name == name:
            return layer
    raise KeyError(name)


def tail_energy(matrix, rank):
    s = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
    return np.sqrt(np.sum(s[rank:] ** 2))


# ------------------------------------------------------------ split itself


ARCHITECTURES = {
    "sequential_lstm": sequential,
    "functional_bidirectional_gru": functional("bidirectional_gru"),
    "functional_global_average": functional("gap"),
    "functional_conv1d": functional("conv1d"),
    "output_used_twice": functional("used_twice"),
    "shared_layer_two_inputs": shared_two_inputs,
    "nested_model": nested,
    "subclassed_lstm": subclassed,
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
@pytest.mark.filterwarnings("ignore:.*does not support masking:UserWarning")
def test_embedding_factorization_is_function_preserving(name, data, tmp_path):
    build = ARCHITECTURES[name]
    x, y = data
    keras.utils.set_random_seed(0)
    model = build()
    before = Snapshot(1)
    after = PostSplit(1, x)
    split = EmbeddingFactorization(
        compression=0.5, at_epoch=1, bands=1
    )  # only Embedding
    model.fit(
        inputs_for(model, x),
        y,
        batch_size=BATCH,
        epochs=2,
        callbacks=[before, split, after],
        verbose=0,
    )
    rank = split.result.rank
    assert rank == 3  # floor(0.5 * 50 * 8 / 58)
    layer = find_layer(model, "embedding")
    assert type(layer) is LowRankEmbedding and layer.rank == rank
    assert layer.mask_zero
    index = before.table_index
    table = before.weights[index]
    a, b = after.weights[index], after.weights[index + 1]
    assert a.shape == (VOCAB, rank) and b.shape == (rank, DIM)
    # A @ B is the best rank-k approximation of the trained table, A = U_k.
    np.testing.assert_allclose(
        np.linalg.norm(table - a @ b), tail_energy(table, rank), rtol=1e-4
    )
    np.testing.assert_allclose(a.T @ a, np.eye(rank), atol=1e-5)
    # Every other weight keeps its trained value.
    others_before = before.weights[:index] + before.weights[index + 1 :]
    others_after = after.weights[:index] + after.weights[index + 2 :]
    for old, new in zip(others_before, others_after, strict=True):
        np.testing.assert_array_equal(old, new)
    # Outputs equal those of the same model with W replaced by A @ B.
    keras.utils.set_random_seed(0)
    reference = build()
    reference_weights = list(before.weights)
    reference_weights[index] = a @ b
    reference.set_weights(reference_weights)
    expected = outputs(reference, inputs_for(model, x))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(after.outputs, expected, rtol=1e-5, atol=1e-5 * scale)
    assert all(v.trainable for v in model.weights)
    # Training went on with the factors.
    assert not np.allclose(layer.embeddings_a.numpy(), a)
    # Save and load: the file holds a LowRankEmbedding, no custom_objects needed.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(find_layer(loaded, "embedding")) is LowRankEmbedding
    np.testing.assert_allclose(
        outputs(loaded, inputs_for(model, x)),
        outputs(model, inputs_for(model, x)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_embedding_factorization_replaces_optimizer_functions_and_logs(
    data, caplog, tmp_path
):
    x, y = data
    keras.utils.set_random_seed(0)
    optimizer = keras.optimizers.Adam(2e-2, beta_1=0.8, epsilon=0.01, clipnorm=5.0)
    model = compiled(functional("gap")(), optimizer)
    expected = optimizer.get_config()
    del optimizer  # the test must not keep the old optimizer alive itself
    old = {}

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                old["optimizer"] = weakref.ref(self.model.optimizer)
                old["table"] = weakref.ref(
                    find_layer(self.model, "embedding").weights[0]
                )

    split = EmbeddingFactorization("embedding", rank=2, at_epoch=1, bands=1)
    with caplog.at_level(logging.INFO, logger="tflite_lowrank.training.callback"):
        history = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=3,
            validation_data=(x, y),
            callbacks=[Watch(), split],
            verbose=0,
        )
    # The old optimizer (and its slots) and the old table are released.
    assert old["optimizer"]() is None
    assert old["table"]() is None
    new = model.optimizer
    assert type(new) is keras.optimizers.Adam
    assert adapter.compiled_optimizer(model) is new
    actual = new.get_config()
    for key in ("beta_1", "epsilon", "clipnorm", "name"):
        assert actual[key] == expected[key]
    assert int(new.iterations) == 2 * STEPS  # fresh: only the post-split steps
    schedule = adapter.learning_rate_object(new)
    assert isinstance(schedule, CyclicalAnnealedLearningRate)
    assert schedule.steps_per_epoch == STEPS and schedule.step_size == STEPS / 2
    # The default CALR chosen on dev (benchmarks/results/calr_budget.md): rank 2
    # keeps 2 * (50 + 8) / (50 * 8) = 29% of the table, a light split: peak 2e-3
    # with the shallow cycle (floor 5e-4).
    assert schedule.initial_learning_rate == 2e-3
    assert schedule.minimal_learning_rate == 5e-4 and schedule.decay == 0.8
    # Validation and evaluate() use the factors (compiled functions were reset).
    fresh = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            LowRankEmbedding(VOCAB, DIM, 2, mask_zero=True),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ]
    )
    fresh.set_weights(model.get_weights())
    fresh.compile(loss=LOSS)
    true_loss = fresh.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], true_loss, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), true_loss, rtol=1e-5)
    # The split is logged with its numbers.
    messages = [
        r.getMessage() for r in caplog.records if "factorized" in r.getMessage()
    ]
    assert len(messages) == 1
    message = messages[0]
    for part in ("Epoch 1", "'embedding'", "50 x 8", "rank 2", "400 -> 116", " s."):
        assert part in message
    result = split.result
    assert (result.epoch, result.rank, result.params_before, result.params_after) == (
        1,
        2,
        400,
        116,
    )
    assert 0 < result.relative_error < 1 and result.seconds > 0
    assert f"{result.relative_error:.4f}" in message
    assert json.dumps(result.to_dict())
    # The saved optimizer carries the schedule and its position.
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(
        adapter.learning_rate_object(loaded.optimizer),
        CyclicalAnnealedLearningRate,
    )
    assert int(loaded.optimizer.iterations) == 2 * STEPS
    loaded.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "learning_rate, expected",
    [
        (None, 0.02),
        (0.005, 0.005),
        (keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), "schedule"),
    ],
    ids=["keep", "float", "schedule"],
)
def test_embedding_factorization_learning_rate_options(learning_rate, expected, data):
    x, y = data
    model = compiled(functional("gap")(), keras.optimizers.SGD(0.02, momentum=0.5))
    split = EmbeddingFactorization(
        rank=2, at_epoch=1, learning_rate=learning_rate, bands=1
    )
    # The learning rate is installed with the fresh optimizer at the split:
    # `split_now`, without tracing `fit` (the CALR of a split in `fit()` is checked
    # in test_embedding_factorization_calr_paper_is_the_authors_fine_tuning_schedule).
    split.split_now(model, steps_per_epoch=STEPS)
    rate = adapter.learning_rate_object(model.optimizer)
    assert type(model.optimizer) is keras.optimizers.SGD
    assert model.optimizer.momentum == 0.5
    if expected == "schedule":
        assert isinstance(rate, keras.optimizers.schedules.ExponentialDecay)
        assert rate is not learning_rate
        assert rate.get_config() == learning_rate.get_config()
    else:
        np.testing.assert_allclose(float(rate.numpy()), expected, rtol=1e-6)


@pytest.mark.parametrize("energy", [0.6, 1.0], ids=["energy0.6", "energy1.0_capped"])
def test_embedding_factorization_rank_from_energy(energy, data, caplog):
    # The rank is read from the table's spectrum at the split: `split_now`, without
    # tracing `fit`.
    model = functional("gap")()
    table = np.array(find_layer(model, "embedding").embeddings)
    split = EmbeddingFactorization(energy=energy, at_epoch=1, bands=1)
    with caplog.at_level(logging.WARNING, logger="tflite_lowrank.training.callback"):
        split.split_now(model, steps_per_epoch=STEPS)
    wanted = rank_for_energy(singular_values(table), energy)
    assert split.result.rank == min(wanted, 6)  # 6 = largest rank below 400 / 58
    assert ("would not save parameters" in caplog.text) == (wanted > 6)


@pytest.mark.filterwarnings("ignore:Your input ran out of data:UserWarning")
def test_embedding_factorization_unknown_steps_per_epoch(data):
    import tensorflow as tf

    x, y = data
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .filter(lambda features, label: True)  # unknown cardinality
        .batch(BATCH)
    )
    model = functional("gap")()
    split = EmbeddingFactorization(rank=2, at_epoch=2, bands=1)
    history = model.fit(dataset, epochs=3, shuffle=False, callbacks=[split], verbose=0)
    assert len(history.history["loss"]) == 3
    assert split.result is not None
    # Measured in optimizer iterations, the clock of the schedule (Keras counts
    # one more iteration than batches when a dataset of unknown size runs out).
    steps = adapter.learning_rate_object(model.optimizer).steps_per_epoch
    assert steps == int(model.optimizer.iterations)  # one epoch after the split
    assert steps in (STEPS, STEPS + 1)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "exactly one of `rank`, `compression` or `energy`"),
        (
            {"rank": 2, "compression": 0.5},
            ValueError,
            "Received: rank=2, compression=0.5, energy=None",
        ),
        ({"rank": 0}, ValueError, "Received: rank=0"),
        ({"rank": 2.0}, TypeError, "Received: rank=2.0"),
        ({"compression": 1.0}, ValueError, "Received: compression=1.0"),
        ({"energy": 0.0}, ValueError, "Received: energy=0.0"),
        ({"energy": "all"}, TypeError, "Received: energy='all'"),
        ({"rank": 2, "at_epoch": 0}, ValueError, "Received: at_epoch=0"),
        ({"rank": 2, "at_epoch": 1.5}, TypeError, "Received: at_epoch=1.5"),
        (
            {"rank": 2, "learning_rate": "cosine"},
            ValueError,
            "Received: learning_rate='cosine'",
        ),
        ({"rank": 2, "learning_rate": -1.0}, ValueError, "Received: learning_rate=-1"),
        ({"rank": 2, "learning_rate": [1e-3]}, TypeError, "learning_rate=\\[0.001\\]"),
        ({"rank": 2, "layer_name": 3}, TypeError, "Received: layer_name=3"),
        (
            {"rank": 2, "coordinate_with": keras.callbacks.EarlyStopping()},
            TypeError,
            "list or tuple of .*Received: coordinate_with=<.*EarlyStopping",
        ),
        (
            {"rank": 2, "coordinate_with": [keras.callbacks.History(), "stop"]},
            TypeError,
            "item 1 is a str.*Received: coordinate_with=\\[",
        ),
    ],
    ids=[
        "none_of_three",
        "two_of_three",
        "rank0",
        "rank_float",
        "compression1",
        "energy0",
        "energy_str",
        "at_epoch0",
        "at_epoch_float",
        "learning_rate_str",
        "learning_rate_negative",
        "learning_rate_list",
        "layer_name_int",
        "coordinate_with_bare_callback",
        "coordinate_with_not_callback",
    ],
)
def test_embedding_factorization_constructor_errors(kwargs, error, match):
    kwargs = {"at_epoch": 1, **kwargs}
    with pytest.raises(error, match=match):
        EmbeddingFactorization(**kwargs)


def two_embeddings():
    inputs = keras.Input((SEQ,), dtype="int32")
    first = keras.layers.Embedding(VOCAB, DIM, name="words")(inputs)
    second = keras.layers.Embedding(VOCAB, DIM, name="chars")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Add()([first, second]))
    return compiled(keras.Model(inputs, keras.layers.Dense(2, name="head")(x)))


@pytest.mark.parametrize(
    "build, kwargs, match",
    [
        (
            two_embeddings,
            {"layer_name": "missing", "rank": 2},
            r"no layer named 'missing'.*\['words', 'chars'\].*"
            r"Received: layer_name='missing'",
        ),
        (
            two_embeddings,
            {"layer_name": "head", "rank": 2},
            r"is a `Dense`, not a `keras.layers.Embedding`.*"
            r"Received: layer_name='head'",
        ),
        (
            two_embeddings,
            {"rank": 2},
            r"has 2: \['words', 'chars'\].*Received: layer_name=None",
        ),
        (functional("gap"), {"rank": 8}, "at most 6 .*Received: rank=8"),
        (
            functional("gap"),
            {"rank": 7},
            "not smaller than the table.*Received: rank=7",
        ),
        (functional("gap"), {"compression": 0.99}, "Received: compression=0.99"),
    ],
    ids=[
        "no_such_layer",
        "not_embedding",
        "ambiguous",
        "rank_not_below_dim",
        "rank_no_saving",
        "compression_rank0",
    ],
)
def test_embedding_factorization_fit_errors_before_any_work(build, kwargs, match, data):
    x, y = data
    model = build()
    before = model.get_weights()
    split = EmbeddingFactorization(at_epoch=1, **kwargs)
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[split], verbose=0)
    assert int(model.optimizer.iterations) == 0
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_embedding_factorization_rejects_reuse_after_split(data):
    x, y = data
    model = functional("gap")()
    split = EmbeddingFactorization(rank=2, at_epoch=1, bands=1)
    split.split_now(model, steps_per_epoch=STEPS)  # as a split in `fit()` leaves it
    with pytest.raises(ValueError, match="already split layer 'embedding' at epoch 1"):
        model.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[split], verbose=0)


def test_embedding_factorization_rejects_already_factorized_layer(data):
    x, y = data
    model = functional("gap")()
    split = EmbeddingFactorization(rank=2, at_epoch=1, bands=1)
    split.split_now(model, steps_per_epoch=STEPS)  # as a split in `fit()` leaves it
    again = EmbeddingFactorization("embedding", rank=2, at_epoch=1, bands=1)
    with pytest.raises(ValueError, match="already a `LowRankEmbedding`"):
        model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[again], verbose=0)
    with pytest.raises(ValueError, match=r"the model has 0: \[\]"):
        model.fit(
            x,
            y,
            epochs=2,
            callbacks=[EmbeddingFactorization(rank=2, at_epoch=1, bands=1)],
            verbose=0,
        )


def test_embedding_factorization_warns_when_split_never_happens(data):
    x, y = data
    model = functional("gap")()
    split = EmbeddingFactorization(rank=2, at_epoch=2, bands=1)
    with pytest.warns(UserWarning, match="will never split.*Received: at_epoch=2"):
        model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[split], verbose=0)
    assert split.result is None
    assert type(find_layer(model, "embedding")) is keras.layers.Embedding


# ------------------------------------------------------- other callbacks


def rank_one_setup(data, coordinate_with=()):
    """A model whose split (rank 1, frozen learning rate) makes val_loss worse.

    The plain SVD (`weighting="none"`, also what `"auto"` gives this model, said
    here because a split weighted by the Dense's kernel keeps what the model reads,
    and val_loss need not get worse then).
    """
    x, y = data
    keras.utils.set_random_seed(0)
    model = functional("gap")()
    split = EmbeddingFactorization(
        rank=1,
        at_epoch=2,
        learning_rate=1e-9,
        coordinate_with=coordinate_with,
        bands=1,
        weighting="none",
    )
    return x, y, model, split


@pytest.mark.parametrize("order", ["before_split", "after_split"])
def test_embedding_factorization_early_stopping_and_checkpoint_never_mix(
    order, data, tmp_path
):
    stopping = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(path, save_best_only=True)
    x, y, model, split = rank_one_setup(data, coordinate_with=[stopping, checkpoint])
    record = EpochWeights(x)
    callbacks = [stopping, checkpoint, split, record]
    if order == "after_split":
        callbacks = [split, stopping, checkpoint, record]
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=4,
        validation_data=(x, y),
        callbacks=callbacks,
        verbose=0,
    )
    val_loss = history.history["val_loss"]
    # Precondition that makes the test meaningful: the best epoch is pre-split.
    assert min(val_loss[:2]) < min(val_loss[2:])
    best_post = 2 + int(np.argmin(val_loss[2:]))
    # EarlyStopping restored the best *factorized* weights, not pre-split ones.
    assert stopping.best_epoch == best_post
    assert type(find_layer(model, "embedding")) is LowRankEmbedding
    for restored, recorded in zip(
        model.get_weights(), record.weights[best_post], strict=True
    ):
        np.testing.assert_array_equal(restored, recorded)
    # ModelCheckpoint holds the best factorized model.
    loaded = keras.models.load_model(path)
    assert type(find_layer(loaded, "embedding")) is LowRankEmbedding
    np.testing.assert_allclose(outputs(loaded, x), record.outputs[best_post], rtol=1e-6)


def test_embedding_factorization_not_split_when_training_stops_first(data, caplog):
    x, y = data
    model = functional("gap")()
    # The training loss falls, so in "max" mode epoch 1 is no improvement: stop.
    stopping = keras.callbacks.EarlyStopping(monitor="loss", mode="max", patience=0)
    split = EmbeddingFactorization(
        rank=2, at_epoch=3, coordinate_with=[stopping], bands=1
    )
    with caplog.at_level(logging.WARNING, logger="tflite_lowrank.training.callback"):
        model.fit(
            x, y, batch_size=BATCH, epochs=5, callbacks=[stopping, split], verbose=0
        )
    assert split.result is None
    assert "was not factorized" in caplog.text
    assert type(find_layer(model, "embedding")) is keras.layers.Embedding


def test_embedding_factorization_warns_reduce_lr_on_plateau_steps_per_execution():
    """A coordinated plateau scales the schedule per batch: n steps at a time."""
    model = functional("gap")()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss=LOSS, steps_per_execution=2
    )
    plateau = keras.callbacks.ReduceLROnPlateau()
    split = EmbeddingFactorization(
        rank=2, at_epoch=1, coordinate_with=[plateau], bands=1
    )
    callbacks = keras.callbacks.CallbackList(
        [split, plateau], model=model, epochs=2, steps=1
    )
    with pytest.warns(UserWarning, match="the rate changes every 2 steps only"):
        callbacks.on_train_begin()
    keeping = EmbeddingFactorization(
        rank=2,
        at_epoch=1,
        learning_rate=1e-3,
        coordinate_with=(plateau,),
        bands=1,
    )
    callbacks = keras.callbacks.CallbackList(
        [keeping, plateau], model=model, epochs=2, steps=1
    )
    callbacks.on_train_begin()  # no warning: a float rate is not driven


MARKER = "tflite_lowrank_split.json"


def backup_run(data, backup_dir, *, order="backup,split", interrupt=None, **backup):
    """5 epochs with a split after epoch 2 and a `BackupAndRestore`, in `order`."""
    x, y = data
    keras.utils.set_random_seed(0)
    model = functional("gap")()
    callbacks = {"backup": keras.callbacks.BackupAndRestore(backup_dir, **backup)}
    callbacks["split"] = EmbeddingFactorization(
        rank=3,
        at_epoch=2,
        coordinate_with=[callbacks["backup"]],
        bands=1,
    )
    ordered = [callbacks[name] for name in order.split(",")]
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=5,
        shuffle=False,
        callbacks=ordered + ([interrupt] if interrupt else []),
        verbose=0,
    )
    return model, callbacks["split"]


@pytest.fixture(scope="module")
def backup_reference(tmp_path_factory):
    """The same run, never killed."""
    rng = np.random.default_rng(0)  # the `data` fixture's numbers
    x = rng.integers(1, VOCAB, (SAMPLES, SEQ)).astype("int32")
    x[: SAMPLES // 4, 3:] = 0
    y = (x[:, 0] % 2).astype("int32")
    model, _ = backup_run((x, y), tmp_path_factory.mktemp("reference") / "backup")
    return model


def assert_same_training(model, reference):
    assert type(model.get_layer("embedding")) is LowRankEmbedding
    assert int(model.optimizer.iterations) == int(reference.optimizer.iterations)
    learning_rate = adapter.learning_rate_object
    assert (
        learning_rate(model.optimizer).get_config()
        == learning_rate(reference.optimizer).get_config()
    )
    for resumed_weight, reference_weight in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed_weight, reference_weight, atol=1e-6)


# Two 5-epoch trainings per case: the default tier resumes before the split (no
# marker) and right after the post-split backup (marker); the other windows are in
# the integration tier.
_LATER = pytest.mark.integration


@pytest.mark.parametrize(
    "order, interrupt, marker_after_kill",
    [
        ("backup,split", Interrupt(1), False),
        pytest.param(
            "backup,split",
            Interrupt(2, "on_train_batch_end", batch=1),
            False,
            marks=_LATER,
        ),
        pytest.param(
            "split,backup",
            Interrupt(2, "on_train_batch_end", batch=1),
            False,
            marks=_LATER,
        ),
        ("backup,split", Interrupt(2, "on_epoch_end"), True),
        pytest.param("split,backup", Interrupt(3), True, marks=_LATER),
        pytest.param("backup,split", Interrupt(4), True, marks=_LATER),
    ],
    ids=[
        "killed_before_split",
        "killed_after_split_before_backup",
        "killed_after_split_before_backup_split_first",
        "killed_right_after_post_split_backup",
        "killed_at_next_epoch_split_first",
        "killed_epochs_later",
    ],
)
def test_embedding_factorization_backup_and_restore_resumes_after_kill(
    order, interrupt, marker_after_kill, data, tmp_path, backup_reference
):
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        backup_run(data, backup_dir, order=order, interrupt=interrupt)
    # The marker exists exactly when the backup holds the factorized model.
    assert (backup_dir / MARKER).exists() is marker_after_kill
    if marker_after_kill:
        marker = json.loads((backup_dir / MARKER).read_text())
        assert marker["layer_name"] == "embedding" and marker["epoch"] == 2
        assert marker["class_name"] == "LowRankEmbedding"
        assert marker["registered_name"] == "tflite_lowrank>LowRankEmbedding"
        assert marker["config"]["rank"] == 3 and marker["config"]["mask_zero"]
        assert marker["weights"] == [
            {"name": "embeddings_a", "shape": [VOCAB, 3]},
            {"name": "embeddings_b", "shape": [3, DIM]},
        ]
    model, split = backup_run(data, backup_dir, order=order)
    assert split.result.resumed is marker_after_kill
    assert split.result.rank == 3 and split.result.epoch == 2
    assert_same_training(model, backup_reference)
    assert not backup_dir.exists()  # the completed run removed its backup


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_embedding_factorization_backup_marker_window_fails_loudly(data, tmp_path):
    """Killed after the first post-split backup, before the marker (documented)."""
    backup_dir = tmp_path / "backup"
    interrupt = Interrupt(2, "on_epoch_end")  # after both: the split checked first
    with pytest.raises(RuntimeError, match="interrupted"):
        backup_run(data, backup_dir, order="split,backup", interrupt=interrupt)
    assert not (backup_dir / MARKER).exists()
    with pytest.raises(ValueError, match="'embedding' expected 1 variables"):
        backup_run(data, backup_dir, order="split,backup")


def test_embedding_factorization_backup_marker_with_batch_backups(data, tmp_path):
    backup_dir = tmp_path / "backup"
    interrupt = Interrupt(2, "on_train_batch_end", batch=1)
    with pytest.raises(RuntimeError, match="interrupted"):
        backup_run(
            data, backup_dir, order="split,backup", interrupt=interrupt, save_freq=1
        )
    # The backup after batch 0 of epoch 2 is post-split: marked at batch 1.
    assert (backup_dir / MARKER).exists()
    model, split = backup_run(data, backup_dir, order="split,backup", save_freq=1)
    assert split.result.resumed and split.result.epoch == 2
    assert type(model.get_layer("embedding")) is LowRankEmbedding
    # Epoch 2 starts over from the weights after its batch 1 (2 steps counted).
    assert int(model.optimizer.iterations) == 3 * STEPS + 2


def test_embedding_factorization_backup_marker_kept_with_kept_backup(data, tmp_path):
    backup_dir = tmp_path / "backup"
    # The split is the last epoch's: only `on_train_end` sees the last backup.
    x, y = data
    backup = keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
    split = EmbeddingFactorization(
        rank=3, at_epoch=2, coordinate_with=[backup], bands=1
    )
    model = functional("gap")()
    model.fit(x, y, epochs=3, callbacks=[split, backup], verbose=0)
    assert json.loads((backup_dir / MARKER).read_text())["epoch"] == 2
    again = functional("gap")()
    backup = keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
    split = EmbeddingFactorization(
        rank=3, at_epoch=2, coordinate_with=[backup], bands=1
    )
    again.fit(x, y, epochs=3, callbacks=[split, backup], verbose=0)
    assert split.result.resumed
    for restored, saved in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(restored, saved)


def write_marker(backup_dir, **changes):
    backup_dir.mkdir()
    marker = {
        "format": 1,
        "layer_name": "embedding",
        "class_name": "LowRankEmbedding",
        "registered_name": "tflite_lowrank>LowRankEmbedding",
        "config": {"input_dim": VOCAB, "output_dim": DIM, "rank": 3},
        "weights": [
            {"name": "embeddings_a", "shape": [VOCAB, 3]},
            {"name": "embeddings_b", "shape": [3, DIM]},
        ],
        "epoch": 2,
        **changes,
    }
    (backup_dir / MARKER).write_text(json.dumps(marker))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"layer_name": "words"}, "holds layer 'words' factorized"),
        (
            {"config": {"input_dim": 7, "output_dim": DIM, "rank": 3}},
            r"'input_dim': \(7, 50\)",
        ),
        ({"registered_name": "nowhere>Layer"}, "not registered"),
    ],
    ids=["other_layer", "other_vocabulary", "unknown_class"],
)
def test_embedding_factorization_backup_marker_mismatch_raises(
    changes, match, data, tmp_path
):
    backup_dir = tmp_path / "backup"
    write_marker(backup_dir, **changes)
    (backup_dir / "latest.weights.h5").write_bytes(b"")  # any backup file
    x, y = data
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    split = EmbeddingFactorization(
        rank=3, at_epoch=2, coordinate_with=[backup], bands=1
    )
    with pytest.raises(ValueError, match=match):
        functional("gap")().fit(x, y, epochs=3, callbacks=[backup, split], verbose=0)


def test_embedding_factorization_stale_backup_marker_is_removed(data, tmp_path, caplog):
    backup_dir = tmp_path / "backup"
    write_marker(backup_dir)  # a marker without a backup next to it
    x, y = data
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    split = EmbeddingFactorization(
        rank=3, at_epoch=1, coordinate_with=[backup], bands=1
    )
    with caplog.at_level(
        logging.WARNING, logger="tflite_lowrank.training.coordination"
    ):
        functional("gap")().fit(x, y, epochs=2, callbacks=[split, backup], verbose=0)
    assert "removed the marker" in caplog.text
    assert split.result is not None and not split.result.resumed


def test_embedding_factorization_uncoordinated_restore_best_weights_fails(data):
    """Without `coordinate_with`, pre-split best weights cannot be restored."""
    x, y, model, split = rank_one_setup(data)
    stopping = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    with pytest.raises(ValueError, match="weight list of length 3.*expecting 4"):
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=4,
            validation_data=(x, y),
            callbacks=[stopping, split],
            verbose=0,
        )
    assert stopping.best_epoch < 2  # the best epoch was before the split


def test_embedding_factorization_warns_coordinated_callback_not_in_fit(data):
    x, y = data
    stopping = keras.callbacks.EarlyStopping(patience=10)
    split = EmbeddingFactorization(
        rank=2, at_epoch=1, coordinate_with=[stopping], bands=1
    )
    with pytest.warns(UserWarning, match=r"was not given: \['EarlyStopping'\]"):
        functional("gap")().fit(x, y, epochs=2, callbacks=[split], verbose=0)


# ----------------------------------------------------- precision, devices


def test_embedding_factorization_mixed_float16(data, tmp_path):
    x, y = data
    try:
        keras.config.set_dtype_policy("mixed_float16")
        keras.utils.set_random_seed(0)
        model = functional("gap")()
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        before = Snapshot(1)
        after = PostSplit(1, x)
        split = EmbeddingFactorization(rank=3, at_epoch=1, bands=1)
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            callbacks=[before, split, after],
            verbose=0,
        )
        optimizer = model.optimizer
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(
            adapter.learning_rate_object(optimizer.inner_optimizer),
            CyclicalAnnealedLearningRate,
        )
        layer = model.get_layer("embedding")
        assert layer.embeddings_a.dtype == "float32"
        assert layer.compute_dtype == "float16"
        index = before.table_index
        a, b = after.weights[index], after.weights[index + 1]
        keras.utils.set_random_seed(0)
        reference = functional("gap")()
        weights = list(before.weights)
        weights[index] = a @ b
        reference.set_weights(weights)
        np.testing.assert_allclose(after.outputs, outputs(reference, x), atol=2e-2)
        assert np.all(np.isfinite(model.predict(x, verbose=0)))
        model.save(tmp_path / "model.keras")
        loaded = keras.models.load_model(tmp_path / "model.keras")
        assert isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)
        np.testing.assert_allclose(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-3
        )
    finally:
        keras.config.set_dtype_policy("float32")


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    from tflite_lowrank import EmbeddingFactorization, LowRankEmbedding

    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, (128, 5)).astype("int32")
    x[:32, 3:] = 0
    y = (x[:, 0] % 2).astype("int32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def build(table_layer):
        inputs = keras.Input((5,), dtype="int32")
        h = keras.layers.GlobalAveragePooling1D()(table_layer(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2)(h))
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    class Probe(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.weights = self.model.get_weights()
                self.outputs = self.model.predict(x, verbose=0)

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build(keras.layers.Embedding(50, 8, mask_zero=True, name="emb"))
    probe = Probe()
    split = EmbeddingFactorization("emb", rank=3, at_epoch=1, bands=1)
    history = model.fit(
        x, y, batch_size=32, epochs=3, validation_data=(x, y),
        callbacks=[split, probe], verbose=0,
    )
    layer = model.get_layer("emb")
    reference = build(LowRankEmbedding(50, 8, 3, mask_zero=True))
    reference.set_weights(probe.weights)
    after_split = float(np.abs(probe.outputs - reference.predict(x, verbose=0)).max())
    reference.set_weights(model.get_weights())
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "layer": type(layer).__name__,
        "distributed": type(layer.embeddings_a.value).__name__,
        "optimizer_distributed": type(model.optimizer.variables[-1].value).__name__,
        "after_split_max_diff": after_split,
        "val_loss": history.history["val_loss"],
        "evaluate": float(model.evaluate(x, y, verbose=0)),
        "reference_evaluate": float(reference.evaluate(x, y, verbose=0)),
        "iterations": int(model.optimizer.iterations.numpy()),
    }))
    """
)


@pytest.mark.integration  # a TensorFlow process of its own, two logical CPUs
def test_embedding_factorization_mirrored_strategy_two_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["layer"] == "LowRankEmbedding"
    assert report["distributed"] == "MirroredVariable"
    assert report["optimizer_distributed"] == "MirroredVariable"
    assert report["after_split_max_diff"] < 1e-5
    assert report["iterations"] == 2 * STEPS
    assert all(np.isfinite(report["val_loss"]))
    np.testing.assert_allclose(report["val_loss"][-1], report["evaluate"], rtol=1e-5)
    np.testing.assert_allclose(
        report["evaluate"], report["reference_evaluate"], rtol=1e-5
    )


def test_embedding_factorization_mirrored_strategy_one_device(data):
    # The split under a strategy in this process, one replica; two replicas need two
    # logical CPUs, set before TensorFlow starts: the integration test above.
    import tensorflow as tf

    x, y = data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])

    def build(table_layer):
        inputs = keras.Input((SEQ,), dtype="int32")
        h = keras.layers.GlobalAveragePooling1D()(table_layer(inputs))
        return compiled(keras.Model(inputs, keras.layers.Dense(2)(h)))

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build(embedding())
    after = PostSplit(1, x)
    split = EmbeddingFactorization("embedding", rank=3, at_epoch=1, bands=1, verbose=0)
    history = model.fit(
        x, y, batch_size=BATCH, epochs=2, callbacks=[split, after], verbose=0
    )
    assert strategy.num_replicas_in_sync == 1
    layer = model.get_layer("embedding")
    assert type(layer) is LowRankEmbedding
    assert type(layer.embeddings_a.value).__name__ == "MirroredVariable"
    assert type(model.optimizer.variables[-1].value).__name__ == "MirroredVariable"
    assert int(model.optimizer.iterations.numpy()) == STEPS  # the fresh optimizer's
    assert np.isfinite(history.history["loss"]).all()
    reference = build(LowRankEmbedding(VOCAB, DIM, 3, mask_zero=True))
    reference.set_weights(after.weights)
    np.testing.assert_allclose(after.outputs, outputs(reference, x), atol=1e-5)
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(outputs(model, x), outputs(reference, x), atol=1e-6)


@pytest.mark.parametrize("balanced", [False, True], ids=["paper_split", "balanced"])
def test_relative_error_matches_direct_formula(balanced, rng):
    from tflite_lowrank.factorization.svd import truncated_svd
    from tflite_lowrank.layers.swap import _relative_error

    table = (rng.standard_normal((300, 20)) * np.exp(-np.arange(20) / 5)).astype(
        "float32"
    )
    a, b = truncated_svd(table, 5, balanced=balanced)
    direct = np.linalg.norm(table - a.astype("float64") @ b) / np.linalg.norm(table)
    np.testing.assert_allclose(_relative_error(table, a, b), direct, rtol=1e-5)


def test_embedding_factorization_calr_paper_is_the_authors_fine_tuning_schedule(rng):
    x = rng.integers(0, VOCAB, size=(BATCH * STEPS, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            keras.layers.Embedding(VOCAB, DIM, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    split = EmbeddingFactorization(
        "embedding", rank=2, at_epoch=1, bands=1, learning_rate="calr_paper", verbose=0
    )
    model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[split], verbose=0)
    schedule = adapter.learning_rate_object(model.optimizer)
    assert isinstance(schedule, CyclicalAnnealedLearningRate)
    assert (schedule.initial_learning_rate, schedule.minimal_learning_rate) == (
        1e-3,
        1e-6,
    )
    assert schedule.decay == 0.1 and schedule.step_size == STEPS / 2


@pytest.mark.parametrize(
    ("kwargs", "vocab", "expected"),
    [
        # Kept fraction k (V + D) / (V D) of a 500 x 32 table: rank 4 keeps
        # 4 * 532 / 16000 = 13.3%: peak 1e-2; rank 5 keeps 16.6%: peak 2e-3,
        # floor 5e-4.
        ({"rank": 4}, 500, (1e-2, 1e-5, 0.8)),
        ({"rank": 5}, 500, (2e-3, 5e-4, 0.8)),
        # compression=0.85 keeps 15% or less (rank 4): peak 1e-2.
        ({"compression": 0.85}, 500, (1e-2, 1e-5, 0.8)),
        # compression=0.8 keeps about 20% (rank 6, 19.95%): peak 2e-3.
        ({"compression": 0.8}, 500, (2e-3, 5e-4, 0.8)),
        # energy= learns its rank from the spectrum first (most of 50 x 32).
        ({"energy": 0.99}, 50, (2e-3, 5e-4, 0.8)),
        # The named settings ignore the budget.
        (
            {"compression": 0.5, "learning_rate": "calr_peak_1e-2"},
            500,
            (1e-2, 1e-5, 0.8),
        ),
        ({"rank": 1, "learning_rate": "calr_paper"}, 500, (1e-3, 1e-6, 0.1)),
        # The light splits' default before the shallow cycle, at any budget.
        ({"rank": 1, "learning_rate": "calr_peak_2e-3"}, 500, (2e-3, 2e-6, 0.8)),
        # A heavy split weighted by its consumer (the Dense after the mean):
        # the weighted CALR, peak 3e-3; a light one: the shallow cycle.
        ({"rank": 4, "weighting": "consumer"}, 500, (3e-3, 3e-6, 0.8)),
        ({"rank": 5, "weighting": "consumer"}, 500, (2e-3, 5e-4, 0.8)),
    ],
)
def test_default_calr_peak_depends_on_the_kept_fraction(kwargs, vocab, expected, rng):
    # `split_now` installs the schedule the split in `fit()` installs (the test
    # above, and the calibrated ones, split in `fit()`), without tracing `fit`.
    model = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            keras.layers.Embedding(vocab, 32, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile("adam", LOSS)
    split = EmbeddingFactorization(
        "embedding", at_epoch=1, bands=1, verbose=0, **kwargs
    )
    split.split_now(model, steps_per_epoch=STEPS)
    schedule = adapter.learning_rate_object(model.optimizer)
    assert isinstance(schedule, CyclicalAnnealedLearningRate)
    actual = (
        schedule.initial_learning_rate,
        schedule.minimal_learning_rate,
        schedule.decay,
    )
    assert actual == pytest.approx(expected)
    assert schedule.step_size == STEPS / 2


@pytest.mark.parametrize(
    ("kept", "peak"),
    [(0.01, 1e-2), (0.15, 1e-2), (0.1500001, 2e-3), (0.5, 2e-3), (1.0, 2e-3)],
)
def test_calr_settings_threshold(kept, peak):
    from tflite_lowrank.training.optimizer import _calr_settings

    assert _calr_settings("calr", kept)[0] == peak
    assert _calr_settings("calr_peak_1e-2", kept)[0] == 1e-2
    assert _calr_settings("calr_peak_2e-3", kept) == (2e-3, 2e-6, 0.8)
