"""The lookup graphs of `BandedLowRankEmbedding` (issue 31): the select graph it trains
with and the select-free graph it runs (and converts) with compute the same codes;
the converted file holds one GATHER per band and the few zero rows of
`lookup_steps`, and its reader still finds the vocabulary."""

import keras
import numpy as np
import pytest

from tflite_lowrank.export import convert_to_tflite
from tflite_lowrank.factorization import banded_svd, lookup_steps, num_lookup_ops
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.lookup import GatherEmbedding, lookup_table_shapes
from tflite_lowrank.litert import inspect_model
from tflite_lowrank.litert import interpreter as _interpreter

VOCAB, DIM, SEQ = 60, 8, 7
CASES = [
    pytest.param((), (3,), id="one-band"),
    pytest.param((12,), (6, 2), id="head-and-prefix-tail"),
    pytest.param((6, 12), (2, 5, 3), id="middle-band-of-6-rows"),
    pytest.param((3, 7, 19), (3, 4, 2, 1), id="offset-tail"),
]


def _ids(rng, rows=12):
    ids = rng.integers(0, VOCAB, (rows, SEQ)).astype("int32")
    ids[0] = [0, 2, 3, 5, 6, 7, 11]  # both sides of the boundaries
    ids[1] = [12, 13, 18, 19, 20, VOCAB - 1, 0]
    return ids


def _layer(rng, boundaries, ranks, **kwargs):
    table = rng.standard_normal((VOCAB, DIM)).astype("float32")
    layer = BandedLowRankEmbedding(VOCAB, DIM, boundaries, ranks, **kwargs)
    layer.set_factors(banded_svd(table, boundaries, ranks))
    return layer


@pytest.mark.parametrize("projection", [True, False])
@pytest.mark.parametrize(("boundaries", "ranks"), CASES)
def test_inference_graph_equals_training_graph(boundaries, ranks, projection, rng):
    layer = _layer(rng, boundaries, ranks, projection=projection)
    ids = _ids(rng)
    inference = keras.ops.convert_to_numpy(layer(ids))
    training = keras.ops.convert_to_numpy(layer(ids, training=True))
    np.testing.assert_array_equal(inference, training)
    assert inference.shape == (*ids.shape, DIM if projection else sum(ranks))
    # int64 ids and one id per row take the same paths.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(ids.astype("int64")[:, 0])), inference[:, 0]
    )
    if not projection:
        np.testing.assert_array_equal(
            inference.reshape(-1, sum(ranks)),
            layer.reconstructed_table()[ids.reshape(-1)],
        )


def test_fit_trains_through_the_select_graph_and_predict_matches(rng):
    inputs = keras.Input((SEQ,), dtype="int32")
    layer = _layer(rng, (12,), (6, 2), name="embedding")
    x = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    ids, labels = _ids(rng, 32), rng.integers(0, 2, 32)
    before = [a.copy() for a, _ in layer.factors()]
    model.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
    assert all(
        not np.allclose(a, b) for (a, _), b in zip(layer.factors(), before, strict=True)
    )
    np.testing.assert_allclose(
        model.predict(ids, verbose=0),
        keras.ops.convert_to_numpy(model(ids, training=False)),
        atol=1e-6,
    )


def _convert(layer, tmp_path, mask_zero_ids, quantization=None):
    inputs = keras.Input((SEQ,), dtype="int32", name="token_ids")
    x = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path / "banded.tflite"
    convert_to_tflite(
        model,
        path,
        quantization=quantization,
        representative_data=mask_zero_ids,
        fold_projection=False,
    )
    return model, path


@pytest.mark.parametrize(("boundaries", "ranks"), CASES)
def test_converted_file_has_one_gather_per_band_and_no_select(
    boundaries, ranks, rng, tmp_path
):
    layer = _layer(rng, boundaries, ranks, name="embedding")
    ids = _ids(rng)
    model, path = _convert(layer, tmp_path, ids)
    content = path.read_bytes()
    info = inspect_model(content)
    assert not {"SELECT", "SELECT_V2", "LESS", "LOGICAL_AND"} & set(info.ops)
    assert _count(content, "GATHER") == len(ranks)
    # The reader's counts agree with the flatbuffer's object API, op by op.
    assert dict(info.op_counts) == {name: _count(content, name) for name in info.ops}
    assert info.num_operators == sum(count for _, count in info.op_counts)
    tables = sorted(t.shape for t in info.embedding_tables)
    assert tables == sorted(lookup_table_shapes(VOCAB, boundaries, ranks))
    assert info.vocabulary_size == VOCAB
    runner = _interpreter.Runner(_interpreter.make_interpreter(model_path=path))
    np.testing.assert_allclose(
        runner.predict(ids), model.predict(ids, verbose=0), atol=1e-5
    )
    clamps = sum(
        (s.lower is not None) + (s.upper is not None) + (s.shift != 0)
        for s in lookup_steps(VOCAB, boundaries, ranks)
    )
    assert _count(content, "MINIMUM", "MAXIMUM", "SUB", "ADD") == clamps
    assert num_lookup_ops(VOCAB, boundaries, ranks) == len(ranks) + clamps + (
        len(ranks) > 1
    )


def _count(content, *names):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    codes = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    kinds = [
        codes[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in model.operatorCodes
    ]
    return sum(
        kinds[op.opcodeIndex] in names
        for subgraph in model.subgraphs
        for op in subgraph.operators
    )


def test_gather_embedding_is_an_embedding_without_the_negative_id_wrap(rng, tmp_path):
    layer = GatherEmbedding(VOCAB, 4, mask_zero=True, name="embedding")
    reference = keras.layers.Embedding(VOCAB, 4, mask_zero=True)
    ids = _ids(rng)
    layer.build(ids.shape)
    reference.build(ids.shape)
    reference.embeddings.assign(keras.ops.convert_to_numpy(layer.embeddings))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(ids)),
        keras.ops.convert_to_numpy(reference(ids)),
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.compute_mask(ids)), ids != 0
    )
    restored = GatherEmbedding.from_config(layer.get_config())
    assert isinstance(restored, keras.layers.Embedding) and restored.mask_zero
    _, path = _convert(GatherEmbedding(VOCAB, 4, name="embedding"), tmp_path, ids)
    content = path.read_bytes()
    assert _count(content, "GATHER") == 1
    assert _count(content, "LESS", "SELECT", "SELECT_V2") == 0
    assert inspect_model(content).vocabulary_size == VOCAB
