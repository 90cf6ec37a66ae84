"""How each weight of a converted file is stored, and why: `ConversionResult.weights`.

Private helpers of `tflite_lowrank.export.converter`. `_int4_content` writes an
`"int4"` file from the float32 one (int8 matrix weights of 1024 values or more,
then 4-bit tables; each weight only when that makes it smaller, and never a file
larger than the float32 one). `_weight_decisions` reads every weight of the written file
(`litert.weights.weight_storage`) and says why it is stored the way it is.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from tflite_lowrank.litert.weights import WeightStorage, weight_storage

logger = logging.getLogger("tflite_lowrank.export.converter")

# Weights below this many elements stay float32 in "dynamic" (TFLite's rule) and the
# 4-bit table rewrite.
_MIN_ELEMENTS = 1024


def _int4_content(content: bytes) -> tuple[bytes, dict[str, str]]:
    """The `"int4"` file from the float32 one, and the int8 decision per weight."""
    from tflite_lowrank.export import int4 as _int4

    # As in "dynamic": a hybrid int8 kernel costs more time than it saves on a
    # weight of a few hundred values (a DAN's hidden layers).
    int8_content, decisions = _int4.int8_matrix_weights(
        content, min_elements=_MIN_ELEMENTS
    )
    quantized, _ = _int4.quantize_gather_tables_int4(
        int8_content, min_elements=_MIN_ELEMENTS
    )
    if len(quantized) >= len(content):
        logger.info("The int4 file is not smaller than the float32 one: kept float32.")
        kept = "kept float32: the int4 file was not smaller than the float32 one"
        return content, {weight.name: kept for weight in weight_storage(content)}
    return quantized, decisions


def _weight_decisions(
    content: bytes, mode: str, decisions: dict[str, str]
) -> tuple[WeightStorage, ...]:
    """Every weight of the file with the decision behind its storage."""
    return tuple(
        dataclasses.replace(
            weight,
            decision=decisions.get(weight.name) or _decision(weight, mode, decisions),
        )
        for weight in weight_storage(content)
    )


def _decision(weight: WeightStorage, mode: str, decisions: dict[str, str]) -> str:
    elements = int(np.prod(weight.shape))
    small = elements < _MIN_ELEMENTS
    if mode == "float32":
        return "float32: no quantization"
    if weight.dtype == "int4":
        return "int4, one scale per column, expanded by a DEQUANTIZE at load"
    if mode == "int4" and weight.op in ("GATHER",) and weight.dtype == "float32":
        if small:
            return f"kept float32: fewer than {_MIN_ELEMENTS} elements"
        return "kept float32: not a constant 2-D table"
    if weight.dtype == "float16":
        return "float16, expanded to float32 once at load"
    if weight.dtype in ("int8", "uint8"):
        return {
            "dynamic": "int8 (dynamic range)",
            "int8": "int8 (full integer)",
        }.get(mode, "int8, one scale per channel")
    if mode == "dynamic" and small:
        return (
            f"kept float32: fewer than {_MIN_ELEMENTS} elements (TFLite's dynamic "
            "range quantizes larger weights only)"
        )
    return f"kept {weight.dtype} by the TFLite converter"
