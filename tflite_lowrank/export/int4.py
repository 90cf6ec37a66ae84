"""4-bit storage for the gathered embedding tables of a `.tflite` flatbuffer.

`ai-edge-quantizer` (0.10) quantizes `FULLY_CONNECTED` and `EMBEDDING_LOOKUP` weights to
4 bits but not the params of a `GATHER`, which is what Keras' `ops.take` (and so every
`Embedding` and `LowRankEmbedding`) converts to. This module stores such a table as a
packed `INT4` constant with one float32 scale per column (symmetric, `[-7, 7]`) and puts
a builtin `DEQUANTIZE` in front of the `GATHER`: the stock LiteRT runtime expands the
table once, at the first invocation, and the `GATHER` runs in float32 as before. Each
channel's scale clips at the MSE-best of 16 ratios of its largest value.

Per-column scales suit the factors: `embeddings_a = U_k` has unit-norm columns, and
a `(V, k)` table needs only `k` scales (per-row scales would cost 4 bytes per word).

The other matrix weights (`Dense`, `Conv1D`, ...) become int8 per channel through
`ai-edge-quantizer` (`int8_matrix_weights`), each only when that makes it smaller.

Imports NumPy, `flatbuffers`, `ai_edge_litert` and (for the int8 weights)
`ai_edge_quantizer` only.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np

logger = logging.getLogger(__name__)

_INT4_MAX = 7


@dataclasses.dataclass(frozen=True)
class Int4Table:
    """One table rewritten by `quantize_gather_tables_int4`."""

    name: str
    shape: tuple[int, ...]
    num_bytes: int
    max_abs_error: float


def quantize_gather_tables_int4(
    content: bytes, *, min_elements: int = 1024, axis: int = 1
) -> tuple[bytes, tuple[Int4Table, ...]]:
    """Stores every constant float32 2-D `GATHER` table as packed int4.

    Args:
        content: Bytes of a `.tflite` flatbuffer whose tables are float32.
        min_elements: Integer. Smaller tables stay float32. Defaults to `1024`.
        axis: Integer. `1`: one scale per column (for thin factor tables, V x k);
            `0`: one scale per row (4 bytes per word; better for a full V x D table
            whose rows differ in scale). Defaults to `1`.

    Returns:
        The new flatbuffer and one `Int4Table` per rewritten table.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    _inline_buffers(model, content)
    builtin = schema.BuiltinOperator
    codes = [
        max(code.builtinCode, code.deprecatedBuiltinCode)
        for code in model.operatorCodes
    ]
    dequantize_index = None
    rewritten = []
    for subgraph in model.subgraphs:
        new_ops = []
        for op in subgraph.operators:
            if codes[op.opcodeIndex] != builtin.GATHER:
                continue
            tensor_index = int(op.inputs[0])
            tensor = subgraph.tensors[tensor_index]
            buffer = model.buffers[tensor.buffer]
            if (
                tensor.type != schema.TensorType.FLOAT32
                or buffer.data is None
                or len(tensor.shape) != 2
                or int(np.prod(tensor.shape)) < min_elements
            ):
                continue
            values = np.frombuffer(
                np.asarray(buffer.data, dtype=np.uint8).tobytes(), dtype="<f4"
            ).reshape(tuple(tensor.shape))
            packed, scales, error = _quantize(values, axis)
            if dequantize_index is None:
                dequantize_index = _opcode_index(model, codes, builtin.DEQUANTIZE)
            model.buffers.append(_buffer(schema, packed))
            quantized = schema.TensorT()
            quantized.shape = list(tensor.shape)
            quantized.type = schema.TensorType.INT4
            quantized.buffer = len(model.buffers) - 1
            name = (
                tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
            )
            quantized.name = f"{name}_int4"
            parameters = schema.QuantizationParametersT()
            parameters.scale = scales.astype(np.float32).tolist()
            parameters.zeroPoint = [0] * len(scales)
            parameters.quantizedDimension = axis
            quantized.quantization = parameters
            subgraph.tensors.append(quantized)
            # The float table becomes the output of a DEQUANTIZE: no data of its own.
            old_buffer = tensor.buffer
            tensor.buffer = _empty_buffer(schema, model)
            if not _buffer_used(model, old_buffer):
                model.buffers[old_buffer].data = None
            dequantize = schema.OperatorT()
            dequantize.opcodeIndex = dequantize_index
            dequantize.inputs = [len(subgraph.tensors) - 1]
            dequantize.outputs = [tensor_index]
            new_ops.append(dequantize)
            rewritten.append(
                Int4Table(name, tuple(int(n) for n in tensor.shape), len(packed), error)
            )
        subgraph.operators = new_ops + list(subgraph.operators)
    if not rewritten:
        return content, ()
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    logger.info("Stored %d gather table(s) as int4: %s", len(rewritten), rewritten)
    return bytes(builder.Output()), tuple(rewritten)


def _inline_buffers(model, content: bytes) -> None:
    """Moves buffers stored after the flatbuffer (`offset`/`size`) into it."""
    for buffer in model.buffers:
        offset = getattr(buffer, "offset", 0) or 0
        size = getattr(buffer, "size", 0) or 0
        if buffer.data is None and offset > 1 and size > 0:
            buffer.data = np.frombuffer(content[offset : offset + size], dtype=np.uint8)
            buffer.offset = 0
            buffer.size = 0


def _quantize(values: np.ndarray, axis: int = 1) -> tuple[bytes, np.ndarray, float]:
    """Symmetric int4 per column (`axis=1`) or row (`axis=0`).

    Each channel's scale is the one, among `max|x| * r / 7` for 16 clipping ratios `r`
    in [0.3, 1], with the smallest squared error: with 15 levels, clipping a few
    outliers (the columns of `U_k` are mostly tiny entries) beats resolving them.

    Returns:
        Packed bytes (low nibble first), the scales and the largest absolute error.
    """
    channels = values if axis == 0 else values.T
    peak = np.abs(channels).max(axis=1).astype(np.float64)
    peak[peak == 0] = 1.0
    best_scales = peak / _INT4_MAX
    best_errors = np.full(len(peak), np.inf)
    for ratio in np.linspace(0.3, 1.0, 16):
        scales = peak * ratio / _INT4_MAX
        levels = np.clip(np.rint(channels / scales[:, None]), -_INT4_MAX, _INT4_MAX)
        errors = np.sum((levels * scales[:, None] - channels) ** 2, axis=1)
        better = errors < best_errors
        best_errors[better] = errors[better]
        best_scales[better] = scales[better]
    scales = best_scales.astype(np.float32)
    shaped = scales[None, :] if axis == 1 else scales[:, None]
    levels = np.clip(np.rint(values / shaped), -_INT4_MAX, _INT4_MAX).astype(np.int8)
    error = float(np.max(np.abs(levels * shaped - values)))
    flat = levels.reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.int8)])
    nibbles = flat.astype(np.uint8) & 0x0F
    packed = (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)
    return packed.tobytes(), scales, error


def _buffer(schema, data: bytes):
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    return buffer


def _buffer_used(model, buffer_index: int) -> bool:
    return any(
        tensor.buffer == buffer_index
        for subgraph in model.subgraphs
        for tensor in subgraph.tensors
    )


def _empty_buffer(schema, model) -> int:
    model.buffers.append(schema.BufferT())
    return len(model.buffers) - 1


def _opcode_index(model, codes: list[int], builtin_code: int) -> int:
    from ai_edge_litert import schema_py_generated as schema

    if builtin_code in codes:
        return codes.index(builtin_code)
    code = schema.OperatorCodeT()
    code.builtinCode = builtin_code
    code.deprecatedBuiltinCode = min(builtin_code, 127)
    code.version = 6  # DEQUANTIZE with int4 inputs.
    model.operatorCodes.append(code)
    codes.append(builtin_code)
    return len(codes) - 1


# Operators whose constant weight `int8_matrix_weights` stores as int8: their
# ai-edge-quantizer name, and the axis of its per-channel scales (to count their
# bytes; at most one scale per last-axis entry for a tensor-wise `BATCH_MATMUL`).
_INT8_OPS = {
    "FULLY_CONNECTED": ("FULLY_CONNECTED", 0),
    "CONV_2D": ("CONV_2D", 0),
    "DEPTHWISE_CONV_2D": ("DEPTHWISE_CONV_2D", 3),
    "TRANSPOSE_CONV": ("CONV_2D_TRANSPOSE", 0),
    "BATCH_MATMUL": ("BATCH_MATMUL", -1),
    "EMBEDDING_LOOKUP": ("EMBEDDING_LOOKUP", 0),
}
# Bytes of one channel's quantization parameters: a float32 scale, an int64 zero point.
_CHANNEL_PARAMETER_BYTES = 12


def int8_matrix_weights(
    content: bytes, *, min_elements: int = 0
) -> tuple[bytes, dict[str, str]]:
    """Dynamic-range int8 (per-channel) weights for every matrix operator.

    `FULLY_CONNECTED`, `CONV_2D` (a Keras `Conv1D`), `DEPTHWISE_CONV_2D`,
    `TRANSPOSE_CONV`, `BATCH_MATMUL` with a constant operand and `EMBEDDING_LOOKUP`,
    through `ai-edge-quantizer` when it is installed (the `GATHER` tables are left
    alone, so `quantize_gather_tables_int4` can take them afterwards). Each weight
    is decided on its own: it is stored as int8 only when its int8 bytes plus its
    per-channel scales are fewer than its float32 bytes (and, with `min_elements`,
    it holds at least that many values: TFLite's dynamic range uses 1024, since a
    hybrid int8 kernel costs more time than it saves on a tiny weight), and the
    whole pass is dropped if the file does not shrink.

    Returns:
        The new flatbuffer and, for each weight tensor name, the decision taken.
    """
    from ai_edge_litert import schema_py_generated as schema

    flat = schema.ModelT.InitFromPackedBuf(content, 0)
    _inline_buffers(flat, content)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k[0] != "_"}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in flat.operatorCodes]
    decisions, excluded = {}, []
    for subgraph in flat.subgraphs:
        for op in subgraph.operators:
            op_name = names.get(codes[op.opcodeIndex], "")
            if op_name not in _INT8_OPS or op.inputs is None or len(op.inputs) < 2:
                continue
            tensor = subgraph.tensors[int(op.inputs[1])]
            data = flat.buffers[tensor.buffer].data
            if data is None or tensor.type != schema.TensorType.FLOAT32:
                continue
            shape = tuple(int(n) for n in tensor.shape)
            elements = int(np.prod(shape))
            channels = shape[_INT8_OPS[op_name][1]] if shape else 1
            int8_bytes = elements + _CHANNEL_PARAMETER_BYTES * channels
            if int8_bytes < 4 * elements and elements >= min_elements:
                decisions[_name(tensor)] = (
                    f"int8, one scale per channel ({int8_bytes:,} < {4 * elements:,}"
                    " float32 bytes)"
                )
                continue
            decisions[_name(tensor)] = (
                f"kept float32: fewer than {min_elements} elements"
                if elements < min_elements
                else f"kept float32: int8 with its {channels} channel scales would "
                f"take {int8_bytes:,} bytes, not fewer than {4 * elements:,}"
            )
            outputs = [_name(subgraph.tensors[int(i)]) for i in op.outputs if i >= 0]
            scope = "^" + re.escape(";".join(outputs) + ";") + "$"
            excluded.append((_INT8_OPS[op_name][0], scope))
    if not any(text.startswith("int8") for text in decisions.values()):
        return content, decisions
    try:
        from ai_edge_quantizer import qtyping, quantizer
    except ImportError:
        logger.info("ai-edge-quantizer is not installed: weights stay float32.")
        missing = "kept float32: ai-edge-quantizer (the `int4` extra) is not installed"
        return content, {name: missing for name in decisions}
    import contextlib
    import io
    import os
    import tempfile

    weights = qtyping.TensorQuantizationConfig(
        num_bits=8, symmetric=True, granularity=qtyping.QuantGranularity.CHANNELWISE
    )
    config = qtyping.OpQuantizationConfig(
        weight_tensor_config=weights,
        compute_precision=qtyping.ComputePrecision.INTEGER,
        explicit_dequantize=False,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "float.tflite")
        with open(path, "wb") as file:
            file.write(content)
        recipe = quantizer.Quantizer(path)
        for op_name, _ in _INT8_OPS.values():
            recipe.update_quantization_recipe(
                regex=".*",
                operation_name=op_name,
                op_config=config,
                algorithm_key="min_max_uniform_quantize",
            )
        for op_name, regex in excluded:  # Later entries win: these stay float32.
            recipe.update_quantization_recipe(
                regex=regex, operation_name=op_name, algorithm_key="no_quantize"
            )
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            result = recipe.quantize()
        logger.debug("ai-edge-quantizer: %s", captured.getvalue().strip())
        quantized = bytes(result.quantized_model)
    if len(quantized) >= len(content):
        kept = "kept float32: the int8 weights did not make the file smaller"
        return content, {name: kept for name in decisions}
    return quantized, decisions


def int8_fully_connected(content: bytes) -> bytes:
    """`int8_matrix_weights` without its decisions (every matrix operator, not
    only `FULLY_CONNECTED`, despite the name kept for existing callers)."""
    return int8_matrix_weights(content)[0]


def _name(tensor) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


def quantize_int4(
    content: bytes, *, axis: int = 1
) -> tuple[bytes, tuple[Int4Table, ...]]:
    """4-bit embedding tables and int8 matrix weights, from float32.

    `int8_matrix_weights` first (every matrix operator, `Conv1D` included), then
    `quantize_gather_tables_int4`.

    Args:
        content: Bytes of a float32 `.tflite` flatbuffer.
        axis: Integer. Scales per column (`1`) or per row (`0`) of the tables.

    Returns:
        The new flatbuffer and the rewritten tables.
    """
    return quantize_gather_tables_int4(int8_matrix_weights(content)[0], axis=axis)
