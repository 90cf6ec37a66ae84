"""`train_basis`: factors whose bases stay fixed after the split."""

import json

import keras
import numpy as np
import pytest
from interrupting import Interrupt

import tflite_lowrank as tl
from tflite_lowrank._keras import adapter
from tflite_lowrank.layers.factors import Factors, to_table_scale
from tflite_lowrank.training.arguments import _resolve_train_basis
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

VOCAB, DIM, SEQ, BATCH = 120, 8, 5, 16


def _dan():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")(
        inputs
    )
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    outputs = keras.layers.Dense(2, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _data(rng, rows=64):
    ids = np.minimum(rng.zipf(1.3, size=(rows, SEQ)), VOCAB - 1).astype("int32")
    return ids, (ids[:, 0] % 2).astype("int32")


def _pairs(layer):
    a, b = layer.embeddings_a, layer.embeddings_b
    if not isinstance(a, list):
        a, b = [a], [b]
    return [(np.array(x), np.array(y)) for x, y in zip(a, b, strict=True)], b


class _AtSplit(keras.callbacks.Callback):
    """The table before the split, the factors and predictions right after it."""

    def __init__(self, x):
        super().__init__()
        self.x = x

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.table = np.array(self.model.get_layer("embedding").embeddings)
            self.dense = self.model.layers[-1].get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.after = self.model.predict(self.x, verbose=0)
            self.pairs, _ = _pairs(self.model.get_layer("embedding"))
            layer = self.model.get_layer("embedding")
            self.reconstructed = (
                layer.reconstructed_table()
                if hasattr(layer, "reconstructed_table")
                else self.pairs[0][0] @ self.pairs[0][1]
            )


@pytest.mark.parametrize("bands", [1, 3])
def test_fixed_basis_preserves_the_function_and_trains_only_the_codes(bands, rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=0.5,
        at_epoch=1,
        bands=bands,
        train_basis=False,
        verbose=0,
    )
    at_split = _AtSplit(x)
    model.fit(x, y, epochs=3, batch_size=BATCH, callbacks=[split, at_split], verbose=0)
    layer = model.get_layer("embedding")
    assert layer.train_basis is False and split.result.train_basis is False
    assert "fixed bases" in split.result.describe()
    # The codes have the table's scale and the bases are orthonormal rows:
    # A = U_k S_k, B = V_k^T, so A^T A = S_k^2 (diagonal) and B B^T = I.
    for a, b in at_split.pairs:
        np.testing.assert_allclose(b @ b.T, np.eye(b.shape[0]), atol=1e-5)
        gram = a.T @ a
        np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-4)
    # The same product as the paper's form: the best approximation of each band.
    if bands == 1:
        ((a, b),) = at_split.pairs
        s = np.linalg.svd(at_split.table, compute_uv=False)
        np.testing.assert_allclose(
            np.linalg.norm(at_split.table - a @ b),
            np.sqrt((s[a.shape[1] :] ** 2).sum()),
            rtol=1e-4,
        )
    # Right after the split the outputs are those of the table A @ B.
    plain = _dan()
    plain.get_layer("embedding").set_weights([at_split.reconstructed])
    plain.layers[-1].set_weights(at_split.dense)
    np.testing.assert_allclose(
        at_split.after, plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    # Two epochs later the bases are the split's, the codes have moved.
    pairs, b_variables = _pairs(layer)
    assert not any(v.trainable for v in b_variables)
    for (_, b), (_, b0) in zip(pairs, at_split.pairs, strict=True):
        np.testing.assert_array_equal(b, b0)
    assert any(
        not np.allclose(a, a0)
        for (a, _), (a0, _) in zip(pairs, at_split.pairs, strict=True)
    )
    # The fixed basis's CALR: peak 1e-2 at any budget, decayed by 0.8 per epoch.
    schedule = adapter.learning_rate_object(model.optimizer)
    assert isinstance(schedule, CyclicalAnnealedLearningRate)
    assert (
        schedule.initial_learning_rate,
        schedule.minimal_learning_rate,
        schedule.decay,
    ) == pytest.approx((1e-2, 1e-5, 0.8))


# Integration tier: a training, a save and load and three conversions; the fixed
# basis' config round trip is checked on the layers below, the conversions of
# factorized models in tests/export/.
@pytest.mark.integration
def test_fixed_basis_saves_loads_and_converts(rng, tmp_path):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=0.6,
        at_epoch=1,
        bands=2,
        train_basis=False,
        verbose=0,
    )
    model.fit(x, y, epochs=2, batch_size=BATCH, callbacks=[split], verbose=0)
    path = tmp_path / "fixed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("embedding")
    assert layer.train_basis is False
    assert not any(v.trainable for v in layer.embeddings_b)
    assert all(v.trainable for v in layer.embeddings_a)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    for mode in ("float32", "dynamic", "int4"):
        result = tl.convert_to_tflite(
            model, tmp_path / f"{mode}.tflite", quantization=mode
        )
        assert result.max_output_difference < (1e-4 if mode == "float32" else 1e-1)
        assert not any(op.startswith("FLEX") for op in result.ops)


@pytest.mark.parametrize(
    ("compression", "train_basis"),
    # Kept fraction of the 120 x 8 table: ranks 3, 3, 2, 1 keep 40%, 40%, 27%, 13%.
    [(0.5, False), (0.6, False), (0.7, True), (0.8, True)],
)
def test_auto_fixes_the_basis_of_light_splits_only(compression, train_basis, rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=compression,
        at_epoch=1,
        bands=1,
        verbose=0,
        train_basis="auto",
    )
    # Decided when the layer is split: `split_now`, without tracing `fit` (the
    # fixed basis trains in `fit()` in the tests above).
    split.split_now(model, steps_per_epoch=len(x) // BATCH)
    assert split.result.train_basis is train_basis
    assert model.get_layer("embedding").embeddings_b.trainable is train_basis


@pytest.mark.parametrize(
    ("kept", "expected"),
    [(0.1, True), (0.2999, True), (0.3, False), (0.5, False), (1.0, False)],
)
def test_resolve_train_basis_threshold(kept, expected):
    assert _resolve_train_basis("auto", kept) is expected
    assert _resolve_train_basis(True, kept) is True
    assert _resolve_train_basis(False, kept) is False


@pytest.mark.parametrize("value", ["yes", 0, 1, "fixed"])
def test_train_basis_is_checked_in_the_constructor(value):
    with pytest.raises(ValueError, match=f"Received: train_basis={value!r}"):
        tl.EmbeddingFactorization(compression=0.5, at_epoch=1, train_basis=value)


@pytest.mark.parametrize(
    "make",
    [
        lambda tb: tl.LowRankEmbedding(VOCAB, DIM, rank=3, train_basis=tb),
        lambda tb: tl.BandedLowRankEmbedding(
            VOCAB, DIM, boundaries=[10], ranks=[4, 2], train_basis=tb
        ),
    ],
    ids=["low_rank", "banded"],
)
def test_layers_train_basis_argument(make):
    layer = make(False)
    layer.build()
    a, b = layer.embeddings_a, layer.embeddings_b
    a, b = (a, b) if isinstance(a, list) else ([a], [b])
    assert all(v.trainable for v in a) and not any(v.trainable for v in b)
    config = layer.get_config()
    assert config["train_basis"] is False
    assert type(layer).from_config(config).train_basis is False
    # The default trains the basis, and a config without the key (a file saved
    # before the argument existed) loads with it.
    config.pop("train_basis")
    assert type(layer).from_config(config).train_basis is True
    with pytest.raises(TypeError, match="Received: train_basis='no'"):
        make("no")


def test_to_table_scale_keeps_the_product():
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(30, 4)))
    v, _ = np.linalg.qr(rng.normal(size=(6, 4)))
    s = np.array([5.0, 2.0, 1.0, 0.0])  # a zero singular value keeps its scale
    a, b = u.astype("float32"), (np.diag(s) @ v.T).astype("float32")
    ((a2, b2),) = to_table_scale(Factors(((a, b),), (), 0.1)).pairs
    np.testing.assert_allclose(a2 @ b2, a @ b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(b2[:3], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a2[:, :3], u[:, :3] * s[:3], atol=1e-5)
    assert np.all(np.isfinite(b2))


def _backup_run(data, backup_dir, interrupt=None):
    x, y = data
    keras.utils.set_random_seed(0)
    model = _dan()
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=0.5,
        at_epoch=1,
        bands=1,
        train_basis=False,
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


def test_fixed_basis_resumes_from_a_backup(rng, tmp_path):
    data = _data(rng)
    reference, _ = _backup_run(data, tmp_path / "reference")
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        _backup_run(data, backup_dir, Interrupt(3))
    marker = json.loads((backup_dir / "tflite_lowrank_split.json").read_text())
    assert marker["config"]["train_basis"] is False
    model, split = _backup_run(data, backup_dir)
    assert split.result.resumed and split.result.train_basis is False
    layer = model.get_layer("embedding")
    assert not layer.embeddings_b.trainable
    assert int(model.optimizer.iterations) == int(reference.optimizer.iterations)
    for resumed, expected in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed, expected, atol=1e-6)
