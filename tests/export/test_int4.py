"""Tests for `tflite_lowrank.export.int4`: 4-bit gather tables that run in stock
LiteRT."""

import keras
import numpy as np
import pytest

from tflite_lowrank.export import int4 as _int4
from tflite_lowrank.export.fold import fold_projection
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert import interpreter as _interpreter
from tflite_lowrank.models.paper import _MaskedMean

VOCAB, DIM, RANK, SEQ = 400, 16, 4, 6
# Probabilities of the int4 file against the float32 file of the same model (the
# table's entries move by at most one 4-bit step).
INT4_ATOL = 3e-2


def _unpack(packed: bytes, size: int) -> np.ndarray:
    data = np.frombuffer(packed, dtype=np.uint8)
    nibbles = np.stack([data & 0x0F, data >> 4], axis=1).reshape(-1)[:size]
    return np.where(nibbles > 7, nibbles.astype(np.int16) - 16, nibbles).astype(np.int8)


def test_quantize_packs_low_nibble_first_with_column_scales(rng):
    values = rng.standard_normal((5, 3)).astype("float32")
    packed, scales, error = _int4._quantize(values, axis=1)
    levels = _unpack(packed, values.size).reshape(values.shape)
    assert len(packed) == 8  # 15 nibbles, padded to 16.
    # Scales clip at most to 30% of each column's largest value.
    peak = np.abs(values).max(axis=0)
    assert np.all(scales <= peak / 7 + 1e-7) and np.all(scales >= 0.3 * peak / 7 - 1e-7)
    assert np.abs(levels).max() <= 7
    reconstructed = levels * scales
    assert error == pytest.approx(np.abs(reconstructed - values).max(), rel=1e-5)
    # Never worse (in squared error) than the plain max-scaled quantization.
    plain = np.clip(np.rint(values / (peak / 7)), -7, 7) * (peak / 7)
    assert np.sum((reconstructed - values) ** 2) <= np.sum((plain - values) ** 2) + 1e-9


def _model(kind):
    token_ids = keras.Input(shape=(SEQ,), dtype="int32", name="token_ids")
    x = LowRankEmbedding(
        VOCAB,
        DIM,
        RANK,
        mask_zero=True,
        embeddings_a_initializer=keras.initializers.RandomNormal(stddev=0.3),
        name="embedding",
    )(token_ids)
    if kind == "lstm":
        x = keras.layers.LSTM(8, return_sequences=True)(x)
        x = _MaskedMean()(x)
    else:
        x = _MaskedMean()(x)
        x = keras.layers.Dense(8, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(token_ids, outputs)


# The LSTM goes through the same rewrite in the `convert_to_tflite` test below.
@pytest.mark.parametrize("kind", ["dan"])
def test_quantize_gather_tables_int4_runs_in_litert_and_agrees(kind, rng, tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite

    model = fold_projection(_model(kind))
    ids = rng.integers(0, VOCAB, size=(32, SEQ)).astype("int32")
    path = tmp_path / "float.tflite"
    convert_to_tflite(model, path, representative_data=ids)
    content = path.read_bytes()

    quantized, tables = _int4.quantize_gather_tables_int4(content)

    assert [table.shape for table in tables] == [(VOCAB, RANK)]
    info = _flatbuffer.inspect_model(quantized)
    assert [(t.shape, t.dtype) for t in info.embedding_tables] == [
        ((VOCAB, RANK), "int4")
    ]
    assert info.embedding_tables[0].num_bytes == VOCAB * RANK // 2
    # Saved: the float32 table minus the packed one, less a little metadata.
    assert len(content) - len(quantized) >= VOCAB * RANK * 4 - VOCAB * RANK // 2 - 512
    assert not _contract.builtin_problems(info)
    assert not _contract.contract_problems(info)
    expected = _interpreter.Runner(
        _interpreter.make_interpreter(model_content=content)
    ).predict(ids)
    actual = _interpreter.Runner(
        _interpreter.make_interpreter(model_content=quantized)
    ).predict(ids)
    np.testing.assert_allclose(actual, expected, atol=INT4_ATOL, rtol=0)


def test_quantize_gather_tables_int4_leaves_small_tables(rng, tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite

    model = fold_projection(_model("dan"))
    path = tmp_path / "float.tflite"
    convert_to_tflite(model, path)
    content = path.read_bytes()
    unchanged, tables = _int4.quantize_gather_tables_int4(
        content, min_elements=VOCAB * RANK + 1
    )
    assert unchanged is content and tables == ()


def test_quantize_per_row_scales(rng):
    values = rng.standard_normal((4, 6)).astype("float32") * np.arange(1, 5)[:, None]
    packed, scales, _ = _int4._quantize(values, axis=0)
    levels = _unpack(packed, values.size).reshape(values.shape)
    peak = np.abs(values).max(axis=1)
    assert np.all(scales <= peak / 7 + 1e-6) and np.all(scales >= 0.3 * peak / 7 - 1e-6)
    assert np.abs(levels * scales[:, None] - values).max() <= peak.max() * 0.7 + 1e-6


@pytest.mark.parametrize("kind", ["dan", "lstm"])
def test_convert_to_tflite_int4_stores_4bit_factor_and_agrees(kind, rng, tmp_path):
    from tflite_lowrank.export.converter import convert_to_tflite

    model = _model(kind)
    ids = rng.integers(0, VOCAB, size=(32, SEQ)).astype("int32")
    float_result = convert_to_tflite(
        model, tmp_path / "f.tflite", representative_data=ids
    )
    result = convert_to_tflite(
        model, tmp_path / "q.tflite", quantization="int4", representative_data=ids
    )
    assert result.quantization == "int4"
    assert result.folded_into  # The factor b is folded, a is stored in 4 bits.
    assert [(t.shape, t.dtype) for t in result.embedding_tensors] == [
        ((VOCAB, RANK), "int4")
    ]
    assert result.embedding_bytes == VOCAB * RANK // 2
    assert result.size_bytes < float_result.size_bytes
    expected = _interpreter.Runner(
        _interpreter.make_interpreter(model_path=float_result.path)
    ).predict(ids)
    actual = _interpreter.Runner(
        _interpreter.make_interpreter(model_path=result.path)
    ).predict(ids)
    np.testing.assert_allclose(actual, expected, atol=INT4_ATOL, rtol=0)
