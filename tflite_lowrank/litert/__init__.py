"""Reading and running `.tflite` files: NumPy and LiteRT only, never TensorFlow.

`flatbuffer` reads a file's tensors, operators and signature without running it,
`contract` checks them against the I/O contract and the builtins-only rule;
`weights` lists how each weight is stored; `interpreter` runs a file in LiteRT;
`rows` checks the token-id rows given to it and `scoring` the labels its outputs are
scored against; `worker` is the measuring child process of `tflite_lowrank.benchmark`.
"""

from tflite_lowrank.litert.contract import (
    builtin_problems,
    contract_problems,
    select_output,
)
from tflite_lowrank.litert.flatbuffer import (
    ModelInfo,
    TensorInfo,
    check_flatbuffer,
    inspect_model,
    read_and_inspect,
    read_tflite,
)
from tflite_lowrank.litert.interpreter import (
    INPUT_NAME,
    SIGNATURE_KEY,
    Runner,
    make_interpreter,
    predict_classes,
    split_rows,
)
from tflite_lowrank.litert.rows import (
    check_input_keys,
    check_input_rows,
    check_token_ids,
)
from tflite_lowrank.litert.weights import WeightStorage, storage_kind, weight_storage

__all__ = [
    "SIGNATURE_KEY",
    "INPUT_NAME",
    "ModelInfo",
    "TensorInfo",
    "Runner",
    "make_interpreter",
    "split_rows",
    "predict_classes",
    "read_tflite",
    "read_and_inspect",
    "inspect_model",
    "check_flatbuffer",
    "contract_problems",
    "builtin_problems",
    "select_output",
    "WeightStorage",
    "weight_storage",
    "storage_kind",
    "check_input_rows",
    "check_token_ids",
    "check_input_keys",
]
