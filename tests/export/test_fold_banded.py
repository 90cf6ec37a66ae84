"""Folding and converting a `BandedLowRankEmbedding` (frequency-banded factors)."""

import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.export import fold_projection
from tflite_lowrank.layers.lookup import lookup_table_shapes

VOCAB, DIM, SEQ = 300, 16, 6


def _split_model(kind, rng):
    x = rng.integers(0, VOCAB, (128, SEQ)).astype("int32")
    y = (x[:, 0] % 2).astype("int32")
    builder = tl.build_dan if kind == "dan" else tl.build_lstm
    model = builder(VOCAB, 2, seq_len=SEQ, embedding_dim=DIM)
    model.compile("adam", "sparse_categorical_crossentropy")
    split = tl.EmbeddingFactorization(
        "embedding", compression=0.8, at_epoch=1, bands=3, verbose=0
    )
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[split], verbose=0)
    return model, x


@pytest.mark.parametrize("kind", ["dan", "lstm"])
def test_fold_banded_projection_keeps_the_function(kind, rng):
    model, x = _split_model(kind, rng)
    folded, (result,) = fold_projection(model, return_results=True)
    assert result.folded
    codes = folded.get_layer("embedding")
    assert isinstance(codes, tl.BandedLowRankEmbedding) and not codes.projection
    assert codes.compute_output_shape((1, SEQ))[-1] == sum(codes.ranks)
    np.testing.assert_allclose(
        folded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("mode", ["float32", "dynamic", "int4"])
def test_banded_model_converts_folded_with_builtin_ops(mode, rng, tmp_path):
    model, _ = _split_model("dan", rng)
    result = tl.convert_to_tflite(model, tmp_path / "m.tflite", quantization=mode)
    assert result.folded_into == ("hidden_1",)
    assert not any(op.startswith("FLEX") for op in result.ops)
    assert result.max_output_difference < (1e-4 if mode == "float32" else 1e-2)
    # The embedding is the bands' gathered tables (their projections are folded),
    # each with the zero rows its clamped lookup reads for ids of other bands.
    codes = model.get_layer("embedding")
    table_shapes = sorted(
        lookup_table_shapes(codes.input_dim, codes.boundaries, codes.ranks)
    )
    assert sorted(spec.shape for spec in result.embedding_tensors) == table_shapes
    if mode == "float32":
        assert result.embedding_bytes == 4 * sum(rows * k for rows, k in table_shapes)
