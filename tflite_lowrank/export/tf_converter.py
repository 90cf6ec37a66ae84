"""The TensorFlow side of `convert_to_tflite`: run `TFLiteConverter` for one mode.

Private helpers of `tflite_lowrank.export.converter`. `_run_converter` sets up the
converter for a quantization mode (builtins only; `Optimize.DEFAULT` for the quantized
modes, float16 storage, int8 calibration on `representative_data`; `"int4"` files are
converted as float32 and then rewritten by `export.int4`) and turns its
failures into errors that name the Select TF (Flex) operators, or the operators with
no kernel at all, and the fix (`_translate_converter_error`). What the converter's
C++ side prints goes to the DEBUG log, not to stderr. `_unrolled` sets
`unroll=True` on recurrent layers for one conversion: calibrating the `WHILE` loop of
an LSTM or GRU crashes the converter (TF 2.21).

TensorFlow is imported inside `_run_converter` only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Iterator

import keras
import numpy as np

from tflite_lowrank.litert import interpreter as _interpreter

# Records keep the name of the public module (the CLI's `-v` prints it).
logger = logging.getLogger("tflite_lowrank.export.converter")


_TENSOR_LIST_HINT = "TensorList"


@contextlib.contextmanager
def _unrolled(layers) -> Iterator[None]:
    """Sets `unroll=True` on recurrent layers for the duration of one conversion."""
    layers = list(layers)
    for layer in layers:
        layer.unroll = True
    try:
        yield
    finally:
        for layer in layers:
            layer.unroll = False


def _run_converter(
    wrapper: keras.Model,
    mode: str,
    representative_data: np.ndarray | dict[str, np.ndarray] | None,
) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(wrapper)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        rows = representative_data

        def dataset():
            if isinstance(rows, dict):  # Several inputs: keyed by signature input.
                for index in range(len(next(iter(rows.values())))):
                    yield {
                        name: array[index][None, :].astype(np.int32)
                        for name, array in rows.items()
                    }
                return
            for row in rows:
                yield [row[None, :].astype(np.int32)]

        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    captured = io.StringIO()
    # The converter's C++ side (MLIR, absl, "fully_quantize: 0, ...") writes to file
    # descriptor 2: kept back, logged at DEBUG, and written to stderr only when the
    # conversion fails in a way the error below cannot name.
    with _interpreter.native_stderr() as native:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
                # The int32 input is not quantized; TF warns it has no statistics.
                warnings.filterwarnings("ignore", message=".*Statistics for quantized")
                content = converter.convert()
            error = None
        except Exception as raised:
            error = raised
    output = "\n".join(
        text.strip() for text in (captured.getvalue(), native.text) if text.strip()
    )
    if output:
        logger.debug("Converter output: %s", output)
    if error is None:
        return content
    translated = _translate_converter_error(error, wrapper)
    if not isinstance(translated, ValueError) and native.text.strip():
        sys.stderr.write(native.text)
    raise translated from error


def _failed_ops(error: Exception, code: str, heading: str) -> list[str]:
    """The operators a `ConverterError` names with the error `code` (`NEEDS_FLEX`,
    `NEEDS_CUSTOM_OPS`), or, without structured errors, on its `heading` line."""
    found = [
        data.operator.name
        for data in getattr(error, "errors", None) or ()
        if code in str(data) and data.operator.name
    ]
    text = str(error)
    if not found and heading in text:
        line = text.split(heading, 1)[1].splitlines()[0]
        found = [f"tf.{name.strip()}" for name in line.split(",") if name.strip()]
    return sorted(set(found))


def _translate_converter_error(error: Exception, wrapper: keras.Model) -> Exception:
    text = str(error)
    flex_ops = _failed_ops(error, "NEEDS_FLEX", "TF Select ops:")
    # Ops with no kernel at all, not even a Flex one ("neither a custom op nor a
    # flex op"): MLIR calls them custom ops.
    custom_ops = _failed_ops(error, "NEEDS_CUSTOM_OPS", "Custom ops:")
    received = f"Received: model={wrapper.name.removesuffix('_tflite')!r}"
    if custom_ops:
        also = (
            f" It also needs Select TF (Flex) ops: {', '.join(flex_ops)}."
            if flex_ops
            else ""
        )
        return ValueError(
            "The model needs ops that LiteRT has no kernel for, neither builtin nor "
            f"Select TF (Flex) (custom ops): {', '.join(custom_ops)}.{also} Rewrite "
            "the layers that use them with builtin-compatible ops (see "
            "https://ai.google.dev/edge/litert/models/ops_compatibility). " + received
        )
    if flex_ops:
        if any(_TENSOR_LIST_HINT in op for op in flex_ops):
            fix = (
                "These come from a recurrent layer that could not be lowered to a "
                "loop: build it with `unroll=True` (e.g. `LSTM(150, unroll=True, "
                "return_sequences=True)`) and a fixed `seq_len`"
            )
        else:
            fix = (
                "The stock LiteRT runtime has no kernels for them: rewrite the "
                "layers that use them with builtin-compatible ops (see "
                "https://ai.google.dev/edge/litert/models/ops_compatibility)"
            )
        return ValueError(
            "The model needs Select TF (Flex) ops, which the stock LiteRT runtime "
            f"cannot run: {', '.join(flex_ops)}. {fix}. {received}"
        )
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return RuntimeError(f"TFLite conversion failed: {first_line}")
