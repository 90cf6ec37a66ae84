"""Tests of `LowRankEmbedding`: config, saving, masking parity with `Embedding`."""

import keras
import numpy as np
import pytest

from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, RANK, SEQ = 50, 8, 3, 5


def factors(rng):
    a = rng.standard_normal((VOCAB, RANK)).astype("float32")
    b = rng.standard_normal((RANK, DIM)).astype("float32")
    return a, b


def token_ids(rng, n=16):
    ids = rng.integers(1, VOCAB, (n, SEQ)).astype("int32")
    ids[0, 2:] = 0  # right padding
    ids[1, :] = 0  # all padding
    ids[2, 0] = 0  # a pad in the middle of nowhere
    return ids


def test_low_rank_embedding_config_round_trip():
    layer = LowRankEmbedding(
        VOCAB,
        DIM,
        RANK,
        embeddings_a_initializer="zeros",
        embeddings_b_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=1),
        mask_zero=True,
        name="factors",
        trainable=False,
    )
    config = layer.get_config()
    expected_keys = {
        "input_dim",
        "output_dim",
        "rank",
        "embeddings_a_initializer",
        "embeddings_b_initializer",
        "mask_zero",
    }
    assert expected_keys <= set(config)
    restored = LowRankEmbedding.from_config(config)
    assert restored.get_config() == config
    assert (restored.input_dim, restored.output_dim, restored.rank) == (VOCAB, DIM, 3)
    assert restored.mask_zero and not restored.trainable and restored.name == "factors"


def test_low_rank_embedding_lookup_is_a_rows_times_b(rng):
    a, b = factors(rng)
    layer = LowRankEmbedding(VOCAB, DIM, RANK)
    layer.build()
    layer.set_weights([a, b])
    assert [w.name for w in layer.weights] == ["embeddings_a", "embeddings_b"]
    ids = token_ids(rng)
    np.testing.assert_allclose(layer(ids), (a @ b)[ids], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer(ids.astype("float32")), (a @ b)[ids], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "head",
    ["lstm", "gru", "bidirectional", "global_average", "conv1d"],
)
@pytest.mark.filterwarnings("ignore:.*does not support masking:UserWarning")
def test_low_rank_embedding_masking_matches_embedding(head, rng):
    a, b = factors(rng)
    ids = token_ids(rng)

    def build(embedding):
        inputs = keras.Input((SEQ,), dtype="int32")
        x = embedding(inputs)
        if head == "lstm":
            x = keras.layers.LSTM(4)(x)
        elif head == "gru":
            x = keras.layers.GRU(4)(x)
        elif head == "bidirectional":
            x = keras.layers.Bidirectional(keras.layers.LSTM(3))(x)
        elif head == "global_average":
            x = keras.layers.GlobalAveragePooling1D()(x)
        else:
            x = keras.layers.Conv1D(4, 3, padding="same")(x)
            x = keras.layers.GlobalMaxPooling1D()(x)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    keras.utils.set_random_seed(1)
    reference = build(keras.layers.Embedding(VOCAB, DIM, mask_zero=True))
    keras.utils.set_random_seed(1)
    low_rank = build(LowRankEmbedding(VOCAB, DIM, RANK, mask_zero=True))
    reference_weights = reference.get_weights()
    reference_weights[0] = a @ b
    reference.set_weights(reference_weights)
    low_rank.set_weights([a, b, *reference_weights[1:]])
    np.testing.assert_allclose(
        low_rank.predict(ids, verbose=0),
        reference.predict(ids, verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )
    embedding = LowRankEmbedding(VOCAB, DIM, RANK, mask_zero=True)
    np.testing.assert_array_equal(
        embedding.compute_mask(ids),
        keras.layers.Embedding(VOCAB, DIM, mask_zero=True).compute_mask(ids),
    )


def test_low_rank_embedding_without_mask_zero_has_no_mask(rng):
    layer = LowRankEmbedding(VOCAB, DIM, RANK)
    assert layer.compute_mask(token_ids(rng)) is None
    assert not layer.supports_masking


def test_low_rank_embedding_output_shape_any_rank_input(rng):
    layer = LowRankEmbedding(VOCAB, DIM, RANK)
    assert tuple(layer(np.array([1, 2, 3])).shape) == (3, DIM)
    assert tuple(layer(rng.integers(0, VOCAB, (2, 3, 4))).shape) == (2, 3, 4, DIM)
    assert layer.compute_output_shape((None, 7)) == (None, 7, DIM)


def test_low_rank_embedding_save_load_keras_file_without_custom_objects(tmp_path, rng):
    a, b = factors(rng)
    inputs = keras.Input((SEQ,), dtype="int32")
    x = LowRankEmbedding(VOCAB, DIM, RANK, mask_zero=True, name="factors")(inputs)
    x = keras.layers.LSTM(3)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.get_layer("factors").set_weights([a, b])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("factors")
    assert type(layer) is LowRankEmbedding
    assert layer.mask_zero and layer.rank == RANK
    np.testing.assert_array_equal(layer.get_weights()[0], a)
    ids = token_ids(rng)
    np.testing.assert_allclose(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6
    )


def test_low_rank_embedding_trains_both_factors(rng):
    model = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            LowRankEmbedding(VOCAB, DIM, RANK),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.copy() for w in model.layers[0].get_weights()]
    ids = token_ids(rng, 32)
    model.fit(ids, rng.standard_normal((32, 1)), epochs=1, verbose=0)
    after = model.layers[0].get_weights()
    assert not np.allclose(before[0], after[0])
    assert not np.allclose(before[1], after[1])


def test_low_rank_embedding_mixed_float16(rng):
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = LowRankEmbedding(VOCAB, DIM, RANK, mask_zero=True)
        outputs = layer(token_ids(rng))
        assert layer.compute_dtype == "float16"
        assert layer.embeddings_a.dtype == "float32"
        assert layer.embeddings_b.dtype == "float32"
        assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
        a = layer.embeddings_a.numpy()
        b = layer.embeddings_b.numpy()
        ids = token_ids(rng)
        np.testing.assert_allclose(
            np.asarray(layer(ids), dtype="float32"), (a @ b)[ids], rtol=1e-2, atol=1e-3
        )
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"rank": 8}, ValueError, "Received: rank=8"),
        ({"rank": 0}, ValueError, "Received: rank=0"),
        ({"rank": 2.0}, TypeError, "Received: rank=2.0"),
        ({"rank": True}, TypeError, "Received: rank=True"),
        ({"input_dim": 0}, ValueError, "Received: input_dim=0"),
        ({"output_dim": "8"}, ValueError, "Received: output_dim='8'"),
    ],
    ids=["rank_not_smaller", "rank0", "rank_float", "rank_bool", "input_dim", "output"],
)
def test_low_rank_embedding_rejects_bad_arguments_with_received_value(
    kwargs, error, match
):
    arguments = {"input_dim": VOCAB, "output_dim": DIM, "rank": RANK, **kwargs}
    with pytest.raises(error, match=match):
        LowRankEmbedding(**arguments)
