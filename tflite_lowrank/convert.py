"""Public import path `tflite_lowrank.convert`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.export.converter`.
"""

from tflite_lowrank.export.converter import (  # noqa: F401
    QUANTIZATION_MODES,
    ConversionResult,
    LowRankEmbedding,
    OutputMismatchError,
    TensorInfo,
    check_bool,
    convert_to_tflite,
    load_keras_model,
    model_seq_len,
)

__all__ = [
    "check_bool",
    "load_keras_model",
    "model_seq_len",
    "QUANTIZATION_MODES",
    "TensorInfo",
    "OutputMismatchError",
    "LowRankEmbedding",
    "ConversionResult",
    "convert_to_tflite",
]
