"""The I/O contract of a `.tflite` file (`docs/contracts.md`), checked on its
`ModelInfo`: `contract_problems` lists how a file breaks it, `builtin_problems`
the operators the stock LiteRT runtime cannot run without extra kernels, and
`select_output` picks the output a benchmark scores."""

from __future__ import annotations

from tflite_lowrank.litert.flatbuffer import ModelInfo, TensorInfo
from tflite_lowrank.litert.interpreter import INPUT_NAME, SIGNATURE_KEY


def contract_problems(
    info: ModelInfo, *, multi_input: bool = False, multi_output: bool = False
) -> list[str]:
    """Lists how a model breaks the I/O contract of `docs/contracts.md`.

    With `multi_input=True`, a file with several inputs is accepted when each is
    int32 `[1, length]` (a model with several token inputs, which keeps their names);
    a file with one input must still name it `token_ids`. With `multi_output=True`,
    a file may have several outputs (a model with several heads, kept by name), and
    each may be per token, float32 `[1, seq_len, num_tags]`. The default is the
    Android app's contract: one input and one classifier output float32
    `[1, num_labels]` with at least two labels.
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
    if multi_output:
        if not info.outputs:
            problems.append("at least one output expected, found none")
        for spec in info.outputs:
            if spec.dtype != "float32" or len(spec.shape) not in (2, 3):
                problems.append(
                    f"output {spec.name!r} float32 [1, num_labels] or [1, seq_len, "
                    f"num_tags] expected, found {spec.dtype} {list(spec.shape)}"
                )
            elif spec.shape[0] != 1 or min(spec.shape) < 1:
                problems.append(
                    f"output {spec.name!r} of batch 1 expected, found "
                    f"{list(spec.shape)}"
                )
        return problems
    if len(info.outputs) != 1:
        names = [spec.name for spec in info.outputs]
        problems.append(
            f"one output expected, found {len(info.outputs)} {names} (the Android "
            "app takes one classifier output [1, num_labels])"
        )
    else:
        spec = info.outputs[0]
        if spec.dtype != "float32" or len(spec.shape) != 2 or spec.shape[0] != 1:
            per_token = (
                " (a per-token output: the Android app classifies whole texts)"
                if len(spec.shape) == 3
                else ""
            )
            problems.append(
                "output float32 [1, num_labels] expected, found "
                f"{spec.dtype} {list(spec.shape)}{per_token}"
            )
        elif spec.shape[1] < 2:
            problems.append(
                "output float32 [1, num_labels] with num_labels >= 2 expected, found "
                f"{list(spec.shape)} (a 1-wide sigmoid kept with keep_logits=True: "
                "convert without it to write two-class probabilities [1 - p, p])"
            )
    return problems


def select_output(
    info: ModelInfo, output: str | None, *, name: str = "output", received: str = ""
) -> TensorInfo:
    """The output of `info` named `output` (None: the file's only output).

    Raises:
        TypeError: if `output` is not a string or None.
        ValueError: if no output has that name, or `output` is None and the file
            has several (the message lists their names).
    """
    names = [spec.name for spec in info.outputs]
    suffix = f", {received}" if received else ""
    if output is not None and not isinstance(output, str):
        raise TypeError(
            f"`{name}` must be the name of one of the file's outputs {names}, or "
            f"None. Received: {name}={output!r} (of type {type(output).__name__})"
        )
    if output is None:
        if len(info.outputs) == 1:
            return info.outputs[0]
        raise ValueError(
            f"The file has several outputs, {names}: pass `{name}` to name the one "
            f"to score. Received: {name}=None{suffix}"
        )
    for spec in info.outputs:
        if spec.name == output:
            return spec
    raise ValueError(
        f"`{name}` must name one of the file's outputs {names}. "
        f"Received: {name}={output!r}{suffix}"
    )


def builtin_problems(info: ModelInfo) -> list[str]:
    """Names the operators the stock LiteRT runtime cannot run without extra kernels."""
    return [
        op
        for op in info.ops
        if op.startswith(("CUSTOM", "BUILTIN_")) or op in ("DELEGATE", "PLACEHOLDER")
    ]
