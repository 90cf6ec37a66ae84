"""Tests of `tl.load_model`: `.keras` files whose nested embeddings were factorized."""

import zipfile

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, SEQ, SAMPLES, RANK = 200, 16, 5, 64, 4
# The keras.io example's layer has no `build()`; Keras warns when it rebuilds it.
KERAS_IO_BUILD_WARNING = "ignore:`build\\(\\)` was called on layer:UserWarning"


@keras.saving.register_keras_serializable(package="tests")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """The keras.io transformer example's layer: two Embeddings made in __init__."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = keras.layers.Embedding(vocab_size, embed_dim)
        self.pos_emb = keras.layers.Embedding(maxlen, embed_dim)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim

    def call(self, x):
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)

    def get_config(self):
        return {
            **super().get_config(),
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


def keras_io_model():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = TokenAndPositionEmbedding(SEQ, VOCAB, DIM)(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def split_and_save(model, layer_name, bands, path, rng):
    x = rng.integers(0, VOCAB, (SAMPLES, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    split = tl.EmbeddingFactorization(
        layer_name, rank=RANK, at_epoch=1, bands=bands, verbose=0
    )
    model.fit(x, y, epochs=2, batch_size=16, callbacks=[split], verbose=0)
    model.save(path)
    return x, y, split


@pytest.mark.filterwarnings(KERAS_IO_BUILD_WARNING)
@pytest.mark.parametrize(
    "bands, layer_class",
    [
        # Integration tier: a nested LowRankEmbedding also reloads in
        # `test_load_model_without_compile` below.
        pytest.param(1, LowRankEmbedding, marks=pytest.mark.integration),
        ("auto", BandedLowRankEmbedding),
    ],
    ids=["bands1", "banded"],
)
def test_load_model_reloads_nested_embedding_exactly(bands, layer_class, rng, tmp_path):
    model = keras_io_model()
    token_emb = model.layers[1].token_emb
    path = tmp_path / "model.keras"
    x, y, split = split_and_save(model, token_emb.name, bands, path, rng)
    assert type(token_emb) is layer_class
    assert len(split.result.band_ranks) == (1 if bands == 1 else 6)
    # Keras rebuilds the full Embedding from the user's code: the factors do not fit.
    with pytest.raises(ValueError, match="expected 1 variables"):
        keras.saving.load_model(path)

    loaded = tl.load_model(path)

    nested = loaded.layers[1]
    assert type(nested.token_emb) is layer_class
    assert type(nested.pos_emb) is keras.layers.Embedding
    if bands != 1:
        assert nested.token_emb.boundaries == token_emb.boundaries
        assert nested.token_emb.ranks == token_emb.ranks
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    # Compiled as saved, with the optimizer's state: training goes on.
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    for mine, theirs in zip(
        loaded.optimizer.variables, model.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    loaded.fit(x, y, epochs=1, verbose=0)


@pytest.mark.filterwarnings(KERAS_IO_BUILD_WARNING)
def test_load_model_without_compile(rng, tmp_path):
    model = keras_io_model()
    path = tmp_path / "model.keras"
    x, _, _ = split_and_save(model, model.layers[1].token_emb.name, 1, path, rng)

    loaded = tl.load_model(str(path), compile=False)

    assert getattr(loaded, "optimizer", None) is None
    np.testing.assert_array_equal(loaded(x), model(x))


@keras.saving.register_keras_serializable(package="tests")
class Classifier(keras.Model):
    """A subclassed model: its Embedding comes from `__init__`, not from a config."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)
        self.pool = keras.layers.GlobalAveragePooling1D()
        self.head = keras.layers.Dense(2)

    def call(self, ids):
        return self.head(self.pool(self.embedding(ids)))


def test_load_model_reloads_subclassed_model(rng, tmp_path):
    model = Classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    path = tmp_path / "model.keras"
    x, _, _ = split_and_save(model, None, "auto", path, rng)
    with pytest.raises(ValueError, match="expected 1 variables"):
        keras.saving.load_model(path)

    loaded = tl.load_model(path)

    assert type(loaded.embedding) is BandedLowRankEmbedding
    assert loaded.embedding.mask_zero
    np.testing.assert_array_equal(loaded(x), model(x))


def test_load_model_top_level_embedding_as_keras(rng, tmp_path):
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    path = tmp_path / "model.keras"
    x, _, _ = split_and_save(model, "embedding", "auto", path, rng)

    loaded = tl.load_model(path)
    plain = keras.saving.load_model(path)

    assert type(loaded.get_layer("embedding")) is BandedLowRankEmbedding
    np.testing.assert_array_equal(loaded(x), plain(x))


def test_load_model_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: filepath="):
        tl.load_model(tmp_path / "missing.keras")
    with pytest.raises(TypeError, match=r"Received: filepath=None \(of type NoneType"):
        tl.load_model(None)
    loop_a, loop_b = tmp_path / "a.keras", tmp_path / "b.keras"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with pytest.raises(FileNotFoundError, match="dangling, or a loop"):
        tl.load_model(loop_a)
    not_keras = tmp_path / "model.h5"
    not_keras.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="must be a `.keras` file"):
        tl.load_model(not_keras)
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(
        ValueError, match=r"lacks \['config.json', 'model.weights.h5'\]"
    ):
        tl.load_model(empty)
