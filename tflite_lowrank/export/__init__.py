"""Keras to `.tflite`: the converter, folding, 4-bit tables and the check against Keras.

`convert_to_tflite` turns a trained model (baseline or factorized) into a file for
the stock LiteRT runtime that follows the I/O contract of `docs/conversion.md`;
`fold_projection` folds a factorized embedding's projection into the layer that reads
it; `int4` writes 4-bit embedding tables and int8 matrix weights; `native_lookup`
writes tables that the builtin `EMBEDDING_LOOKUP` reads row by row; `keras_model` loads
and inspects the Keras model being converted. `ConversionResult.weights` holds one
`tflite_lowrank.litert.WeightStorage` per weight of the file.
"""

from tflite_lowrank.errors import OutputMismatchError
from tflite_lowrank.export.converter import (
    QUANTIZATION_MODES,
    ConversionResult,
    convert_to_tflite,
)
from tflite_lowrank.export.fold import FoldResult, fold_projection
from tflite_lowrank.export.int4 import (
    Int4Table,
    int8_fully_connected,
    int8_matrix_weights,
    quantize_gather_tables_int4,
    quantize_int4,
)
from tflite_lowrank.export.keras_model import (
    check_keras_file,
    load_keras_model,
    model_input_names,
    model_seq_len,
)
from tflite_lowrank.export.native_lookup import (
    NATIVE_LOOKUP_MODES,
    LookupTable,
    native_lookup_tables,
)

__all__ = [
    "QUANTIZATION_MODES",
    "ConversionResult",
    "OutputMismatchError",
    "convert_to_tflite",
    "FoldResult",
    "fold_projection",
    "Int4Table",
    "quantize_int4",
    "quantize_gather_tables_int4",
    "int8_fully_connected",
    "int8_matrix_weights",
    "NATIVE_LOOKUP_MODES",
    "LookupTable",
    "native_lookup_tables",
    "load_keras_model",
    "check_keras_file",
    "model_seq_len",
    "model_input_names",
]
