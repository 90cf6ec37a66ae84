"""`EmbeddingFactorization(bands=...)`: frequency-banded factors inside `fit()`."""

import keras
import numpy as np
import pytest

import tflite_lowrank as tl

VOCAB, DIM, SEQ = 120, 8, 5


def _dan(mask_zero=True):
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, mask_zero=mask_zero, name="embedding")(
        inputs
    )
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    outputs = keras.layers.Dense(2, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _data(rng, rows=64):
    # Zipf-like ids: frequent words have small ids, as a frequency-sorted vocabulary.
    ids = np.minimum(rng.zipf(1.3, size=(rows, SEQ)), VOCAB - 1).astype("int32")
    return ids, (ids[:, 0] % 2).astype("int32")


class _Outputs(keras.callbacks.Callback):
    """Predictions right before and right after the split (epoch 1 begins)."""

    def __init__(self, x):
        super().__init__()
        self.x = x
        self.before = self.after = self.table = self.dense = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.before = self.model.predict(self.x, verbose=0)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.after = self.model.predict(self.x, verbose=0)
            self.table = self.model.get_layer("embedding").reconstructed_table()
            self.dense = self.model.layers[-1].get_weights()


def test_split_with_bands_preserves_the_reconstructed_function(rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding", compression=0.7, at_epoch=1, bands=3, verbose=0
    )
    outputs = _Outputs(x)
    model.fit(x, y, epochs=2, batch_size=16, callbacks=[split, outputs], verbose=0)
    layer = model.get_layer("embedding")
    assert isinstance(layer, tl.BandedLowRankEmbedding)
    assert split.result.boundaries == layer.boundaries and len(layer.boundaries) == 2
    assert split.result.band_ranks == layer.ranks
    # Same parameter budget as the single-band rank of `compression=0.7`.
    rank = tl.rank_for_compression(VOCAB, DIM, 0.7)
    assert split.result.params_after <= rank * (VOCAB + DIM)
    # Right after the split the model equals the model whose table is replaced by
    # the banded reconstruction, with the Dense weights of that moment.
    plain = _dan()
    plain.get_layer("embedding").set_weights([outputs.table])
    plain.layers[-1].set_weights(outputs.dense)
    np.testing.assert_allclose(
        outputs.after, plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert 0.0 <= split.result.relative_error < 1.0


# Integration tier: a training, a save and load and two conversions; banded
# models reload in tests/layers/test_loading.py and convert in
# tests/export/test_fold_banded.py.
@pytest.mark.integration
def test_banded_model_saves_loads_and_converts(rng, tmp_path):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding", compression=0.7, at_epoch=1, bands=2, verbose=0
    )
    model.fit(x, y, epochs=2, batch_size=16, callbacks=[split], verbose=0)
    path = tmp_path / "banded.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    for mode in ("float32", "dynamic"):
        result = tl.convert_to_tflite(
            model, tmp_path / f"{mode}.tflite", quantization=mode
        )
        assert result.max_output_difference < (1e-4 if mode == "float32" else 1e-1)
        assert not any(op.startswith("FLEX") for op in result.ops)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"energy": 0.9, "bands": 3}, ValueError, "Received: energy=0.9, bands=3"),
        (
            {"compression": 0.9, "bands": 1, "token_counts": [1.0] * VOCAB},
            ValueError,
            "Received: bands=1",
        ),
        ({"compression": 0.9, "bands": 0}, ValueError, "Received: bands=0"),
        ({"compression": 0.9, "bands": "many"}, ValueError, "Received: bands='many'"),
    ],
    ids=["energy", "counts_single_band", "zero", "string"],
)
def test_bands_arguments_are_checked_in_the_constructor(kwargs, error, match):
    with pytest.raises(error, match=match):
        tl.EmbeddingFactorization("embedding", at_epoch=1, verbose=0, **kwargs)


def test_budget_too_small_for_the_bands_fails_before_training(rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization(
        "embedding", rank=1, at_epoch=1, bands=12, verbose=0
    )
    with pytest.raises(ValueError, match="layer 'embedding'"):
        model.fit(x, y, epochs=2, callbacks=[split], verbose=0)
    assert model.optimizer.iterations.numpy() == 0


def test_default_bands_are_frequency_bands_and_one_band_for_small_tables(rng):
    x, y = _data(rng)
    model = _dan()
    split = tl.EmbeddingFactorization("embedding", compression=0.7, at_epoch=1)
    model.fit(x, y, epochs=2, batch_size=16, callbacks=[split], verbose=0)
    assert isinstance(model.get_layer("embedding"), tl.BandedLowRankEmbedding)
    assert len(split.result.band_ranks) > 1
    # The bands are chosen when the layer is split (from the id range, not the
    # data), so the two cases below split with `split_now`, without tracing `fit`.
    # A budget too small for rank 1 in two bands falls back to the paper's split.
    model = _dan()
    split = tl.EmbeddingFactorization("embedding", rank=1, at_epoch=1, verbose=0)
    split.split_now(model, steps_per_epoch=len(x) // 16)
    assert isinstance(model.get_layer("embedding"), tl.LowRankEmbedding)
    # `energy` picks one rank for the whole table: one band.
    model = _dan()
    split = tl.EmbeddingFactorization("embedding", energy=0.5, at_epoch=1, verbose=0)
    split.split_now(model, steps_per_epoch=len(x) // 16)
    assert isinstance(model.get_layer("embedding"), tl.LowRankEmbedding)
