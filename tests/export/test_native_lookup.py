"""Native lookups of quantized tables (issue 31): `"int8_rows"` and `"int4_rows"` write
each embedding (or factor) table as an `EMBEDDING_LOOKUP` input with one scale per row,
so LiteRT dequantizes only the rows it looks up. Each mode writes the operators and
tensor types it claims (read back with the flatbuffer reader), and the file equals
Keras within half the per-row quantization step."""

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.export import convert_to_tflite
from tflite_lowrank.export.native_lookup import (
    NATIVE_LOOKUP_MODES,
    native_lookup_tables,
)
from tflite_lowrank.factorization import banded_svd
from tflite_lowrank.factorization.quantization import quantize_rows
from tflite_lowrank.layers.lookup import lookup_table_shapes
from tflite_lowrank.litert import inspect_model
from tflite_lowrank.litert import interpreter as _interpreter
from tflite_lowrank.litert.weights import weight_storage

VOCAB, DIM, SEQ = 400, 6, 8
LEVELS = {"int8_rows": 127, "int4_rows": 7}
DTYPES = {"int8_rows": "int8", "int4_rows": "int4"}


def _ids(rng, rows=10, vocab=VOCAB):
    ids = rng.integers(0, vocab, (rows, SEQ)).astype("int32")
    ids[0] = [0, 1, 2, 3, 19, 20, 21, vocab - 1]
    return ids


def _per_token_model(layer):
    """Token ids in, the embedding out (a per-token output kept as is)."""
    inputs = keras.Input((SEQ,), dtype="int32", name="token_ids")
    return keras.Model(inputs, layer(inputs))


def _run(path, ids):
    runner = _interpreter.Runner(_interpreter.make_interpreter(model_path=path))
    return runner.predict(ids)


def _ops(content):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    kinds = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [kinds[codes[op.opcodeIndex]] for g in model.subgraphs for op in g.operators]


def _step(rows, mode):
    """Per-row quantization step, `max|row| / 127` or `/ 7`."""
    return np.abs(rows).max(axis=-1, keepdims=True) / LEVELS[mode]


@pytest.mark.parametrize("mode", NATIVE_LOOKUP_MODES)
def test_a_full_table_is_looked_up_natively_within_half_a_row_step(mode, rng, tmp_path):
    layer = keras.layers.Embedding(VOCAB, DIM, name="embedding")
    model = _per_token_model(layer)
    ids = _ids(rng)
    path = tmp_path / "m.tflite"
    result = convert_to_tflite(
        model, path, quantization=mode, representative_data=ids, keep_logits=True
    )
    content = path.read_bytes()
    ops = _ops(content)
    assert "EMBEDDING_LOOKUP" in ops and "GATHER" not in ops
    assert "DEQUANTIZE" not in ops
    info = inspect_model(content)
    (table,) = info.embedding_tables
    assert (table.shape, table.dtype) == ((VOCAB, DIM), DTYPES[mode])
    assert info.vocabulary_size == VOCAB
    (weight,) = [w for w in result.weights if w.op == "EMBEDDING_LOOKUP"]
    assert weight.dtype == DTYPES[mode] and "EMBEDDING_LOOKUP" in weight.decision
    expected = model.predict(ids, verbose=0)
    step = _step(keras.ops.convert_to_numpy(layer.embeddings)[ids], mode)
    error = np.abs(_run(path, ids) - expected)
    assert np.all(error <= 0.5 * step * (1 + 1e-3) + 1e-7)
    assert np.any(error > 0)  # really quantized


@pytest.mark.parametrize("mode", NATIVE_LOOKUP_MODES)
@pytest.mark.parametrize(
    ("boundaries", "ranks"),
    [((20,), (6, 5)), ((5, 20), (5, 6, 3))],
    ids=["head-and-tail", "three-bands"],
)
def test_band_codes_are_looked_up_natively(boundaries, ranks, mode, rng, tmp_path):
    layer = tl.BandedLowRankEmbedding(
        VOCAB, 16, boundaries, ranks, projection=False, name="embedding"
    )
    table = rng.standard_normal((VOCAB, 16)).astype("float32")
    layer.set_factors([(a, None) for a, _ in banded_svd(table, boundaries, ranks)])
    model = _per_token_model(layer)
    ids = _ids(rng)
    path = tmp_path / "m.tflite"
    result = convert_to_tflite(
        model, path, quantization=mode, representative_data=ids, keep_logits=True
    )
    # Every band table counts as the embedding, a padded 4-bit one too.
    assert len(result.embedding_tensors) == len(ranks)
    content = path.read_bytes()
    ops = _ops(content)
    stored = [w for w in weight_storage(content) if w.op == "EMBEDDING_LOOKUP"]
    gathers = [w for w in weight_storage(content) if w.op == "GATHER"]
    # Tables of 1024 values or more whose codes and row scales take fewer bytes than
    # float32 (int8: more than 4 values a row) are native lookups; the others stay
    # float32 GATHERs.
    native = [
        k
        for rows, k in lookup_table_shapes(VOCAB, boundaries, ranks)
        if rows * k >= 1024 and (mode == "int4_rows" or k > 4)
    ]
    assert len(stored) == len(native) == ops.count("EMBEDDING_LOOKUP")
    assert all(w.dtype == DTYPES[mode] for w in stored)
    assert all(w.dtype == "float32" for w in gathers)
    assert len(stored) + len(gathers) == len(ranks)
    odd = sum(k % 2 for k in native)
    if mode == "int4_rows":
        assert ops.count("SLICE") == odd
        assert all(w.shape[1] % 2 == 0 for w in stored)
    assert inspect_model(content).vocabulary_size == VOCAB
    expected = model.predict(ids, verbose=0)
    codes = layer.reconstructed_table()[ids]
    error = np.abs(_run(path, ids) - expected)
    # Each band's block is within half its row's step; other blocks are exact zeros.
    offset = 0
    for rank in ranks:
        block = slice(offset, offset + rank)
        step = _step(codes[..., block], mode)
        assert np.all(error[..., block] <= 0.5 * step * (1 + 1e-3) + 1e-7)
        offset += rank
    np.testing.assert_array_equal(_run(path, ids)[expected == 0], 0.0)


def test_a_thin_int8_table_stays_float32_because_scales_cost_12_bytes_a_row():
    import tensorflow as tf

    model = _per_token_model(keras.layers.Embedding(VOCAB, 4))
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    _, tables = native_lookup_tables(content, bits=8)
    assert tables == ()  # 4 int8 values + 12 bytes of scale = 16 float32 bytes
    _, tables = native_lookup_tables(content, bits=4)
    (table,) = tables
    assert (table.num_bytes, table.scale_bytes) == (VOCAB * 2, VOCAB * 2)
    assert table.max_abs_error <= 0.5 * table.max_step * (1 + 1e-3)


def test_quantize_rows_is_symmetric_per_row_and_keeps_zero_rows():
    values = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [3.0, 0.0, -3.0]])
    for bits, top in ((8, 127), (4, 7)):
        levels, scales = quantize_rows(values, bits)
        assert levels.dtype == np.int8 and np.abs(levels).max() == top
        assert scales[1] == 1.0 and not levels[1].any()
        error = np.abs(levels * scales.astype(np.float64)[:, None] - values)
        assert np.all(error <= 0.5 * scales.astype(np.float64)[:, None] + 1e-12)


@pytest.mark.parametrize("mode", NATIVE_LOOKUP_MODES)
def test_a_folded_dan_converts_natively_and_agrees_with_keras(mode, rng, tmp_path):
    model = tl.build_dan(VOCAB, 3, seq_len=SEQ, embedding_dim=DIM)
    ids = _ids(rng)
    path = tmp_path / "dan.tflite"
    result = convert_to_tflite(model, path, quantization=mode, representative_data=ids)
    assert result.quantization == mode
    assert "EMBEDDING_LOOKUP" in result.ops and "GATHER" not in result.ops
    # Matrix weights below 1024 values stay float32, as in "dynamic".
    dense = [w for w in result.weights if w.op == "FULLY_CONNECTED"]
    assert dense and all(w.dtype == "float32" for w in dense)
    assert any("fewer than 1024" in w.decision for w in dense)
    np.testing.assert_allclose(
        _run(path, ids), model.predict(ids, verbose=0), atol=0.05
    )
