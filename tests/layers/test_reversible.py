"""Tests of the reversible factorized layers and of splitting `Embedding` subclasses."""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import tflite_lowrank as tl
from tflite_lowrank._keras import graph
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.layers.reversible import (
    ReversibleBandedLowRankEmbedding,
    ReversibleLowRankEmbedding,
)

try:  # The `hub` extra; CI installs it (.ci/setup.sh, .ci/hub-requirements.txt).
    import keras_hub
except ImportError:
    keras_hub = None
needs_keras_hub = pytest.mark.skipif(
    keras_hub is None, reason="keras-hub is not installed (the `hub` extra)"
)

VOCAB, DIM, SEQ, SAMPLES, RANK = 200, 16, 5, 64, 4
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture
def data(rng):
    x = rng.integers(0, VOCAB, (SAMPLES, SEQ)).astype("int32")
    return x, (x[:, 0] % 2).astype("int32")


def find_layer(model, name):
    (layer,) = [layer for layer in graph.flatten_layers(model) if layer.name == name]
    return layer


def table_of(layer) -> np.ndarray:
    """The full table a (factorized) embedding stands for."""
    if isinstance(layer, BandedLowRankEmbedding):
        return layer.reconstructed_table()
    if isinstance(layer, LowRankEmbedding):
        return np.asarray(layer.embeddings_a) @ np.asarray(layer.embeddings_b)
    return np.asarray(layer.embeddings)


class AtSplit(keras.callbacks.Callback):
    """Weights before the split (listed before it) or outputs and table after."""

    def __init__(self, x, layer_name):
        super().__init__()
        self.x, self.layer_name = x, layer_name

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.weights = self.model.get_weights()
            self.outputs = keras.ops.convert_to_numpy(self.model(self.x))
            self.table = table_of(find_layer(self.model, self.layer_name))


def split_keeps_function(build, layer_name, data, **split_arguments):
    """Fits over a split at epoch 1; checks the outputs right after it equal the
    unsplit model's with the table replaced by the factors' product."""
    x, y = data
    keras.utils.set_random_seed(0)
    model = build()
    before, after = AtSplit(x, layer_name), AtSplit(x, layer_name)
    split = tl.EmbeddingFactorization(
        layer_name, rank=RANK, at_epoch=1, verbose=0, **split_arguments
    )
    model.fit(
        x, y, epochs=2, batch_size=16, callbacks=[before, split, after], verbose=0
    )
    keras.utils.set_random_seed(0)
    reference = build()
    reference.set_weights(before.weights)
    find_layer(reference, layer_name).embeddings.assign(after.table)
    expected = keras.ops.convert_to_numpy(reference(x))
    np.testing.assert_allclose(after.outputs, expected, rtol=1e-5, atol=1e-5)
    return model, split


# ------------------------------------------------------------------- layers


@pytest.mark.parametrize("soft_cap", [None, 2.0], ids=["no_cap", "soft_cap"])
def test_reversible_low_rank_embedding_reverse_uses_the_product(soft_cap, rng):
    layer = ReversibleLowRankEmbedding(VOCAB, DIM, RANK, logit_soft_cap=soft_cap)
    hidden = rng.standard_normal((2, SEQ, DIM)).astype("float32")
    logits = keras.ops.convert_to_numpy(layer(hidden, reverse=True))
    expected = hidden @ table_of(layer).T
    if soft_cap is not None:
        expected = np.tanh(expected / soft_cap) * soft_cap
    assert logits.shape == (2, SEQ, VOCAB)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    assert [weight.name for weight in layer.weights] == [
        "embeddings_a",
        "embeddings_b",
    ]


def test_reversible_banded_low_rank_embedding_reverse_uses_the_product(rng):
    layer = ReversibleBandedLowRankEmbedding(
        VOCAB, DIM, boundaries=[10, 50], ranks=[8, 4, 2]
    )
    hidden = rng.standard_normal((2, SEQ, DIM)).astype("float32")
    logits = keras.ops.convert_to_numpy(layer(hidden, reverse=True))
    np.testing.assert_allclose(logits, hidden @ table_of(layer).T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReversibleLowRankEmbedding(
            VOCAB, DIM, RANK, tie_weights=False, reverse_dtype="float32"
        ),
        lambda: ReversibleBandedLowRankEmbedding(
            VOCAB, DIM, [10], [8, 2], tie_weights=False, logit_soft_cap=3.0
        ),
    ],
    ids=["low_rank", "banded"],
)
def test_reversible_layers_config_round_trip_and_untied_reverse(make, rng):
    layer = make()
    layer.build()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert layer.weights[-1].name == "reverse_embeddings"
    assert tuple(layer.reverse_embeddings.shape) == (DIM, VOCAB)
    hidden = rng.standard_normal((1, DIM)).astype("float32")
    expected = hidden @ np.asarray(layer.reverse_embeddings)
    if layer.logit_soft_cap:
        expected = np.tanh(expected / layer.logit_soft_cap) * layer.logit_soft_cap
    np.testing.assert_allclose(
        layer(hidden, reverse=True), expected, rtol=1e-5, atol=1e-6
    )


def test_reversible_banded_rejects_tied_without_projection():
    with pytest.raises(ValueError, match="Received: projection=False"):
        ReversibleBandedLowRankEmbedding(VOCAB, DIM, [10], [8, 2], projection=False)


# ------------------------------------------------- splitting ReversibleEmbedding


def reversible_model(embedding_class, tie_weights):
    def build():
        inputs = keras.Input((SEQ,), dtype="int32")
        embedding = embedding_class(
            VOCAB, DIM, tie_weights=tie_weights, name="token_embedding"
        )
        hidden = keras.layers.Dense(DIM, name="hidden")(embedding(inputs))
        logits = embedding(hidden, reverse=True)  # (batch, SEQ, VOCAB)
        pooled = keras.layers.GlobalAveragePooling1D()(logits)
        model = keras.Model(inputs, keras.layers.Dense(2, name="head")(pooled))
        model.compile(keras.optimizers.Adam(1e-2), LOSS)
        return model

    return build


_SPLITS = {  # id: bands, tie_weights, the class after the split
    "bands1_tied": (1, True, ReversibleLowRankEmbedding),
    "banded_tied": ("auto", True, ReversibleBandedLowRankEmbedding),
    "banded_untied": ("auto", False, ReversibleBandedLowRankEmbedding),
}
_HUB_REVERSIBLE = getattr(
    getattr(keras_hub, "layers", None), "ReversibleEmbedding", None
)


@pytest.mark.parametrize(
    "embedding_class, bands, tie_weights, layer_class",
    [
        pytest.param(keras.layers.ReversibleEmbedding, *split, id=f"{name}-keras")
        for name, split in _SPLITS.items()
    ]
    + [
        # KerasHub's class (a subclass of Keras'): split once in the default tier;
        # its banded splits are in the integration tier (Keras' class above).
        pytest.param(
            _HUB_REVERSIBLE,
            *split,
            id=f"{name}-keras_hub",
            marks=[needs_keras_hub]
            + ([] if name == "bands1_tied" else [pytest.mark.integration]),
        )
        for name, split in _SPLITS.items()
    ],
)
def test_split_reversible_embedding_keeps_reverse(
    embedding_class, bands, tie_weights, layer_class, data, tmp_path
):
    build = reversible_model(embedding_class, tie_weights)
    model, split = split_keeps_function(build, "token_embedding", data, bands=bands)
    layer = model.get_layer("token_embedding")
    assert type(layer) is layer_class
    assert layer.tie_weights is tie_weights
    assert all(weight.trainable for weight in model.weights)
    # The file holds the factorized layer: plain Keras loads it.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("token_embedding")) is layer_class
    x, _ = data
    np.testing.assert_array_equal(loaded(x), model(x))


# ------------------------------------------ keras_hub.TokenAndPositionEmbedding


def keras_hub_classifier():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras_hub.layers.TokenAndPositionEmbedding(VOCAB, SEQ, DIM)(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(keras.optimizers.Adam(1e-2), LOSS)
    return model


@needs_keras_hub
@pytest.mark.parametrize(
    "bands",
    # Integration tier: one band (the banded case takes the same path, with bands).
    [pytest.param(1, marks=pytest.mark.integration), "auto"],
    ids=["bands1", "banded"],
)
def test_split_keras_hub_token_and_position_embedding(bands, data, tmp_path):
    model, split = split_keeps_function(
        keras_hub_classifier, "token_embedding", data, bands=bands
    )
    x, _ = data
    layer = find_layer(model, "token_embedding")
    assert isinstance(
        layer, ReversibleLowRankEmbedding | ReversibleBandedLowRankEmbedding
    )
    # Save and load: KerasHub rebuilds a full ReversibleEmbedding; tl.load_model
    # factorizes it again before loading the weights.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tl.load_model(path)
    assert type(find_layer(loaded, "token_embedding")) is type(layer)
    np.testing.assert_array_equal(loaded(x), model(x))
    # LiteRT runs the same function.
    tflite = tmp_path / "model.tflite"
    tl.convert_to_tflite(model, tflite, keep_logits=True, representative_data=x[:8])
    runner = Interpreter(model_path=str(tflite)).get_signature_runner("serving_default")
    for row in x[:4]:
        (got,) = runner(token_ids=row[None]).values()
        np.testing.assert_allclose(got, model(row[None]), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------- other subclasses


class InitOnlyEmbedding(keras.layers.Embedding):
    """Overrides only `__init__`: safe to split."""

    def __init__(self, **kwargs):
        super().__init__(VOCAB, DIM, **kwargs)


class ScaledEmbedding(keras.layers.Embedding):
    """Overrides `call`: the split would drop the scaling."""

    def call(self, inputs):
        return super().call(inputs) * 2.0


def subclass_model(embedding_class):
    def build():
        inputs = keras.Input((SEQ,), dtype="int32")
        hidden = embedding_class(name="embedding")(inputs)
        hidden = keras.layers.GlobalAveragePooling1D()(hidden)
        model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
        model.compile(keras.optimizers.Adam(1e-2), LOSS)
        return model

    return build


def test_split_embedding_subclass_overriding_only_init(data):
    model, _ = split_keeps_function(
        subclass_model(InitOnlyEmbedding), "embedding", data, bands=1
    )
    assert type(model.get_layer("embedding")) is LowRankEmbedding


@pytest.mark.parametrize("layer_name", ["embedding", None], ids=["named", "only"])
def test_split_embedding_subclass_overriding_call_is_refused(layer_name, data):
    model = subclass_model(lambda name: ScaledEmbedding(VOCAB, DIM, name=name))()
    split = tl.EmbeddingFactorization(layer_name, rank=RANK, at_epoch=1)
    x, y = data
    with pytest.raises(
        ValueError,
        match=r"Layer 'embedding' is a `ScaledEmbedding`, a subclass of "
        r"`keras.layers.Embedding` that overrides \['call'\].*Received: layer_name=",
    ):
        model.fit(x, y, epochs=2, callbacks=[split], verbose=0)
    assert type(model.get_layer("embedding")) is ScaledEmbedding


def test_fold_projection_keeps_a_reversible_embedding(data):
    from tflite_lowrank.export.fold import fold_projection

    build = reversible_model(keras.layers.ReversibleEmbedding, tie_weights=True)
    model, _ = split_keeps_function(build, "token_embedding", data, bands=1)

    folded, results = fold_projection(model, return_results=True)

    assert folded is model
    (result,) = results
    assert result.consumer is None and "reverse=True" in result.reason


@pytest.mark.parametrize("bands", [1, "auto"], ids=["bands1", "banded"])
def test_split_reversible_embedding_keeps_the_mask(bands, data):
    """The mask is set in `call`, as `ReversibleEmbedding` does: a masked mean
    after the split still skips the padding."""
    x, y = data
    x = x.copy()
    x[: SAMPLES // 2, 3:] = 0  # right padding

    def build():
        inputs = keras.Input((SEQ,), dtype="int32")
        embedding = keras.layers.ReversibleEmbedding(
            VOCAB, DIM, mask_zero=True, name="token_embedding"
        )
        hidden = keras.layers.GlobalAveragePooling1D()(embedding(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
        model.compile(keras.optimizers.Adam(1e-2), LOSS)
        return model

    # The reference (the unsplit ReversibleEmbedding) takes a masked mean; row 0 of
    # the table is not zero, so an unmasked mean after the split would differ.
    model, _ = split_keeps_function(build, "token_embedding", (x, y), bands=bands)
    layer = model.get_layer("token_embedding")
    assert layer.mask_zero
    hidden = keras.ops.convert_to_numpy(layer(x))
    assert np.abs(hidden[x == 0]).max() > 1e-3
    mask = (x != 0)[..., None]
    pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    head = model.layers[-1]
    np.testing.assert_allclose(model(x), head(pooled), rtol=1e-5, atol=1e-6)
