"""`SplitRecipe`, the hedged basis and the accuracy budget (`max_dev_drop`)."""

import json

import keras
import numpy as np
import pytest
from interrupting import Interrupt

import tflite_lowrank as tl
from tflite_lowrank.training.optimizer import BasisDamping

VOCAB, DIM, SEQ, BATCH = 60, 8, 5, 16


def _data(rng, rows=192):
    x = rng.integers(1, VOCAB, size=(rows, SEQ)).astype("int32")
    return x, (x[:, 0] % 2).astype("int32")


def _dan(name="embedding", vocab=VOCAB, dim=DIM, metric="accuracy"):
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(vocab, dim, name=name)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[metric],
    )
    return model


# ----------------------------------------------------------------- the value


@pytest.mark.parametrize("name", tl.SPLIT_RECIPES)
def test_split_recipe_presets_round_trip_through_get_config(name):
    recipe = tl.SplitRecipe.preset(name)
    config = json.loads(json.dumps(recipe.get_config()))
    assert tl.SplitRecipe.from_config(config) == recipe
    assert recipe.describe()
    assert repr(recipe).startswith("SplitRecipe(")


def test_split_recipe_round_trips_band_ids_and_a_schedule():
    schedule = tl.CyclicalAnnealedLearningRate(
        initial_learning_rate=1e-2,
        minimal_learning_rate=1e-5,
        step_size=4.0,
        steps_per_epoch=8,
    )
    recipe = tl.SplitRecipe(bands=[10, 30], learning_rate=schedule)
    assert recipe.bands == (10, 30)
    again = tl.SplitRecipe.from_config(json.loads(json.dumps(recipe.get_config())))
    assert again.bands == (10, 30)
    assert again.learning_rate.get_config() == schedule.get_config()


def test_split_recipe_presets_say_what_they_are():
    assert tl.SplitRecipe.preset("default") == tl.SplitRecipe()
    paper = tl.SplitRecipe.preset("paper")
    assert (paper.bands, paper.weighting, paper.train_basis) == (1, "none", True)
    assert paper.learning_rate == "calr_paper"
    fixed = tl.SplitRecipe.preset("fixed_basis")
    assert (fixed.weighting, fixed.train_basis) == ("consumer", False)
    assert tl.SplitRecipe.preset("hedged").basis_learning_rate == 0.1


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"weighting": "weird"}, ValueError, "Received: weighting='weird'"),
        ({"basis_learning_rate": 0.0}, ValueError, "basis_learning_rate=0.0"),
        ({"basis_learning_rate": 1.5}, ValueError, "basis_learning_rate=1.5"),
        ({"basis_learning_rate": "fast"}, TypeError, "basis_learning_rate='fast'"),
        ({"bands": 0}, ValueError, "Received: bands=0"),
        ({"train_basis": "yes"}, ValueError, "train_basis='yes'"),
        ({"learning_rate": "fast"}, ValueError, "learning_rate='fast'"),
        ({"svd_method": "qr"}, ValueError, "svd_method='qr'"),
        ({"balanced": 1}, TypeError, "balanced=1"),
        ({"basis_frozen_epochs": -1}, ValueError, "basis_frozen_epochs=-1"),
        ({"basis_frozen_epochs": 1.5}, TypeError, "basis_frozen_epochs=1.5"),
        ({"basis_frozen_epochs": True}, TypeError, "basis_frozen_epochs=True"),
        ({"rank": 3}, TypeError, "Received: rank=3"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_split_recipe_rejects_bad_fields_naming_them(changes, error, match):
    with pytest.raises(error, match=match):
        tl.SplitRecipe().replace(**changes)


def test_split_recipe_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match="Received: recipe='best'"):
        tl.SplitRecipe.preset("best")
    with pytest.raises(TypeError, match="recipe=3"):
        tl.EmbeddingFactorization(compression=0.5, at_epoch=1, recipe=3)


# ----------------------------------------------------- the callback takes one


def test_callback_arguments_override_the_recipes_fields():
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=1, recipe="fixed_basis", bands=1, verbose=0
    )
    assert split.recipe == tl.SplitRecipe.preset("fixed_basis").replace(bands=1)
    assert (split.bands, split.weighting, split.train_basis) == (1, "consumer", False)
    paper = tl.EmbeddingFactorization(compression=0.5, at_epoch=1, recipe="paper")
    assert paper.learning_rate == "calr_paper" and paper.bands == 1
    energy = tl.EmbeddingFactorization(energy=0.9, at_epoch=1)
    assert energy.recipe.bands == 1


@pytest.mark.parametrize(
    ("recipe", "weighting", "train_basis", "basis_rate"),
    [
        ("default", "none", True, 1.0),
        ("fixed_basis", "consumer", False, 1.0),
        ("hedged", "consumer", True, 0.1),
        ("paper", "none", True, 1.0),
    ],
)
def test_result_reports_the_recipe_the_split_ran(
    rng, recipe, weighting, train_basis, basis_rate
):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=1, recipe=recipe, verbose=0
    )
    # The recipe is resolved when the layer is split: `split_now`, without tracing
    # `fit` (the recipes train in `fit()` in the tests below).
    split.split_now(model, steps_per_epoch=len(x) // BATCH)
    ran = split.result.recipe
    assert (ran.weighting, ran.train_basis) == (weighting, train_basis)
    assert ran.basis_learning_rate == basis_rate
    assert split.result.to_dict()["recipe"] == ran.get_config()
    layer = model.get_layer("embedding")
    bases = [w for w in layer.weights if w.name.startswith("embeddings_b")]
    assert all(w.trainable is train_basis for w in bases)


def _backup_run(data, backup_dir, recipe, interrupt=None):
    x, y = data
    keras.utils.set_random_seed(0)
    model = _dan()
    backup = keras.callbacks.BackupAndRestore(str(backup_dir))
    split = tl.EmbeddingFactorization(
        compression=0.5,
        at_epoch=1,
        recipe=recipe,
        coordinate_with=[backup],
        verbose=0,
    )
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=4,
        shuffle=False,
        callbacks=[backup, split] + ([interrupt] if interrupt else []),
        verbose=0,
    )
    return model, split


@pytest.mark.parametrize(
    "recipe",
    [
        tl.SplitRecipe.preset("hedged").replace(bands=1),
        # Killed in the last epoch that holds the basis fixed: the resumed run
        # holds it fixed too.
        tl.SplitRecipe(bands=1, basis_frozen_epochs=3),
    ],
    ids=["hedged", "frozen_basis"],
)
def test_recipe_round_trips_through_backup_and_restore(rng, tmp_path, recipe):
    data = _data(rng)
    reference, first = _backup_run(data, tmp_path / "reference", recipe)
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        _backup_run(data, backup_dir, recipe, Interrupt(3))
    marker = json.loads((backup_dir / "tflite_lowrank_split.json").read_text())
    assert tl.SplitRecipe.from_config(marker["recipe"]) == first.result.recipe
    model, split = _backup_run(data, backup_dir, recipe)
    assert split.result.resumed
    assert split.result.recipe == first.result.recipe
    for resumed, expected in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed, expected, atol=1e-5)


# --------------------------------------------------------- the hedged basis


def test_basis_damping_scales_the_step_of_the_basis_only():
    layer = tl.LowRankEmbedding(10, 4, 2)
    layer.build((None, 3))
    damping = BasisDamping(layer, 0.25)
    assert [v.name for v in damping.variables] == ["embeddings_b"]
    a_before = np.array(layer.embeddings_a)
    b_before = np.array(layer.embeddings_b)
    damping.before_batch()
    layer.embeddings_a.assign(a_before + 1.0)
    layer.embeddings_b.assign(b_before + 2.0)
    damping.after_batch()
    np.testing.assert_allclose(layer.embeddings_a, a_before + 1.0)
    np.testing.assert_allclose(layer.embeddings_b, b_before + 0.5, rtol=1e-6)


class _BasisAtSplit(keras.callbacks.Callback):
    """Records the basis at the start of the first epoch after the split."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.basis = np.array(self.model.get_layer("embedding").embeddings_b)


def test_hedged_basis_moves_less_than_a_trained_one(rng):
    x, y = _data(rng)
    moved = {}
    for rate in (1.0, 0.1):
        keras.utils.set_random_seed(0)
        model = _dan()
        split = tl.EmbeddingFactorization(
            compression=0.5,
            at_epoch=1,
            recipe="hedged",
            basis_learning_rate=rate,
            bands=1,
            verbose=0,
        )

        probe = _BasisAtSplit()
        model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[split, probe], verbose=0)
        after = np.array(model.get_layer("embedding").embeddings_b)
        moved[rate] = np.linalg.norm(after - probe.basis)
    assert moved[0.1] > 0.0
    assert moved[0.1] < 0.5 * moved[1.0]


class _BasisPerEpoch(keras.callbacks.Callback):
    """Records the basis and the codes at the start of every epoch and at the end."""

    def __init__(self):
        super().__init__()
        self.basis, self.codes = [], []

    def _record(self):
        layer = self.model.get_layer("embedding")
        self.basis.append(np.array(layer.embeddings_b))
        self.codes.append(np.array(layer.embeddings_a))

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= 1:  # After the split (the callback before this one).
            self._record()

    def on_train_end(self, logs=None):
        self._record()


def test_frozen_basis_holds_for_its_epochs_then_trains(rng):
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=1, bands=1, basis_frozen_epochs=2, verbose=0
    )
    assert split.recipe.basis_frozen_epochs == 2
    probe = _BasisPerEpoch()
    model.fit(x, y, batch_size=BATCH, epochs=4, callbacks=[split, probe], verbose=0)
    ran = split.result.recipe
    assert (ran.train_basis, ran.basis_frozen_epochs) == (True, 2)
    assert "basis trained after 2 fixed epochs" in ran.describe()
    # Epochs 1 and 2 hold the basis (the starts of epochs 1, 2 and 3 agree) while
    # the codes train; epoch 3 trains both.
    basis = probe.basis
    np.testing.assert_array_equal(basis[0], basis[1])
    np.testing.assert_array_equal(basis[1], basis[2])
    assert np.linalg.norm(basis[3] - basis[2]) > 1e-4
    assert np.linalg.norm(probe.codes[1] - probe.codes[0]) > 1e-4
    # The codes start at the table's scale over an orthonormal basis, as over a
    # fixed one.
    np.testing.assert_allclose(basis[0] @ basis[0].T, np.eye(len(basis[0])), atol=1e-5)
    layer = model.get_layer("embedding")
    assert layer.embeddings_b.trainable


def test_frozen_epochs_do_nothing_for_a_fixed_basis(rng):
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=0.5, at_epoch=1, recipe="fixed_basis", basis_frozen_epochs=2
    )
    split.split_now(model, steps_per_epoch=4)
    ran = split.result.recipe
    assert (ran.train_basis, ran.basis_frozen_epochs) == (False, 0)
    assert split._damping is None


# ------------------------------------------------------- the accuracy budget


def _constructed_model():
    """A fixed model whose accuracy falls as the table's rank falls.

    The table has orthogonal directions of decreasing size; the head reads the
    mean vector's coordinates, and the labels are the full model's own predictions
    (accuracy 1.0), so each direction the split drops costs accuracy.
    """
    rng = np.random.default_rng(3)
    table = rng.standard_normal((VOCAB, DIM)).astype("float32")
    u, _, vt = np.linalg.svd(table, full_matrices=False)
    s = np.geomspace(4.0, 0.5, DIM).astype("float32")
    table = (u * s) @ vt
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    head = keras.layers.Dense(4, name="head")
    model = keras.Model(inputs, head(x))
    model.get_layer("embedding").embeddings.assign(table)
    head.kernel.assign(rng.standard_normal((DIM, 4)).astype("float32"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x_dev = rng.integers(0, VOCAB, size=(400, SEQ)).astype("int32")
    y_dev = np.argmax(model.predict(x_dev, verbose=0), axis=1)
    return model, table, x_dev, y_dev


def _expected_choice(model, table, x_dev, y_dev, candidates, max_drop):
    """The candidate the budget should keep, computed here with NumPy's SVD."""
    head = model.get_layer("head")
    kernel, bias = (np.array(w) for w in head.weights)
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    for compression in sorted(candidates, reverse=True):
        rank = tl.rank_for_compression(VOCAB, DIM, compression)
        approx = (u[:, :rank] * s[:rank]) @ vt[:rank]
        logits = approx[x_dev].mean(axis=1) @ kernel + bias
        accuracy = np.mean(np.argmax(logits, axis=1) == y_dev)
        if 100.0 * (1.0 - accuracy) <= max_drop:
            return compression
    return min(candidates)


@pytest.mark.parametrize("max_drop", [0.0, 5.0, 20.0])
def test_accuracy_budget_keeps_the_smallest_candidate_within_tolerance(max_drop):
    model, table, x_dev, y_dev = _constructed_model()
    candidates = (0.3, 0.5, 0.7, 0.85)
    expected = _expected_choice(model, table, x_dev, y_dev, candidates, max_drop)
    split = tl.EmbeddingFactorization(
        compression=candidates,
        max_dev_drop=max_drop,
        validation_data=(x_dev, y_dev),
        at_epoch=1,
        bands=1,
        learning_rate=1e-3,
        verbose=0,
    )
    split.split_now(model)
    result = split.result
    assert result.compression == expected
    assert result.rank == tl.rank_for_compression(VOCAB, DIM, expected)
    evaluations = dict(result.budget_evaluations)
    assert evaluations[0.0] == 1.0
    for compression, accuracy in result.budget_evaluations[1:]:
        if compression > expected:  # every smaller model evaluated lost too much
            assert 100.0 * (1.0 - accuracy) > max_drop
    assert evaluations[expected] >= 1.0 - max_drop / 100.0 or expected == 0.3


def test_accuracy_budget_restores_the_table_it_evaluated_on():
    model, table, x_dev, y_dev = _constructed_model()
    split = tl.EmbeddingFactorization(
        compression=(0.5, 0.85),
        max_dev_drop=100.0 - 1e-9,
        validation_data=(x_dev, y_dev),
        at_epoch=1,
        bands=1,
        learning_rate=1e-3,
        verbose=0,
    )
    split.split_now(model)
    layer = model.get_layer("embedding")
    a, b = np.array(layer.embeddings_a), np.array(layer.embeddings_b)
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    rank = split.result.rank
    np.testing.assert_allclose(a @ b, (u[:, :rank] * s[:rank]) @ vt[:rank], atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"compression": (0.5, 0.9)}, "pass `max_dev_drop`"),
        ({"compression": 0.9, "max_dev_drop": 0.5}, "compression=0.9"),
        (
            {"compression": (0.5,), "max_dev_drop": 0.5, "validation_data": None},
            "validation_data=None",
        ),
        (
            {
                "compression": (0.5,),
                "max_dev_drop": 0.5,
                "validation_data": (np.zeros((3, 5)), np.zeros(2)),
            },
            r"lengths \[3, 2\]",
        ),
        (
            {
                "compression": (0.5, 1.5),
                "max_dev_drop": 0.5,
                "validation_data": (np.zeros((3, 5)), np.zeros(3)),
            },
            "compression=1.5",
        ),
        (
            {
                "compression": (0.5,),
                "max_dev_drop": -1,
                "validation_data": (np.zeros((3, 5)), np.zeros(3)),
            },
            "max_dev_drop=-1",
        ),
        ({"compression": 0.5, "validation_data": ([1], [1])}, "max_dev_drop=None"),
    ],
    ids=range(7),
)
def test_accuracy_budget_arguments_are_checked_in_the_constructor(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tl.EmbeddingFactorization(at_epoch=1, **kwargs)


# ------------------------------------------- the fixed basis for a fitted model


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        ({"loss": 0.1, "accuracy": 0.97, "val_accuracy": 0.5}, 0.97),
        ({"sparse_categorical_accuracy": 0.9}, 0.9),
        ({"a_accuracy": 1.0, "b_binary_accuracy": 0.9, "b_loss": 0.2}, 0.95),
        ({"acc": 0.8}, 0.8),
        ({"loss": 0.1, "val_accuracy": 0.99}, None),
        ({"accuracy": float("nan")}, None),
        ({"accuracy": "high"}, None),
        (None, None),
    ],
)
def test_training_accuracy_reads_the_logged_training_accuracies(logs, expected):
    from tflite_lowrank.training.consumer import training_accuracy

    got = training_accuracy(logs)
    assert got == (None if expected is None else pytest.approx(expected))


def _fitted_split(model, **kwargs):
    split = tl.EmbeddingFactorization(compression=0.9, at_epoch=2, verbose=0, **kwargs)
    split.set_model(model)
    return split


@pytest.mark.parametrize(
    ("accuracy", "kwargs", "weighting", "train_basis"),
    [
        (0.97, {}, "consumer", False),  # The fitted model takes the fixed basis.
        (0.9, {}, "none", True),
        (None, {}, "none", True),  # No accuracy logged.
        (0.97, {"recipe": tl.SplitRecipe(fixed_basis_above=None)}, "none", True),
        (0.97, {"recipe": tl.SplitRecipe(fixed_basis_above=0.99)}, "none", True),
        (0.97, {"weighting": "none"}, "none", True),  # Explicit choices win.
        (0.97, {"train_basis": True}, "none", True),
    ],
)
def test_a_model_that_fits_its_training_data_takes_the_fixed_basis(
    accuracy, kwargs, weighting, train_basis
):
    model = _wide_dan()
    split = _fitted_split(model, **kwargs)
    split._note_epoch(0, {"accuracy": 0.5})
    split._note_epoch(1, {"accuracy": accuracy})  # The epoch whose weights split.
    split.split_now(steps_per_epoch=4)
    ran = split.result.recipe
    assert (ran.weighting, ran.train_basis) == (weighting, train_basis)
    assert split.result.train_basis is train_basis
    assert (split.result.consumer == "hidden") is (weighting == "consumer")


def test_the_fitted_rule_needs_a_consumer_to_weight_by():
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(400, 16, name="embedding")(inputs)
    x = keras.layers.LayerNormalization()(x)  # Not a linear consumer.
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(optimizer="adam", loss="mse")
    split = _fitted_split(model)
    split._note_epoch(1, {"accuracy": 1.0})
    split.split_now(steps_per_epoch=4)
    assert (split.result.recipe.weighting, split.result.train_basis) == ("none", True)


def _wide_dan():
    """A DAN whose table (400 x 16) keeps a rank at compression 0.9, logging a
    training accuracy of 1."""
    sure = keras.metrics.MeanMetricWrapper(_sure, name="sure_accuracy")
    return _dan(vocab=400, dim=16, metric=sure)


def _sure(y_true, y_pred):
    """A metric that logs a training accuracy of 1."""
    return keras.ops.ones_like(keras.ops.cast(y_true, "float32"))


def test_fit_reads_the_logged_accuracy_and_resumes_the_choice(rng, tmp_path, caplog):
    x = rng.integers(1, 400, size=(64, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")

    def run(backup_dir, interrupt=None):
        keras.utils.set_random_seed(0)
        model = _wide_dan()
        backup = keras.callbacks.BackupAndRestore(str(backup_dir))
        split = tl.EmbeddingFactorization(
            compression=0.9, at_epoch=2, coordinate_with=[backup], verbose=0
        )
        callbacks = [backup, split] + ([interrupt] if interrupt else [])
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=4,
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
        return model, split

    reference, first = run(tmp_path / "reference")
    assert first.result.recipe.weighting == "consumer"
    assert first.result.train_basis is False
    with pytest.raises(RuntimeError, match="interrupted"):
        run(tmp_path / "backup", Interrupt(3))
    with caplog.at_level("WARNING", logger="tflite_lowrank"):
        model, split = run(tmp_path / "backup")
    assert split.result.resumed
    assert split.result.recipe == first.result.recipe
    assert "written by a split with recipe" not in caplog.text
    for resumed, expected in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed, expected, atol=1e-5)


def test_fixed_basis_above_is_checked_and_described():
    assert tl.SplitRecipe().fixed_basis_above == 0.95
    assert tl.SplitRecipe.preset("paper").fixed_basis_above is None
    assert "training accuracy reaches 0.95" in tl.SplitRecipe().describe()
    for value, error in (
        (0.0, ValueError),
        (1.5, ValueError),
        ("high", TypeError),
        (True, TypeError),
    ):
        with pytest.raises(error, match=f"fixed_basis_above={value!r}"):
            tl.SplitRecipe(fixed_basis_above=value)


def test_a_two_headed_model_is_read_by_both_heads_accuracies(rng):
    """Keras logs each head's metrics under its output's name; the rule reads both."""
    x = rng.integers(1, 400, size=(64, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(400, 16, name="embedding")(inputs)
    )
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(hidden)
    model = keras.Model(
        inputs,
        {
            "topic": keras.layers.Dense(2, name="topic")(hidden),
            "spam": keras.layers.Dense(1, activation="sigmoid", name="spam")(hidden),
        },
    )
    model.compile(
        optimizer="adam",
        loss={
            "topic": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "spam": "binary_crossentropy",
        },
        metrics={
            "topic": [keras.metrics.MeanMetricWrapper(_sure, name="accuracy")],
            "spam": [keras.metrics.MeanMetricWrapper(_sure, name="binary_accuracy")],
        },
    )
    split = tl.EmbeddingFactorization(compression=0.9, at_epoch=1, verbose=0)
    history = model.fit(
        x,
        {"topic": y, "spam": y.astype("float32")},
        batch_size=BATCH,
        epochs=2,
        callbacks=[split],
        verbose=0,
    )
    heads = [name for name in history.history if name.endswith("accuracy")]
    assert len(heads) == 2, history.history.keys()
    assert (split.result.recipe.weighting, split.result.train_basis) == (
        "consumer",
        False,
    )


def test_a_run_killed_before_the_split_keeps_the_fitted_choice(rng, tmp_path):
    """The best epoch's training accuracy survives the restart with its weights."""
    x = rng.integers(1, 400, size=(64, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    x_dev = rng.integers(1, 400, size=(32, SEQ)).astype("int32")
    y_dev = rng.integers(0, 2, size=32).astype("int32")  # Noise: val_loss rises.

    def run(backup_dir, interrupt=None):
        keras.utils.set_random_seed(0)
        model = _wide_dan()
        backup = keras.callbacks.BackupAndRestore(str(backup_dir))
        split = tl.EmbeddingFactorization(
            compression=0.9, at_epoch=4, coordinate_with=[backup], verbose=0
        )
        callbacks = [backup, split] + ([interrupt] if interrupt else [])
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=5,
            shuffle=False,
            validation_data=(x_dev, y_dev),
            callbacks=callbacks,
            verbose=0,
        )
        return model, split

    reference, first = run(tmp_path / "reference")
    # The case: an epoch before the kill below is restored and split.
    assert first.result.weights_from_epoch is not None
    assert first.result.weights_from_epoch < 3
    assert first.result.recipe.weighting == "consumer"
    with pytest.raises(RuntimeError, match="interrupted"):
        run(tmp_path / "backup", Interrupt(3))
    model, split = run(tmp_path / "backup")
    assert split.result.weights_from_epoch == first.result.weights_from_epoch
    assert split.result.recipe == first.result.recipe
    for resumed, expected in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed, expected, atol=1e-5)
