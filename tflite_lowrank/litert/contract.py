"""The I/O contract of a `.tflite` file (`docs/contracts.md`), checked on its
`ModelInfo`: `contract_problems` lists how a file breaks it and `builtin_problems`
the operators the stock LiteRT runtime cannot run without extra kernels."""

from __future__ import annotations

from tflite_lowrank.litert.flatbuffer import ModelInfo
from tflite_lowrank.litert.interpreter import INPUT_NAME, SIGNATURE_KEY


def contract_problems(info: ModelInfo, *, multi_input: bool = False) -> list[str]:
    """Lists how a model breaks the I/O contract of `docs/contracts.md`.

    With `multi_input=True`, a file with several inputs is accepted when each is
    int32 `[1, length]` (a model with several token inputs, which keeps their names);
    a file with one input must still name it `token_ids`. The Android app takes
    one input only, and checks with the default.
    """
    problems = []
    if info.signature_keys != (SIGNATURE_KEY,):
        problems.append(
            f"one signature {SIGNATURE_KEY!r} expected, "
            f"found {list(info.signature_keys)}"
        )
    if multi_input and len(info.inputs) > 1:
        for spec in info.inputs:
            if spec.dtype != "int32" or len(spec.shape) != 2 or spec.shape[0] != 1:
                problems.append(
                    f"input {spec.name!r} int32 [1, seq_len] expected, found "
                    f"{spec.dtype} {list(spec.shape)}"
                )
    elif len(info.inputs) != 1:
        problems.append(f"one input expected, found {len(info.inputs)}")
    else:
        spec = info.inputs[0]
        if spec.name != INPUT_NAME or spec.dtype != "int32":
            problems.append(
                f"input {INPUT_NAME!r} of type int32 expected, found {spec.name!r} "
                f"of type {spec.dtype}"
            )
        if len(spec.shape) != 2 or spec.shape[0] != 1 or spec.shape[1] < 1:
            problems.append(
                f"input shape [1, seq_len] expected, found {list(spec.shape)}"
            )
    if len(info.outputs) != 1:
        problems.append(f"one output expected, found {len(info.outputs)}")
    else:
        spec = info.outputs[0]
        if spec.dtype != "float32" or len(spec.shape) != 2 or spec.shape[0] != 1:
            problems.append(
                "output float32 [1, num_labels] expected, found "
                f"{spec.dtype} {list(spec.shape)}"
            )
    return problems


def builtin_problems(info: ModelInfo) -> list[str]:
    """Names the operators the stock LiteRT runtime cannot run without extra kernels."""
    return [
        op
        for op in info.ops
        if op.startswith(("CUSTOM", "BUILTIN_")) or op in ("DELEGATE", "PLACEHOLDER")
    ]
