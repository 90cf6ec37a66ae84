"""Tests for `tflite_lowrank.export.fold`: folding `embeddings_b` into its consumer."""

import logging

import keras
import numpy as np
import pytest

from tflite_lowrank.export.fold import FoldResult, fold_projection
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.models.paper import _MaskedMean

VOCAB, DIM, RANK, SEQ = 50, 8, 3, 5
# Keras float32 outputs of the folded and unfolded models: only the summation order of
# the projection changes, so they agree to float32 round-off.
KERAS_ATOL = 1e-5


def _token_ids(rng, rows=32):
    ids = rng.integers(1, VOCAB, size=(rows, SEQ)).astype("int32")
    for row in range(rows):  # Every amount of padding, including an all-padding row.
        padding = row % (SEQ + 1)
        if padding:
            ids[row, SEQ - padding :] = 0
    return ids


def _embedded(mask_zero=True):
    token_ids = keras.Input(shape=(SEQ,), dtype="int32", name="token_ids")
    embedding = LowRankEmbedding(
        VOCAB,
        DIM,
        RANK,
        embeddings_a_initializer=keras.initializers.RandomNormal(stddev=1.0),
        embeddings_b_initializer=keras.initializers.RandomNormal(stddev=1.0),
        mask_zero=mask_zero,
        name="embedding",
    )
    return token_ids, embedding(token_ids)


def _head(x):
    return keras.layers.Dense(2, activation="softmax", name="probs")(x)


def _dan():
    token_ids, x = _embedded()
    x = _MaskedMean(name="mean")(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(6, activation="relu", name="hidden_1")(x)
    return keras.Model(token_ids, _head(x)), "hidden_1"


def _global_average_dan():
    token_ids, x = _embedded(mask_zero=False)
    x = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    x = keras.layers.Dense(6, activation="tanh", name="hidden_1")(x)
    return keras.Model(token_ids, _head(x)), "hidden_1"


def _recurrent(layer_class):
    def build():
        token_ids, x = _embedded()
        x = keras.layers.SpatialDropout1D(0.2)(x)
        x = layer_class(7, return_sequences=True, name="rnn")(x)
        x = _MaskedMean(name="mean")(x)
        return keras.Model(token_ids, _head(x)), "rnn"

    return build


def _bidirectional(layer_class):
    def build():
        token_ids, x = _embedded()
        x = keras.layers.Bidirectional(layer_class(5), name="birnn")(x)
        return keras.Model(token_ids, _head(x)), "birnn"

    return build


def _dense_per_token():
    token_ids, x = _embedded(mask_zero=False)
    x = keras.layers.Dense(6, activation="relu", name="per_token")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(token_ids, _head(x)), "per_token"


def _conv1d():
    token_ids, x = _embedded(mask_zero=False)
    x = keras.layers.Conv1D(6, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(token_ids, _head(x)), "conv"


def _sequential():
    model = keras.Sequential(
        [
            keras.Input(shape=(SEQ,), dtype="int32"),
            LowRankEmbedding(
                VOCAB,
                DIM,
                RANK,
                embeddings_b_initializer=keras.initializers.RandomNormal(stddev=1.0),
                name="embedding",
            ),
            keras.layers.GRU(4, name="gru"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    return model, "gru"


FOLDABLE = {
    "dan_masked_mean": _dan,
    "dan_global_average": _global_average_dan,
    "lstm": _recurrent(keras.layers.LSTM),
    "gru": _recurrent(keras.layers.GRU),
    "simple_rnn": _recurrent(keras.layers.SimpleRNN),
    "bidirectional_lstm": _bidirectional(keras.layers.LSTM),
    "bidirectional_gru": _bidirectional(keras.layers.GRU),
    "dense_per_token": _dense_per_token,
    "conv1d": _conv1d,
    "sequential_gru": _sequential,
}


@pytest.mark.parametrize("build", FOLDABLE.values(), ids=FOLDABLE.keys())
def test_fold_projection_matches_unfolded_model(build, rng):
    model, consumer = build()
    x = _token_ids(rng)
    expected = keras.ops.convert_to_numpy(model(x, training=False))

    folded, results = fold_projection(model, return_results=True)

    assert results == (FoldResult("embedding", consumer, results[0].reason),), results
    assert not any(isinstance(layer, LowRankEmbedding) for layer in folded.layers)
    actual = keras.ops.convert_to_numpy(folded(x, training=False))
    np.testing.assert_allclose(actual, expected, atol=KERAS_ATOL, rtol=0)
    assert folded.count_params() < model.count_params()
    # The input model is not changed.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x, training=False)), expected
    )


def test_fold_projection_folded_kernel_is_product(rng):
    model, _ = _dan()
    folded = fold_projection(model)
    embedding = model.get_layer("embedding")
    expected = keras.ops.convert_to_numpy(
        embedding.embeddings_b
    ) @ keras.ops.convert_to_numpy(model.get_layer("hidden_1").kernel)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(folded.get_layer("hidden_1").kernel),
        expected,
        rtol=1e-6,
    )
    assert folded.get_layer("embedding").embeddings.shape == (VOCAB, RANK)


def _unsupported_activation():
    token_ids, x = _embedded()
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(token_ids, _head(x)), "ReLU-like Activation"


def _two_consumers():
    token_ids, x = _embedded(mask_zero=False)
    left = keras.layers.Dense(4, name="left")(x)
    right = keras.layers.Dense(4, name="right")(x)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Add()([left, right]))
    return keras.Model(token_ids, _head(x)), "feeds 2 layers"


def _max_then_dense():
    token_ids, x = _embedded(mask_zero=False)
    x = keras.layers.GlobalMaxPooling1D()(x)  # Not linear: cannot move B past it.
    return keras.Model(token_ids, _head(x)), "GlobalMaxPooling1D"


def _mean_then_rnn_input():
    token_ids, x = _embedded()
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.LSTM(3)(x)
    return keras.Model(token_ids, _head(x)), "LayerNormalization"


UNFOLDABLE = {
    "activation": _unsupported_activation,
    "two_consumers": _two_consumers,
    "max_pooling": _max_then_dense,
    "layer_norm": _mean_then_rnn_input,
}


@pytest.mark.parametrize("build", UNFOLDABLE.values(), ids=UNFOLDABLE.keys())
def test_fold_projection_unsupported_consumer_keeps_model_and_logs(build, rng, caplog):
    model, _ = build()
    with caplog.at_level(logging.INFO, logger="tflite_lowrank.export.fold"):
        folded, results = fold_projection(model, return_results=True)
    assert folded is model
    assert len(results) == 1 and not results[0].folded
    assert "Not folding the projection of 'embedding'" in caplog.text


def test_fold_projection_nested_model_is_left_unfolded(rng):
    inner, _ = _dan()
    token_ids = keras.Input(shape=(SEQ,), dtype="int32")
    outer = keras.Model(token_ids, inner(token_ids))
    folded, results = fold_projection(outer, return_results=True)
    assert folded is outer
    assert results[0].reason == "the embedding is inside a nested model"


def test_fold_projection_without_low_rank_embedding_is_noop():
    token_ids = keras.Input(shape=(SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM)(token_ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(token_ids, _head(x))
    assert fold_projection(model) is model


def test_fold_projection_rejects_non_model_with_received_value():
    with pytest.raises(TypeError, match="Received: model="):
        fold_projection("model.keras")


def _operator_counts(content: bytes) -> tuple[int, int]:
    """(operators in all subgraphs, elements of constant FULLY_CONNECTED weights)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    codes = {
        index: max(code.builtinCode, code.deprecatedBuiltinCode)
        for index, code in enumerate(model.operatorCodes)
    }
    fully_connected = schema.BuiltinOperator.FULLY_CONNECTED
    num_ops = weights = 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            num_ops += 1
            if codes[op.opcodeIndex] != fully_connected:
                continue
            tensor = subgraph.tensors[op.inputs[1]]
            if model.buffers[tensor.buffer].data is not None:
                weights += int(np.prod(tensor.shape))
    return num_ops, weights


@pytest.mark.parametrize(
    "build",
    [_dan, _recurrent(keras.layers.LSTM), _bidirectional(keras.layers.LSTM)],
    ids=["dan", "lstm", "bidirectional_lstm"],
)
def test_fold_projection_tflite_agrees_and_runs_fewer_operations(build, rng, tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite
    from tflite_lowrank.litert import interpreter as _interpreter

    model, _ = build()
    folded = fold_projection(model)
    x = _token_ids(rng, rows=16)
    paths = {}
    for name, candidate in (("unfolded", model), ("folded", folded)):
        paths[name] = tmp_path / f"{name}.tflite"
        convert_to_tflite(
            candidate, paths[name], representative_data=x, **_no_fold(candidate)
        )
    runs = {
        name: _interpreter.Runner(
            _interpreter.make_interpreter(model_path=str(path))
        ).predict(x)
        for name, path in paths.items()
    }
    np.testing.assert_allclose(runs["folded"], runs["unfolded"], atol=1e-5, rtol=0)
    unfolded_ops, unfolded_weights = _operator_counts(paths["unfolded"].read_bytes())
    folded_ops, folded_weights = _operator_counts(paths["folded"].read_bytes())
    assert folded_ops < unfolded_ops
    assert folded_weights < unfolded_weights


def _no_fold(model):
    """Keeps the unfolded reference unfolded once the converter folds by default."""
    import inspect

    from tflite_lowrank.export.converter import convert_to_tflite

    parameters = inspect.signature(convert_to_tflite).parameters
    return {"fold_projection": False} if "fold_projection" in parameters else {}


def test_convert_to_tflite_folds_by_default_and_can_be_switched_off(rng, tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite

    model, consumer = _dan()
    x = _token_ids(rng, rows=16)
    folded = convert_to_tflite(model, tmp_path / "folded.tflite", representative_data=x)
    unfolded = convert_to_tflite(
        model,
        tmp_path / "unfolded.tflite",
        representative_data=x,
        fold_projection=False,
    )
    assert folded.folded_into == (consumer,)
    assert unfolded.folded_into == ()
    # Folded: only the (V, k) table is embedding storage; b lives in the consumer.
    assert [spec.shape for spec in folded.embedding_tensors] == [(VOCAB, RANK)]
    assert folded.embedding_bytes < unfolded.embedding_bytes
    assert folded.size_bytes < unfolded.size_bytes
    # Both checked against the same (unfolded) Keras model within 1e-4.
    assert folded.max_output_difference < 1e-4
    assert unfolded.max_output_difference < 1e-4


def test_convert_to_tflite_rejects_non_bool_fold_projection(tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite

    model, _ = _dan()
    with pytest.raises(TypeError, match="Received: fold_projection=1"):
        convert_to_tflite(model, tmp_path / "m.tflite", fold_projection=1)
