"""Reading and running `.tflite` files: NumPy and LiteRT only, never TensorFlow.

`flatbuffer` reads a file's tensors, operators and signature without running it,
`contract` checks them against the I/O contract and the builtins-only rule;
`interpreter` runs a file in LiteRT; `rows` checks the token-id rows given to it;
`worker` is the measuring child process of `tflite_lowrank.benchmark`.
"""

from tflite_lowrank.litert.contract import builtin_problems, contract_problems
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
    split_rows,
)
from tflite_lowrank.litert.rows import (
    check_input_keys,
    check_input_rows,
    check_token_ids,
)

__all__ = [
    "SIGNATURE_KEY",
    "INPUT_NAME",
    "ModelInfo",
    "TensorInfo",
    "Runner",
    "make_interpreter",
    "split_rows",
    "read_tflite",
    "read_and_inspect",
    "inspect_model",
    "check_flatbuffer",
    "contract_problems",
    "builtin_problems",
    "check_input_rows",
    "check_token_ids",
    "check_input_keys",
]
