"""Codes trained for a per-row grid, written as the values they trained with.

A `LowRankEmbedding` or `BandedLowRankEmbedding` with `code_quantization`
(quantization-aware training, `EmbeddingFactorization(quantization_aware=...)`)
rounds its codes in its graph to the grid a file of that mode stores them on. A
converted file should not carry that rounding as operators: while the converter
traces the model, `baked_codes` assigns every code table its rounded values
(`factorization.quantization.dequantize_codes`) and turns the layer's rounding off,
then puts both back. The float32 file then computes what the Keras model does, and
a file of the mode the codes trained for (`native_lookup` per row, `int4` per
column), which rounds the tables to the same grid, reads exactly those values.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np

from tflite_lowrank._keras.graph import flatten_layers
from tflite_lowrank.factorization.quantization import dequantize_codes
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding

logger = logging.getLogger("tflite_lowrank.export.converter")


def quantization_aware_layers(model) -> list:
    """The factorized layers of `model` that train their codes on a per-row grid."""
    return [
        layer
        for layer in flatten_layers(model)
        if isinstance(layer, LowRankEmbedding | BandedLowRankEmbedding)
        and getattr(layer, "code_quantization", None)
    ]


@contextlib.contextmanager
def baked_codes(model, mode: str | None):
    """Within the block, each quantization-aware layer of `model` holds its rounded
    codes and does not round; on exit (also on an error) both are restored."""
    layers = quantization_aware_layers(model)
    for layer in layers:
        if mode not in (None, "float32", layer.code_quantization):
            logger.warning(
                "Layer '%s' trained its codes for %r files; quantization=%r stores "
                "them on another grid, so the file may score below the Keras model.",
                layer.name,
                layer.code_quantization,
                mode,
            )
    saved = []
    try:
        for layer in layers:
            tables = _code_tables(layer)
            mode_of_layer = layer.code_quantization
            saved.append((layer, mode_of_layer, [np.asarray(t) for t in tables]))
            for table, values in zip(tables, saved[-1][2], strict=True):
                table.assign(dequantize_codes(values, mode_of_layer))
            layer.code_quantization = None
        yield layers
    finally:
        for layer, mode_of_layer, values in saved:
            for table, original in zip(_code_tables(layer), values, strict=True):
                table.assign(original)
            layer.code_quantization = mode_of_layer


def _code_tables(layer) -> list:
    if isinstance(layer, BandedLowRankEmbedding):
        return list(layer.embeddings_a)
    return [layer.embeddings_a]
