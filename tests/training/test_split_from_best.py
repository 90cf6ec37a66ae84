"""`split_from="best"`: the split factorizes the best pre-split epoch's weights."""

import logging
import re

import keras
import numpy as np
import pytest
from interrupting import Interrupt

import tflite_lowrank as tl
from tflite_lowrank.training.resume import BestWeights, maximized

VOCAB, DIM, SEQ = 400, 8, 6


def _dan():
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(5e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _hand_driven_split(val_losses, **kwargs):
    """Drives the callback's hooks by hand: before epoch `e` ends the model's
    weights are set to `e + 1` everywhere, and the epoch logs `val_losses[e]`.
    Returns the callback and the head's kernel after the split."""
    keras.utils.set_random_seed(0)
    model = _dan()
    kwargs.setdefault("verbose", 0)
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=len(val_losses), bands=1, learning_rate=None, **kwargs
    )
    split.set_model(model)
    split.set_params({"epochs": len(val_losses) + 2, "steps": 4, "verbose": 0})
    split.on_train_begin()
    for epoch, loss in enumerate(val_losses):
        split.on_epoch_begin(epoch)
        model.set_weights([np.full_like(w, epoch + 1.0) for w in model.get_weights()])
        split.on_epoch_end(epoch, {"loss": 1.0, "val_loss": loss})
    split.on_epoch_begin(len(val_losses))
    return split, model.get_layer("head").kernel.numpy()


def test_the_best_epoch_is_restored_before_the_split():
    split, kernel = _hand_driven_split([0.9, 0.4, 0.6, 0.8], split_from="best")
    assert split.result.weights_from_epoch == 2
    np.testing.assert_array_equal(kernel, np.full_like(kernel, 2.0))
    # The factors are those of epoch 2's table (all 2.0: rank 1, exact).
    layer = split.model.get_layer("embedding")
    table = layer.embeddings_a.numpy() @ layer.embeddings_b.numpy()
    np.testing.assert_allclose(table, np.full_like(table, 2.0), rtol=1e-5)
    assert "from the weights of epoch 2" in split.result.describe()
    assert split._best._weights is None  # The copy is freed after the split.


def test_the_last_epoch_is_kept_when_it_is_the_best():
    split, kernel = _hand_driven_split([0.9, 0.7, 0.5], split_from="best")
    assert split.result.weights_from_epoch is None
    np.testing.assert_array_equal(kernel, np.full_like(kernel, 3.0))


def test_best_is_the_default_and_last_ignores_the_logs():
    split, kernel = _hand_driven_split([0.9, 0.4, 0.6, 0.8])
    assert split.recipe.split_from == "best"
    assert split.result.weights_from_epoch == 2
    split, kernel = _hand_driven_split([0.9, 0.4, 0.6, 0.8], split_from="last")
    assert split.result.weights_from_epoch is None
    np.testing.assert_array_equal(kernel, np.full_like(kernel, 4.0))
    assert tl.SplitRecipe.preset("paper").split_from == "last"


def test_without_the_monitor_in_the_logs_the_last_weights_are_split(caplog):
    with caplog.at_level(logging.INFO, logger="tflite_lowrank.training.callback"):
        split, kernel = _hand_driven_split(
            [0.9, 0.4, 0.6], split_from="best", monitor="val_auc", verbose=1
        )
    assert split.result.weights_from_epoch is None
    np.testing.assert_array_equal(kernel, np.full_like(kernel, 3.0))
    assert "no 'val_auc' in the logs" in caplog.text


def test_split_now_outside_fit_splits_the_weights_it_has(caplog):
    keras.utils.set_random_seed(0)
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=1, split_from="best", learning_rate=1e-3
    )
    with caplog.at_level(logging.INFO, logger="tflite_lowrank.training.callback"):
        result = split.split_now(model)
    assert result.weights_from_epoch is None
    assert "no 'val_loss'" not in caplog.text  # No epoch ran: nothing to report.


def test_the_monitor_follows_a_coordinated_early_stopping():
    stopping = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5)
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=2, split_from="best", coordinate_with=[stopping]
    )
    split.set_model(_dan())
    assert split._best.monitor == "val_accuracy" and split._best.maximize
    own = tl.EmbeddingFactorization(
        compression=0.5,
        at_epoch=2,
        split_from="best",
        monitor="val_loss",
        coordinate_with=[stopping],
    )
    own.set_model(_dan())
    assert own._best.monitor == "val_loss" and not own._best.maximize


@pytest.mark.parametrize(
    "name, larger_is_better",
    [
        ("val_loss", False),
        ("val_accuracy", True),
        ("val_sparse_categorical_accuracy", True),
        ("val_auc", True),
        ("val_mean_squared_error", False),
        ("loss", False),
    ],
)
def test_direction_from_the_metric_name(name, larger_is_better):
    assert maximized(name) is larger_is_better


def test_nan_values_never_count_as_best():
    best = BestWeights("val_loss")
    model = _dan()
    best.update(0, {"val_loss": float("nan")}, model)
    assert best.epoch is None
    best.update(1, {"val_loss": 0.5}, model)
    assert best.epoch == 1


def test_in_fit_the_restored_epoch_is_the_best_val_loss():
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, size=(256, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    x_dev = rng.integers(1, VOCAB, size=(64, SEQ)).astype("int32")
    y_dev = rng.integers(0, 2, size=64).astype("int32")  # Noise: it overfits.
    keras.utils.set_random_seed(0)
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=5, split_from="best", verbose=0
    )
    history = model.fit(
        x, y, epochs=6, validation_data=(x_dev, y_dev), callbacks=[split], verbose=0
    )
    before = history.history["val_loss"][:5]
    best = int(np.argmin(before)) + 1
    assert split.result.weights_from_epoch == (None if best == 5 else best)
    assert isinstance(model.get_layer("embedding"), tl.BandedLowRankEmbedding)


def test_the_recipe_field_round_trips_and_prints():
    recipe = tl.SplitRecipe(split_from="last")
    assert tl.SplitRecipe.from_config(recipe.get_config()) == recipe
    assert "the last epoch's weights split" in recipe.describe()
    assert "best pre-split epoch's weights" in tl.SplitRecipe().describe()
    split = tl.EmbeddingFactorization(compression=0.5, at_epoch=1, recipe=recipe)
    assert split.split_from == "last"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split_from": "first"}, "`split_from` must be one of ('last', 'best')"),
        ({"split_from": None}, "Received: split_from=None"),
        ({"monitor": ""}, "`monitor` must be the name of a logged metric"),
        ({"monitor": 3}, "Received: monitor=3"),
    ],
)
def test_bad_values_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tl.EmbeddingFactorization(compression=0.5, at_epoch=1, **kwargs)


def _overfitting_run(backup_dir, interrupt=None):
    """6 epochs, the split after epoch 4, on noise labels for dev (it overfits)."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, size=(256, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    dev = (
        rng.integers(1, VOCAB, size=(64, SEQ)).astype("int32"),
        rng.integers(0, 2, size=64).astype("int32"),
    )
    keras.utils.set_random_seed(0)
    model = _dan()
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=4, coordinate_with=[backup], verbose=0
    )
    callbacks = [backup, split] + ([interrupt] if interrupt else [])
    history = model.fit(
        x,
        y,
        epochs=6,
        batch_size=32,
        shuffle=False,
        validation_data=dev,
        callbacks=callbacks,
        verbose=0,
    )
    return model, split, history


def test_a_run_killed_before_the_split_splits_the_same_best_weights(tmp_path):
    reference, split, history = _overfitting_run(tmp_path / "reference")
    best = int(np.argmin(history.history["val_loss"][:4])) + 1
    assert best < 3  # The case: the best epoch is before the kill below.
    assert split.result.weights_from_epoch == best
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        _overfitting_run(backup_dir, Interrupt(3))
    assert (backup_dir / "tflite_lowrank_best_weights.npz").exists()
    model, resumed, _ = _overfitting_run(backup_dir)
    assert resumed.result.weights_from_epoch == best
    for got, expected in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not backup_dir.exists()  # BackupAndRestore removed its folder at the end.


def test_a_fresh_run_ignores_a_copy_left_in_its_backup_folder(tmp_path):
    model = _dan()
    best = BestWeights("val_loss", [str(tmp_path)])
    best.update(2, {"val_loss": 0.3}, model)
    assert (tmp_path / "tflite_lowrank_best_weights.npz").exists()
    again = BestWeights("val_loss", [str(tmp_path)])
    again.load(model)
    again.start(0)  # A fresh run: epoch 0 comes first.
    assert again.epoch is None and again.restore(model) is None
    resumed = BestWeights("val_loss", [str(tmp_path)])
    resumed.load(model)
    resumed.start(4)  # Resumed after epoch 3: the copy of epoch 2 counts.
    assert resumed.epoch == 2 and resumed.value == pytest.approx(0.3)
    resumed.clear()
    assert not (tmp_path / "tflite_lowrank_best_weights.npz").exists()
