"""The TensorFlow side of `convert_to_tflite`: run `TFLiteConverter` for one mode.

Private helpers of `tflite_lowrank.export.converter`. `_run_converter` sets up the
converter for a quantization mode (builtins only; `Optimize.DEFAULT` for the quantized
modes, float16 storage, int8 calibration on `representative_data`; `"int4"` files are
converted as float32 and then rewritten by `export.int4`) and turns its
failures into errors that name the Select TF (Flex) operators and the fix
(`_translate_converter_error`). `_unrolled` sets `unroll=True` on recurrent layers for
one conversion: calibrating the `WHILE` loop of an LSTM or GRU crashes the converter (TF
2.21).

TensorFlow is imported inside `_run_converter` only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import keras
import numpy as np

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
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            # The int32 input is not quantized; TF warns that it has no statistics.
            warnings.filterwarnings("ignore", message=".*Statistics for quantized")
            return converter.convert()
    except Exception as error:
        raise _translate_converter_error(error, wrapper) from error
    finally:
        if captured.getvalue().strip():
            logger.debug("Converter output: %s", captured.getvalue().strip())


def _translate_converter_error(error: Exception, wrapper: keras.Model) -> Exception:
    text = str(error)
    flex_ops = []
    for data in getattr(error, "errors", None) or ():
        if "NEEDS_FLEX" in str(data) and data.operator.name:
            flex_ops.append(data.operator.name)
    if not flex_ops and "TF Select ops:" in text:
        line = text.split("TF Select ops:", 1)[1].splitlines()[0]
        flex_ops = [f"tf.{name.strip()}" for name in line.split(",") if name.strip()]
    if flex_ops:
        flex_ops = sorted(set(flex_ops))
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
            f"cannot run: {', '.join(flex_ops)}. {fix}. "
            f"Received: model={wrapper.name.removesuffix('_tflite')!r}"
        )
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return RuntimeError(f"TFLite conversion failed: {first_line}")
