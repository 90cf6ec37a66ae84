"""Folding where it pays (issue 31): `fold_projection(only_if_smaller=True)` (what
`convert_to_tflite` uses) folds a consumer only when neither its weights nor its
multiply-adds per token grow, and every `FoldResult` carries both counts."""

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.export import fold_projection
from tflite_lowrank.factorization import banded_svd
from tflite_lowrank.layers.lookup import GatherEmbedding
from tflite_lowrank.litert import inspect_model

VOCAB, DIM, SEQ = 300, 16, 9
WIDE = ((20, 60), (16, 16, 4))  # a code 36 wide, more than D = 16


def _model(consumer, boundaries=WIDE[0], ranks=WIDE[1], rng=None):
    inputs = keras.Input((SEQ,), dtype="int32", name="token_ids")
    if boundaries:
        embedding = tl.BandedLowRankEmbedding(
            VOCAB, DIM, boundaries, ranks, name="embedding"
        )
    else:
        embedding = tl.LowRankEmbedding(VOCAB, DIM, ranks[0], name="embedding")
    x = consumer(embedding(inputs))
    if len(x.shape) == 3:
        x = keras.layers.GlobalMaxPooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    if boundaries:
        table = np.random.default_rng(0).standard_normal((VOCAB, DIM))
        embedding.set_factors(banded_svd(table, boundaries, ranks))
    return model


def _ids(rng):
    return rng.integers(0, VOCAB, (8, SEQ)).astype("int32")


def test_a_conv1d_whose_folded_kernel_outgrows_both_weights_is_not_folded(rng):
    model = _model(keras.layers.Conv1D(32, 5, name="conv"))
    _, (result,) = fold_projection(model, return_results=True, only_if_smaller=True)
    assert not result.folded
    # Unfolded: a 36 x 16 projection and a 5 x 16 x 32 kernel; folded: 5 x 36 x 32.
    assert (result.unfolded_parameters, result.folded_parameters) == (
        36 * 16 + 5 * 16 * 32,
        5 * 36 * 32,
    )
    assert (result.unfolded_macs, result.folded_macs) == (
        36 * 16 + 5 * 16 * 32,
        5 * 36 * 32,
    )
    assert "would grow the weights from 3,136 to 5,760" in result.reason
    # Asked to fold anyway, it folds (and reports the same counts).
    folded, (forced,) = fold_projection(model, return_results=True)
    assert forced.folded and forced.folded_parameters == 5 * 36 * 32
    ids = _ids(rng)
    np.testing.assert_allclose(
        folded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-5
    )


def test_strides_divide_the_consumer_work_but_not_the_projection():
    model = _model(keras.layers.Conv1D(8, 3, strides=3, name="conv"))
    _, (result,) = fold_projection(model, return_results=True, only_if_smaller=True)
    assert result.unfolded_macs == 36 * 16 + 3 * 16 * 8 // 3
    assert result.folded_macs == 3 * 36 * 8 // 3
    assert result.folded  # 864 <= 960 parameters, 288 <= 704 multiply-adds


@pytest.mark.parametrize(
    ("units", "folds"),
    [(4, True), (150, False)],  # LSTM(4): 16 x 16 kernel; LSTM(150): 16 x 600
)
def test_an_lstm_folds_only_when_its_wider_code_still_costs_less(units, folds, rng):
    model = _model(keras.layers.LSTM(units, return_sequences=True, name="lstm"))
    folded, (result,) = fold_projection(
        model, return_results=True, only_if_smaller=True
    )
    gates = 4 * units
    assert result.unfolded_parameters == 36 * 16 + 16 * gates
    assert result.folded_parameters == 36 * gates
    assert result.folded is folds
    ids = _ids(rng)
    np.testing.assert_allclose(
        folded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-5
    )


def test_a_mean_consumer_always_pays_per_token():
    inputs = keras.Input((SEQ,), dtype="int32", name="token_ids")
    layer = tl.BandedLowRankEmbedding(VOCAB, DIM, *WIDE, name="embedding")
    x = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    x = keras.layers.Dense(12, name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    _, (result,) = fold_projection(model, return_results=True, only_if_smaller=True)
    assert result.folded and result.consumer == "hidden"
    assert (result.unfolded_macs, result.folded_macs) == (36 * 16 + 16, 36)
    assert result.to_dict()["folded_macs"] == 36


def test_convert_reports_the_decision_and_a_single_band_folds_to_one_gather(
    rng, tmp_path
):
    model = _model(keras.layers.Dense(8, name="per_token"), (), (4,))
    ids = _ids(rng)
    result = tl.convert_to_tflite(model, tmp_path / "m.tflite", representative_data=ids)
    (fold,) = result.fold_results
    assert fold.folded and (fold.unfolded_parameters, fold.folded_parameters) == (
        4 * 16 + 16 * 8,
        4 * 8,
    )
    assert result.to_dict()["fold_results"][0]["folded_macs"] == 4 * 8
    folded = fold_projection(model)
    assert isinstance(folded.get_layer("embedding"), GatherEmbedding)
    content = (tmp_path / "m.tflite").read_bytes()
    info = inspect_model(content)
    assert _count(content, "GATHER") == 1 and _count(content, "SELECT", "LESS") == 0
    assert info.vocabulary_size == VOCAB


def _count(content, *names):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    kinds = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return sum(
        kinds[codes[op.opcodeIndex]] in names
        for subgraph in model.subgraphs
        for op in subgraph.operators
    )
