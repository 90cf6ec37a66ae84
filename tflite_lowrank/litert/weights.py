"""The weights of a `.tflite` file and how each is stored, read without running it.

`weight_storage` lists every constant weight that a matrix operator reads
(`FULLY_CONNECTED`, `CONV_2D`, `DEPTHWISE_CONV_2D`, `TRANSPOSE_CONV`, `BATCH_MATMUL`)
or that a `GATHER` / `EMBEDDING_LOOKUP` reads rows from, in every subgraph, looking
through a `DEQUANTIZE` to the stored constant: its operator, shape, storage type and
bytes. `storage_kind` sums it up as `"float32"`, `"float16"` or `"quantized"`
(`compare_models` uses it to find the float32 file that a quantized file is checked
against).

Imports NumPy and `ai_edge_litert`'s flatbuffer schema only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Operator -> the input positions that may hold its weight.
_WEIGHT_INPUTS = {
    "FULLY_CONNECTED": (1,),
    "CONV_2D": (1,),
    "DEPTHWISE_CONV_2D": (1,),
    "TRANSPOSE_CONV": (1,),
    "BATCH_MATMUL": (0, 1),
    "GATHER": (0,),
    "EMBEDDING_LOOKUP": (1,),
}
_QUANTIZED_TYPES = ("int8", "uint8", "int4", "int16")


@dataclasses.dataclass(frozen=True)
class WeightStorage:
    """One stored weight of a `.tflite` file and the decision behind its storage.

    Args:
        name: String. The flatbuffer tensor name of the stored constant.
        op: String. The operator that reads it (`"FULLY_CONNECTED"`,
            `"CONV_2D"`, `"GATHER"`, ...).
        shape: Tuple of integers.
        dtype: String. How it is stored: `"float32"`, `"float16"`, `"int8"`,
            `"int4"`.
        num_bytes: Integer. Bytes of its data in the file (quantization scales
            not counted).
        decision: String. Why it is stored so (set by `convert_to_tflite`; empty
            when read from a file).

    Example:

    ```python
    for weight in tl.convert_to_tflite(model, "m.tflite", quantization="int4").weights:
        print(weight.op, weight.shape, weight.dtype, weight.decision)
    ```
    """

    name: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    num_bytes: int
    decision: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            "name": self.name,
            "op": self.op,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "num_bytes": self.num_bytes,
            "decision": self.decision,
        }


def weight_storage(content: bytes) -> tuple[WeightStorage, ...]:
    """Every constant weight of a matrix operator or a gather, once each."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    op_names = _op_names(schema, model)
    type_names = {
        value: name.lower()
        for name, value in vars(schema.TensorType).items()
        if not name.startswith("_")
    }
    found: dict[tuple, WeightStorage] = {}
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        producers = {}
        for op_index in range(graph.OperatorsLength()):
            op = graph.Operators(op_index)
            for tensor_index in op.OutputsAsNumpy() if op.OutputsLength() else ():
                producers[int(tensor_index)] = op
        for op_index in range(graph.OperatorsLength()):
            op = graph.Operators(op_index)
            op_name = op_names[op.OpcodeIndex()]
            for position in _WEIGHT_INPUTS.get(op_name, ()):
                if position >= op.InputsLength():
                    continue
                tensor = _stored(model, graph, producers, op_names, op.Inputs(position))
                if tensor is None or tensor.ShapeLength() < 2:
                    continue
                key = (graph_index, tensor.Buffer(), tensor.Name())
                if key in found:
                    continue
                found[key] = WeightStorage(
                    name=(tensor.Name() or b"").decode(),
                    op=op_name,
                    shape=tuple(int(size) for size in tensor.ShapeAsNumpy()),
                    dtype=type_names.get(tensor.Type(), f"type{tensor.Type()}"),
                    num_bytes=_data_bytes(model, tensor),
                )
    return tuple(found.values())


def storage_kind(weights: tuple[WeightStorage, ...]) -> str:
    """`"quantized"` if any weight is stored in integers, `"float16"` if any in
    float16, else `"float32"` (also for a file without weights)."""
    dtypes = {weight.dtype for weight in weights}
    if dtypes & set(_QUANTIZED_TYPES):
        return "quantized"
    if "float16" in dtypes:
        return "float16"
    return "float32"


def _op_names(schema, model) -> list[str]:
    names = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    result = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        result.append(names.get(builtin, f"BUILTIN_{builtin}"))
    return result


def _stored(model, graph, producers, op_names, tensor_index: int):
    """The constant behind an operator input, looking through one DEQUANTIZE."""
    tensor_index = int(tensor_index)
    if tensor_index < 0:
        return None
    tensor = graph.Tensors(tensor_index)
    if _data_bytes(model, tensor):
        return tensor
    producer = producers.get(tensor_index)
    if producer is not None and op_names[producer.OpcodeIndex()] == "DEQUANTIZE":
        source = graph.Tensors(int(producer.Inputs(0)))
        if _data_bytes(model, source):
            return source
    return None


def _data_bytes(model, tensor) -> int:
    """Bytes of a constant tensor's data (0 for a tensor computed at run time)."""
    buffer_index = tensor.Buffer()
    if buffer_index <= 0 or buffer_index >= model.BuffersLength():
        return 0
    buffer = model.Buffers(buffer_index)
    if buffer.DataLength():
        return int(buffer.DataLength())
    if buffer.Offset() > 1:  # Large models keep data after the flatbuffer.
        return int(buffer.Size())
    return 0
