"""Converts Keras text classifiers to `.tflite` files for the stock LiteRT runtime.

One call turns a trained model, baseline or with a `LowRankEmbedding`, into a file that
follows the I/O contract of `docs/contracts.md` and uses builtin operators only:

- one signature, `serving_default`, with one input `token_ids`, int32 `[1, seq_len]`
  (a model with several token-id inputs keeps their names, each int32 `[1, length]`),
  and one output, float32 `[1, num_labels]` class probabilities: a softmax is
  appended when the model ends in logits, and a binary classifier's 1-wide sigmoid
  (or logit) becomes the two-class probabilities `[1 - p, p]`, unless
  `keep_logits=True`. A model with several outputs keeps each under its name, and
  a per-token output is `[1, seq_len, num_tags]`;
- no Select TF (Flex) or custom operators: a model that would need them is refused
  with the operators named.

Quantization modes (`QUANTIZATION_MODES`), named after what is stored (the table in
`docs/conversion.md` has the details):

- `None` or `"float32"`: no quantization.
- `"dynamic"`: weights of 1024 or more elements stored as int8; activations float.
- `"float16"`: weights stored as float16, expanded to float32 once at load time.
- `"int4"`: embedding tables as packed 4-bit integers (one scale per column,
  expanded once by a builtin `DEQUANTIZE`); every other matrix weight (`Dense`,
  `Conv1D`, the LSTM kernels...) as int8 per channel through `ai-edge-quantizer`,
  each only when that makes it smaller.
- `"int8"`: full integer, calibrated on `representative_data`; recurrent layers are
  unrolled for this conversion only, so recurrent `"int8"` files grow with `seq_len`.
- `"int8_rows"`, `"int4_rows"`: embedding tables as int8 or 4-bit codes with one
  scale per row, read by the builtin `EMBEDDING_LOOKUP`, which dequantizes only the
  rows it looks up (`tflite_lowrank.export.native_lookup`); other matrix weights as
  in `"int4"`.

With `fold_projection=True` (the default), each `LowRankEmbedding`'s `embeddings_b` is
folded into the layer that consumes the embedding (`tflite_lowrank.export.fold`),
unless that would grow the weights. `ConversionResult` says what was decided, per
embedding (`fold_results`) and per weight (`weights`).

Every converted file is run in LiteRT before it is written and checked against Keras
(`OutputMismatchError` when it disagrees), on `check_data` when given; it is written
atomically, so a failed or interrupted conversion never leaves a partial or clobbered
file.

The steps live in private modules of `tflite_lowrank.export`: `keras_model` (the
`.keras` file, input length, layers), `contract` (the wrapper and its outputs),
`parity` (the check against Keras), `baked_codes` (codes trained on a file's grid),
`tf_converter`, `int4`, `storage`, `fold` and `result`.
"""

from __future__ import annotations

import logging
import os
import warnings

import keras
import numpy as np

from tflite_lowrank.errors import OutputMismatchError as OutputMismatchError
from tflite_lowrank.export.baked_codes import baked_codes
from tflite_lowrank.export.contract import _contract_wrapper, _resolve_inputs
from tflite_lowrank.export.keras_model import _embedding_layers, _recurrent_layers
from tflite_lowrank.export.keras_model import load_keras_model as load_keras_model
from tflite_lowrank.export.keras_model import model_input_names as model_input_names
from tflite_lowrank.export.keras_model import model_seq_len as model_seq_len
from tflite_lowrank.export.native_lookup import (
    NATIVE_LOOKUP_MODES,
    native_lookup_content,
)
from tflite_lowrank.export.parity import (
    _accuracies,
    _check_labels,
    _compare_with_keras,
    _expected_outputs,
    _keras_outputs,
    _resolve_check_data,
)
from tflite_lowrank.export.result import ConversionResult as ConversionResult
from tflite_lowrank.export.storage import _int4_content, _weight_decisions
from tflite_lowrank.export.tf_converter import _run_converter, _unrolled
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.lookup import lookup_table_shapes
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.utils import files as _files
from tflite_lowrank.utils.checks import check_bool

logger = logging.getLogger(__name__)

QUANTIZATION_MODES = (
    *(None, "float32", "dynamic", "float16", "int8", "int4"),
    *NATIVE_LOOKUP_MODES,
)
"""Values of `convert_to_tflite(quantization=...)`; `None` means `"float32"`."""
# An accuracy on `check_data` this far below Keras' is warned about.
_ACCURACY_WARNING = 0.01


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
    check_data=None,
) -> ConversionResult:
    """Converts a Keras text classifier to a `.tflite` file with builtin ops only.

    The model is wrapped in a batch-1 model with the input
    `keras.Input(shape=(seq_len,), batch_size=1, dtype="int32", name="token_ids")`
    and converted with `TFLiteConverter.from_keras_model`, which gives the
    `serving_default` signature of the I/O contract (`docs/contracts.md`). Whether an
    output is logits is read from the layer that produces it (a softmax or sigmoid
    activation, a `Softmax` layer, a linear activation), falling back to its values.

    All arguments are checked before any conversion work. The converted model is run
    in LiteRT on `check_data` (all rows), else on up to 16 rows of
    `representative_data`, else on random valid ids, and compared with Keras; the file
    is then written through a temporary file in the same folder and `os.replace`.

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019.

    Args:
        model: `keras.Model`. One input of token ids `(batch, seq_len)`, or several
            named ones (each `(batch, length)`, kept by name in the file). Outputs
            `(batch, num_labels)` (probabilities, logits, or a binary classifier's
            1-wide sigmoid or logit) or per token `(batch, seq_len, num_tags)`; one,
            or several (a list or dict, kept by name). Inputs that are not token ids
            (strings, float features) are refused.
        path: Path-like. Output file; must end in `.tflite` and its folder must
            exist.
        quantization: String or None. One of `QUANTIZATION_MODES` (see the module
            docstring). Defaults to `None` (float32).
        representative_data: Integer array `(num_rows, seq_len)` of token ids in
            `[0, input_dim)`, e.g. a few hundred training rows; for a model with
            several inputs, a dict of such arrays keyed by input name. Required for
            `"int8"` (calibration); otherwise the output check's rows when
            `check_data` is not given. Defaults to `None`.
        overwrite: Boolean. Replace an existing file. Defaults to `False`.
        keep_logits: Boolean. Keep every output as the model computes it: no softmax
            appended to logits, a 1-wide sigmoid kept 1-wide (the benchmark scores
            it at 0.5). The file then breaks the "probabilities" part of the
            contract. Defaults to `False`.
        seq_len: Integer or None. Length of `token_ids`; needed only when the
            model's input length is not fixed (`keras.Input(shape=(None,))`).
            Reported as `ConversionResult.seq_len`. Defaults to `None`.
        fold_projection: Boolean. Fold each `LowRankEmbedding`'s `embeddings_b`
            into the layer that consumes it (see `tflite_lowrank.export.fold`),
            unless that would grow its weights. Defaults to `True`.
        check_data: Token-id rows like `representative_data` (held-out rows, not
            training rows), or a tuple `(rows, labels)`. The output check runs on
            all of them; with labels (`(num_rows,)` class indices, 0/1 for a binary
            classifier, `(num_rows, seq_len)` for a per-token output; a dict with
            one key, the output's name, for a model with several outputs) the
            accuracy of the file and of Keras are reported, with a warning when the
            file is more than 1 point below. Defaults to `None`.

    Returns:
        A `ConversionResult`.

    Raises:
        TypeError: for arguments of the wrong type (`model`, `representative_data`,
            `check_data`, labels).
        ValueError: for an input that is not token ids (named with its dtype),
            missing or extra keys of dict rows, an unknown `quantization`, a path
            not ending in `.tflite`, `"int8"` without `representative_data`, token
            ids or labels of the wrong shape or out of range, a variable-length
            model without `seq_len`, an output that is neither `(batch,
            num_labels)` nor `(batch, seq_len, num_tags)` or is a multi-label
            sigmoid, or a model that needs Select TF (Flex) ops.
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
        representative_data=x_train[:256], check_data=(x_test, y_test),
    )
    print(result.size_bytes, result.accuracy, result.keras_accuracy)
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
    check = _resolve_check_data(check_data, model, seq_len, inputs)
    if mode == "int8" and representative_data is None:
        raise ValueError(
            "`quantization='int8'` calibrates activations on real inputs: pass "
            "`representative_data`, an integer array (num_rows, seq_len) of token ids "
            "(a few hundred training rows), or use `quantization='dynamic'`. "
            "Received: quantization='int8', representative_data=None"
        )
    # 2. The batch-1 wrapper and the rows used to check the converted file. The
    # expected outputs come from `model` itself, so the check covers the folding.
    with baked_codes(model, mode):
        converted, fold_results = _folded(model) if fold_projection else (model, ())
        recurrent = _recurrent_layers(converted)
        wrapper, heads = _contract_wrapper(
            converted, seq_len, keep_logits, check_rows, inputs
        )
        check = _check_labels(check, heads)
        rows = check.rows if check is not None else check_rows
        expected = _expected_outputs(_keras_outputs(model, rows), heads)

        # 3. Conversion.
        unrolled = tuple(layer.name for layer in recurrent) if mode == "int8" else ()
        if unrolled:
            logger.info(
                "Unrolling %s over %d steps for int8 calibration.",
                list(unrolled),
                seq_len,
            )
        with _unrolled(recurrent if mode == "int8" else ()):
            content = _run_converter(
                wrapper,
                "float32" if mode in ("int4", *NATIVE_LOOKUP_MODES) else mode,
                representative_data,
            )
    decisions: dict[str, str] = {}
    if mode == "int4":
        content, decisions = _int4_content(content)
    elif mode in NATIVE_LOOKUP_MODES:
        content, decisions = native_lookup_content(content, mode)

    # 4. Checks on the converted model.
    info = _flatbuffer.inspect_model(content)
    problems = _contract.builtin_problems(info) + _contract.contract_problems(
        info, multi_input=inputs is not None, multi_output=True
    )
    if inputs is not None and {spec.name for spec in info.inputs} != {
        spec.name for spec in inputs
    }:
        problems.append(
            f"inputs {[spec.name for spec in inputs]} expected, found "
            f"{[spec.name for spec in info.inputs]}"
        )
    names = [head.name for head in heads]
    if names != [None] and sorted(spec.name for spec in info.outputs) != sorted(names):
        problems.append(
            f"outputs {sorted(names)} expected, found "
            f"{sorted(spec.name for spec in info.outputs)}"
        )
    if problems:
        raise ValueError(
            "The converted model breaks the LiteRT builtins-only I/O contract: "
            + "; ".join(problems)
            + f". Received: model={model.name!r}, quantization={mode!r}"
        )
    max_difference, actual = _compare_with_keras(content, rows, expected, mode, model)
    accuracy, keras_accuracy = _accuracies(check, heads, actual, expected)

    # 5. Atomic write.
    _files.write_atomically(path, _write_bytes(content), overwrite=overwrite)
    embedding_tensors = _embedding_tensors(converted, info)
    file_name = {None: info.outputs[0].name}
    result = ConversionResult(
        path=str(path),
        size_bytes=len(content),
        quantization=mode,
        ops=info.ops,
        inputs=info.inputs,
        outputs=info.outputs,
        embedding_tensors=embedding_tensors,
        embedding_bytes=sum(spec.num_bytes for spec in embedding_tensors),
        appended_softmax=any(head.transform == "softmax" for head in heads),
        unrolled_layers=unrolled,
        max_output_difference=max_difference,
        folded_into=tuple(fold.consumer for fold in fold_results if fold.folded),
        seq_len=seq_len,
        two_class_outputs=tuple(
            file_name.get(head.name, head.name)
            for head in heads
            if head.transform.startswith("two_class")
        ),
        fold_results=fold_results,
        weights=_weight_decisions(content, mode, decisions),
        check_rows=len(next(iter(actual.values()))),
        check_source=(
            "check_data"
            if check is not None
            else "representative_data"
            if representative_data is not None
            else "random ids"
        ),
        accuracy=accuracy,
        keras_accuracy=keras_accuracy,
    )
    logger.info(
        "Wrote %s (%d bytes, %s, embedding %d bytes, max |tflite - keras| %.3g).",
        path,
        result.size_bytes,
        mode,
        result.embedding_bytes,
        max_difference,
    )
    if accuracy is not None and accuracy < keras_accuracy - _ACCURACY_WARNING:
        warnings.warn(
            f"The {mode} file {path.name} has an accuracy of {accuracy:.2%} on "
            f"check_data, {100 * (keras_accuracy - accuracy):.2f} points below the "
            f"Keras model's {keras_accuracy:.2%} (more than "
            f"{100 * _ACCURACY_WARNING:.0f} point).",
            stacklevel=2,
        )
    return result


def _folded(model: keras.Model):
    """The model with its projections folded (only where the weights do not grow),
    and one `FoldResult` per `LowRankEmbedding`."""
    from tflite_lowrank.export.fold import fold_projection

    return fold_projection(model, return_results=True, only_if_smaller=True)


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
            table_shapes = set(
                lookup_table_shapes(layer.input_dim, layer.boundaries, layer.ranks)
            )
            width = sum(layer.ranks)
            factor_shapes = {(layer.output_dim, width), (width, layer.output_dim)}
        else:
            table_shapes = {(layer.input_dim, layer.output_dim)}
            factor_shapes = set()
        found += [
            spec
            for spec in info.embedding_tables
            if spec.shape in table_shapes or _padded_int4(spec) in table_shapes
        ]
        found += [spec for spec in info.projections if spec.shape in factor_shapes]
    unique = {(spec.name, spec.shape, spec.dtype): spec for spec in found}
    return tuple(unique.values())


def _padded_int4(spec) -> tuple[int, ...] | None:
    """A 4-bit lookup table's width before `native_lookup` padded it to even."""
    if spec.dtype != "int4" or len(spec.shape) != 2 or spec.shape[1] % 2:
        return None
    return (spec.shape[0], spec.shape[1] - 1)


def _write_bytes(content: bytes):
    def write(temporary: str) -> None:
        with open(temporary, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())

    return write
