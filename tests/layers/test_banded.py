"""Tests of `BandedLowRankEmbedding`: parity, masking, saving, errors, conversion."""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_lowrank.export import convert_to_tflite
from tflite_lowrank.factorization.bands import banded_svd, reconstruct_table
from tflite_lowrank.layers.banded import BandedLowRankEmbedding

VOCAB, DIM, SEQ = 50, 8, 5
BOUNDARIES, RANKS = (3, 7, 19), (3, 4, 2, 1)
BAND_CASES = [
    pytest.param((), (3,), id="one-band"),
    pytest.param((10,), (6, 2), id="two-bands"),
    pytest.param(BOUNDARIES, RANKS, id="four-bands"),
]


def token_ids(rng, n=16, vocab=VOCAB):
    ids = rng.integers(1, vocab, (n, SEQ)).astype("int32")
    ids[0, 2:] = 0  # right padding
    ids[1, :] = 0  # all padding
    ids[2, :] = [1, 2, 3, 7, vocab - 1]  # both sides of every boundary
    return ids


def banded_layer(rng, boundaries=BOUNDARIES, ranks=RANKS, **kwargs):
    table = rng.standard_normal((VOCAB, DIM)).astype("float32")
    layer = BandedLowRankEmbedding(VOCAB, DIM, boundaries, ranks, **kwargs)
    layer.set_factors(banded_svd(table, boundaries, ranks))
    return layer


@pytest.mark.parametrize(("boundaries", "ranks"), BAND_CASES)
def test_banded_embedding_equals_embedding_of_reconstructed_table(
    boundaries, ranks, rng
):
    layer = banded_layer(rng, boundaries, ranks)
    table = layer.reconstructed_table()
    np.testing.assert_allclose(
        table, reconstruct_table(layer.factors()), rtol=0, atol=0
    )
    reference = keras.layers.Embedding(VOCAB, DIM)
    reference.build()
    reference.embeddings.assign(table)
    ids = token_ids(rng)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(ids)),
        keras.ops.convert_to_numpy(reference(ids)),
        atol=1e-6,
    )
    all_ids = np.arange(VOCAB)[None]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(all_ids))[0], table, atol=1e-6
    )


def test_banded_embedding_without_projection_returns_block_codes(rng):
    layer = banded_layer(rng)
    codes_layer = BandedLowRankEmbedding(
        VOCAB, DIM, BOUNDARIES, RANKS, projection=False
    )
    codes_layer.set_factors(layer.factors())
    stacked_b = np.concatenate([b for _, b in layer.factors()], axis=0)
    ids = token_ids(rng)
    codes = keras.ops.convert_to_numpy(codes_layer(ids))
    assert codes.shape == (16, SEQ, sum(RANKS))
    assert codes_layer.compute_output_shape((None, SEQ)) == (None, SEQ, sum(RANKS))
    # What folding relies on: codes @ concat_i(b_i) is the layer's output.
    np.testing.assert_allclose(
        codes @ stacked_b, keras.ops.convert_to_numpy(layer(ids)), atol=1e-5
    )
    np.testing.assert_allclose(
        codes_layer.reconstructed_table() @ stacked_b,
        layer.reconstructed_table(),
        atol=1e-5,
    )


def test_banded_embedding_weights_are_named_per_band(rng):
    layer = banded_layer(rng)
    names = [weight.name for weight in layer.weights]
    assert names == [
        f"embeddings_{factor}_{index}" for index in range(4) for factor in "ab"
    ]
    assert [tuple(a.shape) for a, _ in layer.factors()] == [
        (3, 3),
        (4, 4),
        (12, 2),
        (31, 1),
    ]
    assert layer.compute_output_shape((None, SEQ)) == (None, SEQ, DIM)


def test_banded_embedding_masks_like_embedding(rng):
    layer = banded_layer(rng, mask_zero=True)
    reference = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)
    ids = token_ids(rng)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.compute_mask(ids)),
        keras.ops.convert_to_numpy(reference.compute_mask(ids)),
    )
    assert banded_layer(rng).compute_mask(ids) is None


@pytest.mark.parametrize("pooling", ["mean", "lstm"])
def test_banded_embedding_mask_reaches_downstream_layers(pooling, rng):
    layer = banded_layer(rng, mask_zero=True, name="embedding")
    reference = keras.layers.Embedding(VOCAB, DIM, mask_zero=True, name="embedding")
    reference.build()
    reference.embeddings.assign(layer.reconstructed_table())

    def model_with(embedding):
        keras.utils.set_random_seed(1)
        inputs = keras.Input((SEQ,), dtype="int32")
        x = embedding(inputs)
        if pooling == "mean":
            x = keras.layers.GlobalAveragePooling1D()(x)
        else:
            x = keras.layers.LSTM(3)(x)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    ids = token_ids(rng)
    np.testing.assert_allclose(
        model_with(layer).predict(ids, verbose=0),
        model_with(reference).predict(ids, verbose=0),
        atol=1e-5,
    )


def test_banded_embedding_config_round_trip():
    layer = BandedLowRankEmbedding(
        VOCAB,
        DIM,
        BOUNDARIES,
        RANKS,
        embeddings_a_initializer="zeros",
        embeddings_b_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=1),
        mask_zero=True,
        projection=False,
        name="banded",
        trainable=False,
    )
    config = layer.get_config()
    assert config["boundaries"] == list(BOUNDARIES)
    assert config["ranks"] == list(RANKS)
    clone = BandedLowRankEmbedding.from_config(config)
    assert clone.get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is BandedLowRankEmbedding
    assert restored.get_config() == config


def test_banded_embedding_save_load_keras_file(tmp_path, rng):
    inputs = keras.Input((SEQ,), dtype="int32")
    layer = BandedLowRankEmbedding(
        VOCAB, DIM, BOUNDARIES, RANKS, mask_zero=True, name="banded"
    )
    x = keras.layers.LSTM(3)(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    layer.set_factors(banded_layer(rng).factors())
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_layer = loaded.get_layer("banded")
    assert type(loaded_layer) is BandedLowRankEmbedding
    assert loaded_layer.ranks == RANKS and loaded_layer.mask_zero
    for (a, b), (loaded_a, loaded_b) in zip(
        layer.factors(), loaded_layer.factors(), strict=True
    ):
        np.testing.assert_array_equal(a, loaded_a)
        np.testing.assert_array_equal(b, loaded_b)
    ids = token_ids(rng)
    np.testing.assert_allclose(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6
    )


def test_banded_embedding_trains_every_factor(rng):
    inputs = keras.Input((SEQ,), dtype="int32")
    x = BandedLowRankEmbedding(VOCAB, DIM, BOUNDARIES, RANKS, mask_zero=True)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    layer = model.layers[1]
    before = [weight.numpy().copy() for weight in layer.weights]
    ids = np.tile(np.arange(1, VOCAB), 5)[: 40 * SEQ].reshape(40, SEQ)
    model.fit(ids, rng.integers(0, 2, 40), epochs=1, verbose=0)
    assert len(layer.trainable_weights) == 8
    for old, weight in zip(before, layer.weights, strict=True):
        assert not np.allclose(old, weight.numpy()), weight.name


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"boundaries": (7, 3)}, ValueError, r"Received: boundaries=\[7, 3\]"),
        ({"boundaries": (0, 7)}, ValueError, r"Received: boundaries=\[0, 7\]"),
        ({"boundaries": (3, VOCAB)}, ValueError, "Received: boundaries="),
        ({"boundaries": "37"}, TypeError, "Received: boundaries='37'"),
        ({"ranks": (3, 4, 2)}, ValueError, r"one rank per band.*ranks=\[3, 4, 2\]"),
        ({"ranks": (4, 4, 2, 1)}, ValueError, r"ranks\[0\].*Received: ranks="),
        ({"ranks": (3, 4, 2, 0)}, ValueError, r"ranks\[3\].*Received: ranks="),
        ({"ranks": (3, 4, 2, 9)}, ValueError, r"ranks\[3\].*\[1, 8\]"),
        ({"ranks": (3, 4, 2.0, 1)}, TypeError, "Received: ranks="),
        ({"input_dim": 0}, ValueError, "Received: input_dim=0"),
        ({"output_dim": -1}, ValueError, "Received: output_dim=-1"),
    ],
    ids=[
        "decreasing",
        "zero-boundary",
        "boundary-at-vocab",
        "string",
        "rank-count",
        "rank-above-band-size",
        "rank-zero",
        "rank-above-dim",
        "float-rank",
        "input-dim",
        "output-dim",
    ],
)
def test_banded_embedding_rejects_bad_arguments(kwargs, error, match):
    arguments = {
        "input_dim": VOCAB,
        "output_dim": DIM,
        "boundaries": BOUNDARIES,
        "ranks": RANKS,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        BandedLowRankEmbedding(**arguments)


def test_banded_embedding_set_factors_rejects_wrong_shapes(rng):
    layer = BandedLowRankEmbedding(VOCAB, DIM, BOUNDARIES, RANKS)
    factors = banded_svd(rng.standard_normal((VOCAB, DIM)), BOUNDARIES, RANKS)
    with pytest.raises(ValueError, match="one \\(a, b\\) pair per band"):
        layer.set_factors(factors[:2])
    factors[1] = (factors[1][0][:, :2], factors[1][1])
    with pytest.raises(ValueError, match="embeddings_a_1"):
        layer.set_factors(factors)


# Conversion: vocabulary 1000 so that the dynamic mode really quantizes the factors.
CONVERT_VOCAB, CONVERT_BOUNDARIES, CONVERT_RANKS = 1000, (10, 100), (8, 5, 2)
BUILTINS = {
    "CONCATENATION",
    "DEQUANTIZE",
    "FULLY_CONNECTED",
    "BATCH_MATMUL",
    "GATHER",
    "GREATER_EQUAL",
    "LESS",
    "LOGICAL_AND",
    "MAXIMUM",
    "MINIMUM",
    "SELECT",
    "SELECT_V2",
    "SUB",
    "ADD",
    "MUL",
    "DIV",
    "SUM",
    "MEAN",
    "CAST",
    "NOT_EQUAL",
    "RESHAPE",
    "EXPAND_DIMS",
    "SOFTMAX",
}


@pytest.mark.parametrize("quantization", [None, "dynamic"], ids=["float32", "dynamic"])
def test_banded_embedding_converts_to_builtin_litert(quantization, tmp_path, rng):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQ,), dtype="int32", name="token_ids")
    layer = BandedLowRankEmbedding(
        CONVERT_VOCAB,
        DIM,
        CONVERT_BOUNDARIES,
        CONVERT_RANKS,
        mask_zero=True,
        name="embedding",
    )
    x = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    x = keras.layers.Dense(12, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    table = rng.standard_normal((CONVERT_VOCAB, DIM)).astype("float32")
    layer.set_factors(banded_svd(table, CONVERT_BOUNDARIES, CONVERT_RANKS))
    ids = token_ids(rng, n=8, vocab=CONVERT_VOCAB)
    ids[1, 0] = 5  # an all-padding row averages 0/0 = NaN, in Keras as in LiteRT
    ids[3, :] = [4, 9, 10, 99, 100]
    path = tmp_path / "banded.tflite"

    result = convert_to_tflite(
        model,
        path,
        quantization=quantization,
        representative_data=ids,
        fold_projection=False,
    )

    assert path.exists() and path.stat().st_size > 0
    assert set(result.ops) <= BUILTINS, sorted(set(result.ops) - BUILTINS)
    assert not any(op.startswith(("CUSTOM", "FLEX")) for op in result.ops)
    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner(
        "serving_default"
    )
    litert = np.concatenate([runner(token_ids=row[None])["output_0"] for row in ids])
    tolerance = 1e-5 if quantization is None else 2e-2
    np.testing.assert_allclose(litert, model.predict(ids, verbose=0), atol=tolerance)
