"""Quantized embedding tables that the builtin `EMBEDDING_LOOKUP` reads row by row.

A converted file reads its embedding (or factor) tables with `GATHER`. `"dynamic"`
stores them as int8 with one scale for the whole table and dequantizes each gathered
row with a `DEQUANTIZE` after the gather; `"int4"` stores 4-bit codes that a
`DEQUANTIZE` expands into a float32 table once, at load. The builtin
`EMBEDDING_LOOKUP` instead reads a quantized table with one scale per row and
dequantizes only the rows it looks up, in the lookup itself:

- `"int8_rows"`: int8 codes and a float32 scale per row (per-axis quantization on
  axis 0; the flatbuffer also holds an int64 zero point per row, so 12 bytes of
  scales per row). A table is stored so only when that is smaller than float32,
  i.e. rows more than 4 values wide.
- `"int4_rows"`: packed 4-bit codes (low nibble first) and a float16 scale per row
  (blockwise quantization with one block per row: 2 bytes per row). The kernel reads
  a row at element `row * width`, so it needs an even width: an odd-width table gets
  a zero column, which a `SLICE` drops after the lookup.

Both are symmetric with the scale `max|row| / 127` (int8) or `/ 7` (int4), so every
value is within half a step of the float32 one. The kernel (ai-edge-litert 2.3) also
reads int2 rows (levels -2..1), which this module does not write: on rank-4 codes of a
17,079 x 50 table they add a 32% relative error to the reconstructed table (4-bit:
6%, int8: 0.3%).

`EMBEDDING_LOOKUP` takes 1-D ids: a `GATHER` on ids of another rank gets a `RESHAPE`
before it (the ids as one axis) and after it (the rows back to the gather's shape).
Other matrix weights of
1024 values or more are stored int8 per channel (`int4.int8_matrix_weights`; smaller
ones stay float32, as in `"dynamic"`: on a DAN, hybrid int8 `FULLY_CONNECTED`s of a
few hundred weights cost a quarter of its latency).

The levels and scales are `tflite_lowrank.factorization.quantization`'s, the grid the
factorized layers' quantization-aware training rounds to.

Imports NumPy, `flatbuffers` and `ai_edge_litert` (and `ai_edge_quantizer` for the
int8 matrix weights) only.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from tflite_lowrank.export.int4 import (
    _buffer,
    _buffer_used,
    _inline_buffers,
    _name,
    int8_matrix_weights,
)
from tflite_lowrank.factorization.quantization import (
    LEVELS,
    ROW_QUANTIZATION,
    quantize_rows,
)

logger = logging.getLogger(__name__)

NATIVE_LOOKUP_MODES = tuple(ROW_QUANTIZATION)
"""The `convert_to_tflite(quantization=...)` modes written by this module."""
# Tables below this many elements stay float32 GATHERs (as in "dynamic").
_MIN_ELEMENTS = 1024
# Bytes of one row's scale: float32 scale + int64 zero point (int8), float16 (int4).
_SCALE_BYTES = {8: 12, 4: 2}
# EMBEDDING_LOOKUP's version for per-row or 4-bit tables (TFLite's op_version).
_LOOKUP_VERSION = 4


@dataclasses.dataclass(frozen=True)
class LookupTable:
    """One `GATHER` table rewritten as an `EMBEDDING_LOOKUP` input.

    Args:
        name: String. The float table's tensor name.
        shape: Tuple of integers. Its shape (rows, width).
        dtype: String. `"int8"` or `"int4"`.
        num_bytes: Integer. Bytes of the codes.
        scale_bytes: Integer. Bytes of the per-row scales (and int8 zero points).
        max_abs_error: Float. Largest `|dequantized - float|` over the table.
        max_step: Float. Largest per-row step, `max|row| / 127` or `/ 7`.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    num_bytes: int
    scale_bytes: int
    max_abs_error: float
    max_step: float


def native_lookup_content(content: bytes, mode: str) -> tuple[bytes, dict[str, str]]:
    """The `"int8_rows"` or `"int4_rows"` file from the float32 one.

    Returns:
        The new flatbuffer and, per weight tensor name, the decision taken.
    """
    quantized, decisions = int8_matrix_weights(content, min_elements=_MIN_ELEMENTS)
    quantized, tables = native_lookup_tables(quantized, bits=ROW_QUANTIZATION[mode])
    for table in tables:
        decisions[f"{table.name}_{table.dtype}_rows"] = (
            f"{table.dtype}, one scale per row ({table.scale_bytes:,} bytes of "
            "scales), read row by row by EMBEDDING_LOOKUP"
        )
    return quantized, decisions


def native_lookup_tables(
    content: bytes, *, bits: int = 8, min_elements: int = _MIN_ELEMENTS
) -> tuple[bytes, tuple[LookupTable, ...]]:
    """Rewrites each constant float32 2-D `GATHER` table as an `EMBEDDING_LOOKUP`.

    A table is rewritten when it has at least `min_elements` values, is gathered
    on axis 0 by int32 ids of a static shape, is read by no other operator, and its
    codes and scales take fewer bytes than its float32 values.

    Args:
        content: Bytes of a `.tflite` flatbuffer whose tables are float32.
        bits: `8` or `4`.
        min_elements: Integer. Smaller tables stay float32 `GATHER`s.

    Returns:
        The new flatbuffer and one `LookupTable` per rewritten table.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    if bits not in LEVELS:
        raise ValueError(f"`bits` must be 8 or 4. Received: bits={bits!r}")
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    _inline_buffers(model, content)
    writer = _Writer(schema, model)
    rewritten = []
    for subgraph in model.subgraphs:
        uses = {}
        for op in subgraph.operators:
            for index in op.inputs if op.inputs is not None else ():
                uses[int(index)] = uses.get(int(index), 0) + 1
        operators = []
        for op in subgraph.operators:
            table = writer.table_of(subgraph, op, uses, min_elements, bits)
            if table is None:
                operators.append(op)
                continue
            new_ops, info = writer.lookup(subgraph, op, table, bits)
            operators += new_ops
            rewritten.append(info)
        subgraph.operators = operators
    if not rewritten:
        return content, ()
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    logger.info(
        "Stored %d table(s) for EMBEDDING_LOOKUP: %s", len(rewritten), rewritten
    )
    return bytes(builder.Output()), tuple(rewritten)


def _pack_int4(levels: np.ndarray) -> bytes:
    flat = levels.reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.int8)])
    nibbles = flat.astype(np.uint8) & 0x0F
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()


class _Writer:
    """Adds tensors, buffers and operators to a flatbuffer model (object API)."""

    def __init__(self, schema, model):
        self.schema, self.model = schema, model
        self.codes = [
            max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes
        ]

    def opcode(self, builtin: int, version: int = 1) -> int:
        for index, code in enumerate(self.model.operatorCodes):
            if self.codes[index] == builtin and code.version == version:
                return index
        code = self.schema.OperatorCodeT()
        code.builtinCode, code.version = builtin, version
        code.deprecatedBuiltinCode = min(builtin, 127)
        self.model.operatorCodes.append(code)
        self.codes.append(builtin)
        return len(self.codes) - 1

    def tensor(self, subgraph, name, shape, dtype, data: bytes | None = None) -> int:
        tensor = self.schema.TensorT()
        tensor.name, tensor.shape, tensor.type = name, list(shape), dtype
        if data is None:
            self.model.buffers.append(self.schema.BufferT())
        else:
            self.model.buffers.append(_buffer(self.schema, data))
        tensor.buffer = len(self.model.buffers) - 1
        subgraph.tensors.append(tensor)
        return len(subgraph.tensors) - 1

    def op(self, builtin, inputs, outputs, version=1, options=None):
        op = self.schema.OperatorT()
        op.opcodeIndex = self.opcode(builtin, version)
        op.inputs, op.outputs = list(inputs), list(outputs)
        if options is not None:
            op.builtinOptionsType, op.builtinOptions = options
        return op

    def table_of(self, subgraph, op, uses, min_elements, bits):
        """The float table of a GATHER this module can rewrite, else None."""
        schema = self.schema
        if self.codes[op.opcodeIndex] != schema.BuiltinOperator.GATHER:
            return None
        options = op.builtinOptions
        if options is not None and (options.axis != 0 or options.batchDims != 0):
            return None
        table = subgraph.tensors[int(op.inputs[0])]
        ids = subgraph.tensors[int(op.inputs[1])]
        data = self.model.buffers[table.buffer].data
        shape = [int(n) for n in table.shape] if table.shape is not None else []
        id_shape = [int(n) for n in ids.shape] if ids.shape is not None else []
        if (
            data is None
            or table.type != schema.TensorType.FLOAT32
            or len(shape) != 2
            or int(np.prod(shape)) < min_elements
            or ids.type != schema.TensorType.INT32
            or any(n < 0 for n in id_shape)
            or uses.get(int(op.inputs[0]), 0) != 1
        ):
            return None
        width = shape[1] + (bits == 4 and shape[1] % 2)
        stored = shape[0] * (width * bits // 8 + _SCALE_BYTES[bits])
        if stored >= 4 * shape[0] * shape[1]:
            return None
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), "<f4").reshape(shape)

    def lookup(self, subgraph, gather, values, bits):
        """The operators replacing `gather`, and what was stored."""
        schema, builtin = self.schema, self.schema.BuiltinOperator
        tensor_type = schema.TensorType
        table = subgraph.tensors[int(gather.inputs[0])]
        name = _name(table)
        rows, width = values.shape
        padded = width + (bits == 4 and width % 2)
        levels, scales = quantize_rows(values, bits)
        error = float(
            np.max(np.abs(levels * scales.astype(np.float64)[:, None] - values))
        )
        if padded != width:
            levels = np.concatenate([levels, np.zeros((rows, 1), np.int8)], axis=1)
        parameters = schema.QuantizationParametersT()
        if bits == 8:
            codes = levels.tobytes()
            index = self.tensor(
                subgraph, f"{name}_int8_rows", (rows, padded), tensor_type.INT8, codes
            )
            parameters.scale = scales.astype(np.float32).tolist()
            parameters.zeroPoint = [0] * rows
            parameters.quantizedDimension = 0
        else:
            codes = _pack_int4(levels)
            index = self.tensor(
                subgraph, f"{name}_int4_rows", (rows, padded), tensor_type.INT4, codes
            )
            scale_index = self.tensor(
                subgraph,
                f"{name}_row_scales",
                (rows, 1),
                tensor_type.FLOAT16,
                scales.tobytes(),
            )
            details = schema.BlockwiseQuantizationT()
            details.scales, details.blockSize = scale_index, padded
            parameters.detailsType = schema.QuantizationDetails.BlockwiseQuantization
            parameters.details = details
        subgraph.tensors[index].quantization = parameters
        old_buffer = table.buffer
        table.buffer = 0
        if not _buffer_used(self.model, old_buffer):
            self.model.buffers[old_buffer].data = None
        ids, output = int(gather.inputs[1]), int(gather.outputs[0])
        id_shape = [int(n) for n in subgraph.tensors[ids].shape]
        out_shape = [int(n) for n in subgraph.tensors[output].shape]
        count = int(np.prod(id_shape, dtype=np.int64))
        ops = []
        if len(id_shape) != 1:
            flat = self.tensor(subgraph, f"{name}_ids", (count,), tensor_type.INT32)
            ops.append(self._reshape(subgraph, ids, flat, (count,)))
            ids = flat
        rows_out = output
        if padded != width or len(out_shape) != 2:
            rows_out = self.tensor(
                subgraph, f"{name}_rows", (count, padded), tensor_type.FLOAT32
            )
        ops.append(
            self.op(
                builtin.EMBEDDING_LOOKUP, (ids, index), (rows_out,), _LOOKUP_VERSION
            )
        )
        if padded != width:
            sliced = (
                output
                if len(out_shape) == 2
                else self.tensor(
                    subgraph, f"{name}_sliced", (count, width), tensor_type.FLOAT32
                )
            )
            begin = self.tensor(
                subgraph,
                f"{name}_begin",
                (2,),
                tensor_type.INT32,
                np.array([0, 0], "<i4").tobytes(),
            )
            size = self.tensor(
                subgraph,
                f"{name}_size",
                (2,),
                tensor_type.INT32,
                np.array([count, width], "<i4").tobytes(),
            )
            ops.append(self.op(builtin.SLICE, (rows_out, begin, size), (sliced,)))
            rows_out = sliced
        if rows_out != output:
            ops.append(self._reshape(subgraph, rows_out, output, out_shape))
        info = LookupTable(
            name=name,
            shape=(rows, width),
            dtype=f"int{bits}",
            num_bytes=len(codes),
            scale_bytes=rows * _SCALE_BYTES[bits],
            max_abs_error=error,
            max_step=float(np.abs(values).max(initial=0.0) / LEVELS[bits]),
        )
        return ops, info

    def _reshape(self, subgraph, source: int, target: int, shape) -> object:
        schema = self.schema
        new_shape = self.tensor(
            subgraph,
            f"{_name(subgraph.tensors[target])}_shape",
            (len(shape),),
            schema.TensorType.INT32,
            np.asarray(shape, "<i4").tobytes(),
        )
        options = schema.ReshapeOptionsT()
        options.newShape = list(shape)
        return self.op(
            schema.BuiltinOperator.RESHAPE,
            (source, new_shape),
            (target,),
            options=(schema.BuiltinOptions.ReshapeOptions, options),
        )
