"""Reading a `.tflite` flatbuffer without running it: operators, signature, tensors.

`read_tflite` reads and checks a file and `inspect_model` returns a `ModelInfo`
(operators, the `serving_default` inputs and outputs, the gathered embedding tables
and their projections); `litert.contract` checks it against the I/O contract.

Imports NumPy and `ai_edge_litert`'s flatbuffer schema only, never TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

# Ops that only reshape or change the storage type between a gather and its consumer.
# Ops between a gather and the projection that only move or mask values: storage
# conversions, and the per-band select and concatenation of `BandedLowRankEmbedding`.
_PASS_THROUGH_OPS = (
    "DEQUANTIZE",
    "QUANTIZE",
    "RESHAPE",
    "SELECT",
    "SELECT_V2",
    "CONCATENATION",
)
_MATMUL_OPS = ("FULLY_CONNECTED", "BATCH_MATMUL")
# Ops that clamp a band's ids into its zero-padded table (one zero row each).
_CLAMP_OPS = ("MINIMUM", "MAXIMUM")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor of a `.tflite` file: its name, shape, storage type and size.

    Args:
        name: String. The signature name for inputs and outputs (`"token_ids"`),
            the flatbuffer tensor name otherwise.
        shape: Tuple of integers.
        dtype: String, a NumPy dtype name such as `"int32"`, `"float16"`, `"int8"`.
        num_bytes: Integer. Bytes of the tensor's data: the stored bytes for a
            constant, `prod(shape) * itemsize` otherwise. Quantization scales are
            not counted.

    Example:

    >>> TensorInfo("token_ids", (1, 40), "int32", 160).to_dict()["shape"]
    [1, 40]
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    num_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "num_bytes": self.num_bytes,
        }


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the flatbuffer says about a model, read without running it."""

    ops: tuple[str, ...]
    signature_keys: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    embedding_tables: tuple[TensorInfo, ...]
    projections: tuple[TensorInfo, ...]
    token_table_rows: tuple[int, ...] = ()
    op_counts: tuple[tuple[str, int], ...] = ()

    @property
    def num_operators(self) -> int:
        """Operators in the file's subgraphs, counted with repeats (`op_counts`)."""
        return sum(count for _, count in self.op_counts)

    @property
    def vocabulary_size(self) -> int | None:
        """The largest valid token id + 1.

        The rows of the tables gathered with the token input's ids, summed when they
        are the frequency bands of a `BandedLowRankEmbedding` (ids masked into
        each band); a table gathered with other ids (a position embedding) does not
        count. With several token inputs, the input with the smallest such
        vocabulary (a table shared by two inputs counts once). Files where no
        gather can be traced to an input fall back to the smallest gathered table.
        """
        if self.token_table_rows:
            return sum(self.token_table_rows)
        if not self.embedding_tables:
            return None
        return min(table.shape[0] for table in self.embedding_tables)


def read_tflite(path: os.PathLike[str] | str, *, name: str = "path") -> bytes:
    """Reads a `.tflite` file after checking that it exists and is a flatbuffer.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file is not a TFLite flatbuffer.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"`{name}` must be an existing `.tflite` file. "
            f"Received: {name}={str(path)!r}"
        )
    content = path.read_bytes()
    check_flatbuffer(content, f"{name}={str(path)!r}")
    return content


def read_and_inspect(
    path: os.PathLike[str] | str, *, name: str = "path"
) -> tuple[bytes, ModelInfo]:
    """`read_tflite` and `inspect_model`: the content and what it says.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file is not a TFLite flatbuffer, or is truncated or
            corrupted (its tables point outside the file or hold bad values).
    """
    content = read_tflite(path, name=name)
    try:
        return content, inspect_model(content)
    except Exception as error:  # struct.error, TypeError, IndexError...: bad offsets.
        raise ValueError(
            "The file is not a readable `.tflite` model: it is truncated or "
            f"corrupted ({type(error).__name__}: {error}). Convert the model again "
            f"or copy the file again. Received: {name}={str(Path(path))!r}"
        ) from None


def check_flatbuffer(content: bytes, received: str) -> None:
    """Raises a ValueError unless `content` carries the TFLite file identifier."""
    from ai_edge_litert import schema_py_generated as schema

    if len(content) < 8 or not schema.Model.ModelBufferHasIdentifier(content, 0):
        raise ValueError(
            "The file is not a valid `.tflite` model (no TFLite flatbuffer "
            "identifier `TFL3`); write one with `convert_to_tflite` or "
            f"`tflite-lowrank convert`. Received: {received}"
        )


def inspect_model(content: bytes) -> ModelInfo:
    """Reads operators, signature and embedding tensors from a flatbuffer.

    `embedding_tables` are the constant tables read by `GATHER` or
    `EMBEDDING_LOOKUP` (behind a `DEQUANTIZE` for float16 and int4 files).
    `projections` are the constant weights of the first matrix product applied to a
    gathered row: the `embeddings_b` factor of a `LowRankEmbedding`, or, for other
    models, whatever layer comes first (the caller decides whether it belongs to the
    embedding).
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    builtin_names = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    type_names = {
        value: name.lower()
        for name, value in vars(schema.TensorType).items()
        if not name.startswith("_")
    }
    op_names = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = builtin_names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            custom = code.CustomCode()
            name = f"CUSTOM:{custom.decode() if custom else '?'}"
        op_names.append(name)

    counts: dict[str, int] = {}
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        for op_index in range(graph.OperatorsLength()):
            name = op_names[graph.Operators(op_index).OpcodeIndex()]
            counts[name] = counts.get(name, 0) + 1

    signature_keys, inputs, outputs = [], [], []
    for index in range(model.SignatureDefsLength()):
        signature = model.SignatureDefs(index)
        signature_keys.append(signature.SignatureKey().decode())
        if index:
            continue
        graph = model.Subgraphs(signature.SubgraphIndex())
        for count, get, out in (
            (signature.InputsLength(), signature.Inputs, inputs),
            (signature.OutputsLength(), signature.Outputs, outputs),
        ):
            for position in range(count):
                tensor_map = get(position)
                tensor = graph.Tensors(tensor_map.TensorIndex())
                out.append(
                    _tensor_info(
                        model, tensor, type_names, name=tensor_map.Name().decode()
                    )
                )

    tables, projections, token_rows = _embedding_tensors(model, op_names, type_names)
    return ModelInfo(
        ops=tuple(sorted(counts)),
        signature_keys=tuple(signature_keys),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        embedding_tables=tables,
        projections=projections,
        token_table_rows=token_rows,
        op_counts=tuple(sorted(counts.items())),
    )


def _tensor_info(model, tensor, type_names, *, name: str | None = None) -> TensorInfo:
    shape = (
        tuple(int(size) for size in tensor.ShapeAsNumpy())
        if tensor.ShapeLength()
        else ()
    )
    dtype = type_names.get(tensor.Type(), f"type{tensor.Type()}")
    stored = _stored_bytes(model, tensor)
    if stored is None:
        try:
            itemsize = np.dtype(dtype).itemsize
        except TypeError:
            itemsize = 0
        stored = int(np.prod(shape, dtype=np.int64)) * itemsize
    return TensorInfo(
        name=name if name is not None else (tensor.Name() or b"").decode(),
        shape=shape,
        dtype=dtype,
        num_bytes=stored,
    )


def _stored_bytes(model, tensor) -> int | None:
    """Bytes of a constant tensor's data, or None for a tensor computed at run time."""
    buffer_index = tensor.Buffer()
    if buffer_index <= 0 or buffer_index >= model.BuffersLength():
        return None
    buffer = model.Buffers(buffer_index)
    if buffer.DataLength():
        return int(buffer.DataLength())
    if buffer.Offset() > 1:  # Large models keep data after the flatbuffer.
        return int(buffer.Size())
    return None


def _embedding_tensors(model, op_names, type_names):
    if not model.SubgraphsLength():
        return (), (), ()
    graph = model.Subgraphs(0)
    producers, consumers = {}, {}
    for op_index in range(graph.OperatorsLength()):
        op = graph.Operators(op_index)
        for tensor_index in op.OutputsAsNumpy() if op.OutputsLength() else ():
            producers[int(tensor_index)] = op
        for tensor_index in op.InputsAsNumpy() if op.InputsLength() else ():
            consumers.setdefault(int(tensor_index), []).append(op)

    def name_of(op) -> str:
        return op_names[op.OpcodeIndex()]

    def constant(tensor_index: int):
        """The constant behind a tensor, looking through one DEQUANTIZE."""
        if tensor_index < 0:
            return None
        tensor = graph.Tensors(tensor_index)
        if _stored_bytes(model, tensor) is not None:
            return tensor
        producer = producers.get(tensor_index)
        if producer is not None and name_of(producer) == "DEQUANTIZE":
            source = graph.Tensors(int(producer.Inputs(0)))
            if _stored_bytes(model, source) is not None:
                return source
        return None

    graph_inputs = {int(index) for index in graph.InputsAsNumpy()}

    def traced(tensor_index: int) -> tuple[int | None, bool, int]:
        """(the graph input reached or None, goes through a select or a clamp, the
        clamps on the way), walking back."""
        seen, stack, selected, clamps = set(), [tensor_index], False, 0
        while stack:
            index = stack.pop()
            if index in seen or index < 0:
                continue
            seen.add(index)
            if index in graph_inputs:
                return index, selected or clamps > 0, clamps
            producer = producers.get(index)
            if producer is None or len(seen) > 32:
                continue
            selected |= name_of(producer) in ("SELECT", "SELECT_V2")
            clamps += name_of(producer) in _CLAMP_OPS
            stack.extend(int(i) for i in producer.InputsAsNumpy())
        return None, selected, clamps

    tables, projections, token_gathers = [], [], {}

    def id_of(tensor) -> tuple:
        return (tensor.Buffer(), tensor.Name())

    for op_index in range(graph.OperatorsLength()):
        op = graph.Operators(op_index)
        op_name = name_of(op)
        if op_name not in ("GATHER", "EMBEDDING_LOOKUP"):
            continue
        table = constant(int(op.Inputs(0 if op_name == "GATHER" else 1)))
        if table is None:
            continue
        tables.append(_tensor_info(model, table, type_names))
        ids_index = int(op.Inputs(1 if op_name == "GATHER" else 0))
        graph_input, banded, clamps = traced(ids_index)
        if graph_input is not None:
            # Keyed by input and table: a table shared by two inputs counts once.
            # A clamped band's table holds one zero row per clamp on its ids.
            rows = tables[-1].shape[0] - clamps
            token_gathers[(graph_input, id_of(table))] = (rows, banded)
        tensor_index = int(op.Outputs(0))
        for _ in range(4):  # Walk through storage-only ops to the first real consumer.
            users = consumers.get(tensor_index, [])
            if len(users) != 1:
                break
            user = users[0]
            if name_of(user) in _PASS_THROUGH_OPS:
                tensor_index = int(user.Outputs(0))
                continue
            if name_of(user) in _MATMUL_OPS and user.InputsLength() > 1:
                weights = constant(int(user.Inputs(1)))
                if weights is not None:
                    projections.append(_tensor_info(model, weights, type_names))
            break
    # Band tables (their ids selected or clamped into each band) add up to the
    # vocabulary; a plain table gathered with the token ids (also a band table that
    # covers every id) is the vocabulary itself. With several token inputs, the
    # input with the smallest vocabulary.
    per_input: dict[int, tuple[int, ...]] = {}
    for graph_input in {key[0] for key in token_gathers}:
        gathers = [v for k, v in token_gathers.items() if k[0] == graph_input]
        bands = tuple(rows for rows, banded in gathers if banded)
        plain = [rows for rows, banded in gathers if not banded]
        per_input[graph_input] = (min(plain),) if plain else bands
    token_rows = min(per_input.values(), key=sum, default=())
    return tuple(tables), tuple(projections), token_rows
