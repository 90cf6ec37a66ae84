"""Converts Keras text classifiers to `.tflite` files for the stock LiteRT runtime.

One call turns a trained model, baseline or with a `LowRankEmbedding`, into a file that
follows the I/O contract of `docs/contracts.md` and uses builtin operators only:

- one signature, `serving_default`, with one input `token_ids`, int32 `[1, seq_len]`
  (a model with several token-id inputs keeps their names, each int32 `[1, length]`),
  and one output, float32 `[1, num_labels]` class probabilities (a softmax is appended
  when the model ends in logits, unless `keep_logits=True`);
- no Select TF (Flex) or custom operators: a model that would need them is refused
  with the operators named.

Quantization modes (`QUANTIZATION_MODES`), named after what is stored:

- `None` or `"float32"`: no quantization.
- `"dynamic"`: weights of 1024 or more elements stored as int8 (the embedding table is
  gathered from int8 directly); activations stay float. No data needed.
- `"float16"`: weights stored as float16 and expanded to float32 once, at load time
  (smaller file, same memory as float32 at run time).
- `"int4"`: embedding tables (the `embeddings_a` factor, or a full table) stored as
  packed 4-bit integers with one float32 scale per column, expanded once by a builtin
  `DEQUANTIZE`; other matrix weights stored as int8 (dynamic range, through
  `ai-edge-quantizer` when it is installed, else float32). No data needed.
- `"int8"`: full-integer post-training quantization of weights and activations,
  calibrated on `representative_data`; the `token_ids` input stays int32 and the
  output float32, as the contract requires. Operators without an int8 kernel run in
  float, and the softmax output is quantized to steps of 1/256. Recurrent layers are
  unrolled for this conversion only: calibrating the `WHILE` loop of an LSTM or GRU
  crashes the TFLite converter (TF 2.21). The unrolled graph holds one copy of the
  cell per time step, so for recurrent models `"int8"` files grow with `seq_len`;
  measured sizes and latencies per mode are in `benchmarks/results/latency.md`.

With `fold_projection=True` (the default), the `embeddings_b` factor of a
`LowRankEmbedding` is first folded into the layer that consumes the embedding (see
`tflite_lowrank.export.fold`): the file gathers k-vectors and skips the k x D product
per token. Models it cannot fold are converted unfolded (logged at INFO).

Every converted file is run once in LiteRT before it is written and checked against
Keras (`OutputMismatchError` when it disagrees); it is written atomically, so a failed
or interrupted conversion never leaves a partial or clobbered file.

This module holds `convert_to_tflite`, its result and the checks of its arguments. The
steps it calls live in private modules of `tflite_lowrank.export`: `keras_model`
(loading a `.keras` file, the model's input length and layers; `load_keras_model` and
`model_seq_len` are re-exported here), `contract` (the batch-1 wrapper and the check
against Keras), `tf_converter` (the TensorFlow converter for each mode), `int4` (the
4-bit tables) and `fold`; the file is read back with `tflite_lowrank.litert.flatbuffer`
and run with `tflite_lowrank.litert.interpreter`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import keras
import numpy as np

from tflite_lowrank.errors import OutputMismatchError as OutputMismatchError
from tflite_lowrank.export.contract import (
    _compare_with_keras,
    _contract_wrapper,
    _keras_outputs,
    _resolve_inputs,
)
from tflite_lowrank.export.keras_model import _embedding_layers, _recurrent_layers
from tflite_lowrank.export.keras_model import load_keras_model as load_keras_model
from tflite_lowrank.export.keras_model import model_input_names as model_input_names
from tflite_lowrank.export.keras_model import model_seq_len as model_seq_len
from tflite_lowrank.export.tf_converter import _run_converter, _unrolled
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert.flatbuffer import TensorInfo
from tflite_lowrank.utils import files as _files
from tflite_lowrank.utils.checks import check_bool

logger = logging.getLogger(__name__)

QUANTIZATION_MODES = (None, "float32", "dynamic", "float16", "int8", "int4")
"""Values of `convert_to_tflite(quantization=...)`; `None` means `"float32"`."""


@dataclasses.dataclass(frozen=True)
class ConversionResult:
    """What `convert_to_tflite` wrote.

    Args:
        path: String. The `.tflite` file.
        size_bytes: Integer. Size of the file.
        quantization: String. The mode, one of `"float32"`, `"dynamic"`,
            `"float16"`, `"int8"`, `"int4"`.
        ops: Tuple of strings. The builtin operators used, in all subgraphs, sorted.
        inputs: Tuple of `TensorInfo`. The `serving_default` inputs (`token_ids`).
        outputs: Tuple of `TensorInfo`. The `serving_default` outputs.
        embedding_tensors: Tuple of `TensorInfo`. The stored embedding table, or the
            factors `embeddings_a` and `embeddings_b` of a `LowRankEmbedding`, with
            their storage type and bytes.
        embedding_bytes: Integer. Bytes of `embedding_tensors` in the file.
        appended_softmax: Boolean. Whether a softmax was appended to logits.
        unrolled_layers: Tuple of strings. Recurrent layers unrolled for this
            conversion (`"int8"` only).
        folded_into: Tuple of strings. Layers whose input weight absorbed a
            `LowRankEmbedding`'s `embeddings_b` (empty: nothing folded).
        max_output_difference: Float. Largest `|tflite - keras|` over the
            verification rows (probabilities unless `keep_logits=True`).

    Example:

    ```python
    result = tl.convert_to_tflite(model, "model.tflite", quantization="dynamic")
    print(result.size_bytes, result.embedding_bytes, result.ops)
    json.dumps(result.to_dict())
    ```
    """

    path: str
    size_bytes: int
    quantization: str
    ops: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    embedding_tensors: tuple[TensorInfo, ...]
    embedding_bytes: int
    appended_softmax: bool
    unrolled_layers: tuple[str, ...]
    max_output_difference: float
    folded_into: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "quantization": self.quantization,
            "ops": list(self.ops),
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "embedding_tensors": [spec.to_dict() for spec in self.embedding_tensors],
            "embedding_bytes": self.embedding_bytes,
            "appended_softmax": self.appended_softmax,
            "unrolled_layers": list(self.unrolled_layers),
            "max_output_difference": self.max_output_difference,
            "folded_into": list(self.folded_into),
        }


def convert_to_tflite(
    model: keras.Model,
    path: os.PathLike[str] | str,
    *,
    quantization: str | None = None,
    representative_data: np.ndarray | None = None,
    overwrite: bool = False,
    keep_logits: bool = False,
    seq_len: int | None = None,
    fold_projection: bool = True,
) -> ConversionResult:
    """Converts a Keras text classifier to a `.tflite` file with builtin ops only.

    The model is wrapped in a batch-1 model with the input
    `keras.Input(shape=(seq_len,), batch_size=1, dtype="int32", name="token_ids")`
    and converted with `TFLiteConverter.from_keras_model`, which gives the
    `serving_default` signature of the I/O contract (`docs/contracts.md`). The static
    batch of 1 also lets masked LSTM and GRU layers convert to a builtin `WHILE` loop
    (they never become fused LSTM ops). Whether the model ends in logits is read from
    its last layer (`Dense(..., activation="softmax")` or a `Softmax` layer: already
    probabilities; a linear activation: logits), falling back to checking that its
    outputs sum to 1 for layers it cannot read.

    All arguments are checked before any conversion work. The converted model is run
    in LiteRT on up to 16 rows (of `representative_data`, else random valid ids) and
    compared with Keras; the file is then written through a temporary file in the
    same folder and `os.replace`.

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019.

    Args:
        model: `keras.Model`. One input of token ids `(batch, seq_len)`, or several
            named ones (each `(batch, length)`, kept by name in the file), and one
            output `(batch, num_labels)`, probabilities or logits. Inputs that are
            not token ids (strings, float features) are refused.
        path: Path-like. Output file; must end in `.tflite` and its folder must
            exist.
        quantization: String or None. One of `QUANTIZATION_MODES`: `None` or
            `"float32"`, `"dynamic"`, `"float16"`, `"int8"`, `"int4"` (see the
            module docstring). Defaults to `None`.
        representative_data: Integer array `(num_rows, seq_len)` of token ids in
            `[0, input_dim)`, e.g. a few hundred training rows; for a model with
            several inputs, a dict of such arrays keyed by input name. Required for
            `"int8"` (calibration, all rows are used); otherwise used for the output
            check. Defaults to `None`.
        overwrite: Boolean. Replace an existing file. Defaults to `False`.
        keep_logits: Boolean. Keep the model's output as is instead of appending a
            softmax to logits (the file then breaks the "probabilities" part of the
            contract). Defaults to `False`.
        seq_len: Integer or None. Length of `token_ids`; needed only when the
            model's input length is not fixed. Defaults to `None`.
        fold_projection: Boolean. Fold each `LowRankEmbedding`'s `embeddings_b`
            into the layer that consumes it (LSTM/GRU/SimpleRNN input kernel,
            also in `Bidirectional`, Dense, Conv1D, or the Dense after a mean
            over time), so the file runs fewer operations per token; the output
            check compares the folded file with the unfolded Keras model.
            Defaults to `True`.

    Returns:
        A `ConversionResult`.

    Raises:
        TypeError: for arguments of the wrong type (`model`, `representative_data`).
        ValueError: for an input that is not token ids (named with its dtype),
            missing or extra keys of a dict `representative_data`, an unknown
            `quantization`, a path not ending in `.tflite`,
            `"int8"` without `representative_data`, token ids of the wrong shape or
            out of range, a model whose output is not `(batch, num_labels)` or ends
            in a sigmoid, or a model that needs Select TF (Flex) ops.
        FileNotFoundError: if the output folder does not exist.
        FileExistsError: if `path` exists and `overwrite` is False.
        OutputMismatchError: if the converted model's output is not finite (the
            message says on which check rows, and whether Keras' is) or, for
            float32/float16, differs from Keras beyond 1e-4/5e-2.

    Example:

    ```python
    import tflite_lowrank as tl

    tl.convert_to_tflite(model, "baseline.tflite")
    result = tl.convert_to_tflite(
        model, "model_int8.tflite", quantization="int8",
        representative_data=x_train[:256],
    )
    print(f"{result.size_bytes:,} bytes, embedding {result.embedding_bytes:,} bytes")
    ```
    """
    # 1. Every check that needs no conversion work.
    mode = _check_quantization(quantization)
    check_bool("overwrite", overwrite)
    check_bool("keep_logits", keep_logits)
    check_bool("fold_projection", fold_projection)
    path = _files.check_output_file(
        path, suffix=".tflite", name="path", overwrite=overwrite
    )
    if not isinstance(model, keras.Model):
        raise TypeError(
            "`model` must be a `keras.Model`; load a `.keras` file with "
            "`keras.saving.load_model` first. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    seq_len, inputs, representative_data, check_rows = _resolve_inputs(
        model, seq_len, representative_data
    )
    if mode == "int8" and representative_data is None:
        raise ValueError(
            "`quantization='int8'` calibrates activations on real inputs: pass "
            "`representative_data`, an integer array (num_rows, seq_len) of token ids "
            "(a few hundred training rows), or use `quantization='dynamic'`. "
            "Received: quantization='int8', representative_data=None"
        )
    # 2. The batch-1 wrapper and the rows used to check the converted file. The
    # expected outputs come from `model` itself, so the check covers the folding.
    converted, folded_into = _folded(model) if fold_projection else (model, ())
    recurrent = _recurrent_layers(converted)
    wrapper, appended_softmax = _contract_wrapper(
        converted, seq_len, keep_logits, check_rows, inputs
    )
    expected = _keras_outputs(model, check_rows)
    if appended_softmax:
        expected = keras.ops.convert_to_numpy(keras.ops.softmax(expected, axis=-1))

    # 3. Conversion.
    unrolled = tuple(layer.name for layer in recurrent) if mode == "int8" else ()
    if unrolled:
        logger.info(
            "Unrolling %s over %d steps for int8 calibration.", list(unrolled), seq_len
        )
    with _unrolled(recurrent if mode == "int8" else ()):
        content = _run_converter(
            wrapper, "float32" if mode == "int4" else mode, representative_data
        )
    if mode == "int4":
        from tflite_lowrank.export import int4 as _int4

        content, _ = _int4.quantize_int4(content)

    # 4. Checks on the converted model.
    info = _flatbuffer.inspect_model(content)
    problems = _contract.builtin_problems(info) + _contract.contract_problems(
        info, multi_input=inputs is not None
    )
    if inputs is not None and {spec.name for spec in info.inputs} != {
        spec.name for spec in inputs
    }:
        problems.append(
            f"inputs {[spec.name for spec in inputs]} expected, found "
            f"{[spec.name for spec in info.inputs]}"
        )
    if problems:
        raise ValueError(
            "The converted model breaks the LiteRT builtins-only I/O contract: "
            + "; ".join(problems)
            + f". Received: model={model.name!r}, quantization={mode!r}"
        )
    max_difference = _compare_with_keras(content, check_rows, expected, mode, model)

    # 5. Atomic write.
    _files.write_atomically(path, _write_bytes(content), overwrite=overwrite)
    embedding_tensors = _embedding_tensors(converted, info)
    result = ConversionResult(
        path=str(path),
        size_bytes=len(content),
        quantization=mode,
        ops=info.ops,
        inputs=info.inputs,
        outputs=info.outputs,
        embedding_tensors=embedding_tensors,
        embedding_bytes=sum(spec.num_bytes for spec in embedding_tensors),
        appended_softmax=appended_softmax,
        unrolled_layers=unrolled,
        max_output_difference=max_difference,
        folded_into=folded_into,
    )
    logger.info(
        "Wrote %s (%d bytes, %s, embedding %d bytes, max |tflite - keras| %.3g).",
        path,
        result.size_bytes,
        mode,
        result.embedding_bytes,
        max_difference,
    )
    return result


def _folded(model: keras.Model) -> tuple[keras.Model, tuple[str, ...]]:
    """The model with its projections folded, and the layers that absorbed them."""
    from tflite_lowrank.export.fold import fold_projection

    folded, results = fold_projection(model, return_results=True)
    return folded, tuple(result.consumer for result in results if result.folded)


def _check_quantization(quantization) -> str:
    if quantization is not None and not isinstance(quantization, str):
        raise TypeError(
            f"`quantization` must be a string or None, one of {QUANTIZATION_MODES}. "
            f"Received: quantization={quantization!r} "
            f"(of type {type(quantization).__name__})"
        )
    if quantization not in QUANTIZATION_MODES:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATION_MODES}. "
            f"Received: quantization={quantization!r}"
        )
    return quantization or "float32"


def _embedding_tensors(model: keras.Model, info: _flatbuffer.ModelInfo):
    """Matches the file's gathered tables and projections to the Keras embeddings."""
    found = []
    for layer in _embedding_layers(model):
        if isinstance(layer, LowRankEmbedding):
            table_shapes = {(layer.input_dim, layer.rank)}
            factor_shapes = {
                (layer.output_dim, layer.rank),
                (layer.rank, layer.output_dim),
            }
        elif isinstance(layer, BandedLowRankEmbedding):
            edges = (0, *layer.boundaries, layer.input_dim)
            table_shapes = {
                (stop - start, rank)
                for start, stop, rank in zip(
                    edges[:-1], edges[1:], layer.ranks, strict=True
                )
            }
            width = sum(layer.ranks)
            factor_shapes = {(layer.output_dim, width), (width, layer.output_dim)}
        else:
            table_shapes = {(layer.input_dim, layer.output_dim)}
            factor_shapes = set()
        found += [spec for spec in info.embedding_tables if spec.shape in table_shapes]
        found += [spec for spec in info.projections if spec.shape in factor_shapes]
    unique = {(spec.name, spec.shape, spec.dtype): spec for spec in found}
    return tuple(unique.values())


def _write_bytes(content: bytes):
    def write(temporary: str) -> None:
        with open(temporary, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())

    return write
