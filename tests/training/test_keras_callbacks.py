"""Keras' own callbacks around the split: `ReduceLROnPlateau`, and the ones left out.

A coordinated `ReduceLROnPlateau` scales the CALR schedule the split installs; an
`EarlyStopping`, `ReduceLROnPlateau` or `ModelCheckpoint` left out of
`coordinate_with` fails or keeps the full model as `docs/user-guide.md` says, in the
words Keras prints.
"""

import pathlib

import keras
import numpy as np
import pytest
from interrupting import Interrupt

import tflite_lowrank as tl
from tflite_lowrank._keras import adapter
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

VOCAB, DIM, SEQ, SAMPLES, BATCH = 50, 8, 5, 128, 32
STEPS = SAMPLES // BATCH
USER_GUIDE = pathlib.Path(__file__).parents[2] / "docs" / "user-guide.md"
# What the default "calr" is for rank 2 of a 50 x 8 table (a light split, 29% kept):
# peak 2e-3, floor 5e-4, x0.8 per epoch, one triangle per epoch of 4 steps.
CALR = CyclicalAnnealedLearningRate(
    initial_learning_rate=2e-3,
    minimal_learning_rate=5e-4,
    step_size=STEPS / 2,
    decay=0.8,
    steps_per_epoch=STEPS,
)


@pytest.fixture
def data(rng):
    x = rng.integers(1, VOCAB, (SAMPLES, SEQ)).astype("int32")
    return x, (x[:, 0] % 2).astype("int32")


def model():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    # Named as Keras names a first functional model (the user guide quotes it).
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden), name="functional")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


class Flat(keras.callbacks.Callback):
    """Logs a metric that never improves: a `ReduceLROnPlateau(patience=0)` on it
    reduces at the end of every epoch but the first after it (re)starts."""

    def on_epoch_end(self, epoch, logs=None):
        logs["flat"] = 1.0


class Rates(keras.callbacks.Callback):
    """The learning rate each training step used, by optimizer step."""

    def __init__(self):
        super().__init__()
        self.used = {}

    def on_train_batch_end(self, batch, logs=None):
        optimizer = self.model.optimizer
        step = int(optimizer.iterations) - 1
        self.used[step] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def plateau():
    return keras.callbacks.ReduceLROnPlateau(
        monitor="flat", mode="max", patience=0, factor=0.5
    )


def run(data, epochs, *, coordinate=True, backup_dir=None, interrupt=None):
    """A split after epoch 1, a plateau reducing after epoch 2, 3, ..."""
    x, y = data
    keras.utils.set_random_seed(0)
    net = model()
    reduce = plateau()
    callbacks = [Flat(), reduce]
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))
    split = tl.EmbeddingFactorization(
        rank=2,
        at_epoch=1,
        bands=1,
        coordinate_with=callbacks[1:] if coordinate else (),
        verbose=0,
    )
    rates = Rates()
    callbacks += [split, rates] + ([interrupt] if interrupt else [])
    net.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, callbacks=callbacks)
    return net, split, rates


def expected_rates(post_split_epochs, first=0):
    """CALR's values, halved by each reduction (after post-split epochs 1, 2...)."""
    steps = np.arange(first, post_split_epochs * STEPS)
    scale = 0.5 ** np.maximum(steps // STEPS - 1, 0)
    return np.asarray(CALR(steps)) * scale


def test_reduce_lr_on_plateau_coordinated_scales_the_schedule(data, tmp_path):
    net, split, rates = run(data, epochs=5)
    assert type(net.get_layer("embedding")) is LowRankEmbedding
    used = np.array([rates.used[step] for step in range(4 * STEPS)])
    # Golden values: the schedule at each step, times 1, 1, 0.5, 0.25.
    np.testing.assert_allclose(used, expected_rates(4), rtol=1e-6)
    # The first three epochs by hand: peaks 2e-3, 1.6e-3, 1.28e-3 (x0.8 per epoch),
    # floor 5e-4, half of each from the plateau's first reduction on.
    np.testing.assert_allclose(
        used[: 3 * STEPS],
        [1.25e-3, 2e-3, 1.25e-3, 5e-4]
        + [1.05e-3, 1.6e-3, 1.05e-3, 5e-4]
        + [4.45e-4, 6.4e-4, 4.45e-4, 2.5e-4],
        rtol=1e-6,
    )
    # The file holds a float rate: the last one used, halved by the plateau's
    # reduction at the end of the last epoch.
    path = tmp_path / "model.keras"
    net.save(path)
    loaded = tl.load_model(path)
    assert type(loaded.get_layer("embedding")) is LowRankEmbedding
    np.testing.assert_allclose(
        float(keras.ops.convert_to_numpy(loaded.optimizer.learning_rate)),
        used[-1] * 0.5,
        rtol=1e-6,
    )
    assert int(loaded.optimizer.iterations) == 4 * STEPS
    x = data[0][:8]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), net.predict(x, verbose=0))


def test_reduce_lr_on_plateau_resumes_scaled_from_a_backup(data, tmp_path):
    reference, _, reference_rates = run(data, epochs=4)
    backup_dir = tmp_path / "backup"
    # Killed after the reduction at the end of epoch 2 and its backup.
    with pytest.raises(RuntimeError, match="interrupted"):
        run(data, epochs=4, backup_dir=backup_dir, interrupt=Interrupt(3))
    resumed, split, rates = run(data, epochs=4, backup_dir=backup_dir)
    assert split.result.resumed
    # Epoch 3 runs at half the schedule, as without the kill.
    assert sorted(rates.used) == list(range(2 * STEPS, 3 * STEPS))
    np.testing.assert_allclose(
        [rates.used[step] for step in sorted(rates.used)],
        expected_rates(3, first=2 * STEPS),
        rtol=1e-6,
    )
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations)
    for mine, theirs in zip(
        resumed.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_reduce_lr_on_plateau_without_a_schedule_is_left_alone(data):
    """A float rate after the split: ReduceLROnPlateau sets it as usual."""
    x, y = data
    net, reduce = model(), plateau()
    split = tl.EmbeddingFactorization(
        rank=2, at_epoch=1, bands=1, learning_rate=1e-3, coordinate_with=[reduce]
    )
    net.fit(x, y, batch_size=BATCH, epochs=4, callbacks=[Flat(), reduce, split])
    rate = adapter.learning_rate_object(net.optimizer)
    assert not isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(rate)), 2.5e-4)


# ------------------------------------------------- callbacks left out, as documented


def quoted_in_user_guide(error: BaseException) -> str:
    """The error's message, checked to be quoted word for word in the user guide."""
    message = str(error).strip().splitlines()[0]
    text = " ".join(USER_GUIDE.read_text(encoding="utf-8").split())
    assert message in text, f"docs/user-guide.md does not quote: {message}"
    return message


def test_uncoordinated_reduce_lr_on_plateau_fails_as_documented(data):
    with pytest.raises(TypeError, match="learning rate is not settable") as error:
        run(data, epochs=3, coordinate=False)
    quoted_in_user_guide(error.value)


def test_uncoordinated_restore_best_weights_fails_as_documented(data):
    x, y = data
    keras.utils.set_random_seed(0)
    net = model()
    stopping = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    # Rank 1 and no retraining: the best validation loss stays before the split.
    split = tl.EmbeddingFactorization(
        rank=1, at_epoch=2, bands=1, learning_rate=1e-9, weighting="none"
    )
    with pytest.raises(ValueError, match="weight list of length 3") as error:
        net.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=4,
            validation_data=(x, y),
            callbacks=[stopping, split],
        )
    assert stopping.best_epoch < 2
    quoted_in_user_guide(error.value)


def test_uncoordinated_checkpoint_keeps_the_full_model_as_documented(data, tmp_path):
    x, y = data
    keras.utils.set_random_seed(0)
    net = model()
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(path, save_best_only=True)
    split = tl.EmbeddingFactorization(
        rank=1, at_epoch=2, bands=1, learning_rate=1e-9, weighting="none"
    )
    history = net.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=4,
        validation_data=(x, y),
        callbacks=[checkpoint, split],
    )
    val_loss = history.history["val_loss"]
    assert min(val_loss[:2]) < min(val_loss[2:])  # the best epoch is pre-split
    assert type(net.get_layer("embedding")) is LowRankEmbedding
    saved = keras.saving.load_model(path)
    assert type(saved.get_layer("embedding")) is keras.layers.Embedding
    guide = " ".join(USER_GUIDE.read_text(encoding="utf-8").split())
    assert "the file then holds the full model of the best epoch before the split" in (
        guide
    )
