"""`convert_to_tflite` on ops LiteRT cannot run, and what it prints (issue 30).

- an op with neither a builtin nor a Select TF (Flex) kernel (`tf.Svd`: MLIR says
  "neither a custom op nor a flex op") was a `RuntimeError`; it is the documented
  `ValueError`, naming the op;
- an int8 conversion printed the converter's C++ lines ("fully_quantize: 0,
  inference_type: 6 ...", MLIR and absl lines) and LiteRT's delegate line to stderr;
  a successful conversion now prints nothing at the default logging level, and the
  lines go to the DEBUG log.
"""

import logging

import keras
import numpy as np
import pytest

from tflite_lowrank.export.converter import convert_to_tflite

SEQ_LEN, VOCAB = 5, 50


class SingularValues(keras.layers.Layer):
    """The singular values of (batch, 2, 2) blocks: `tf.Svd` has no LiteRT kernel,
    not even a Flex one."""

    def call(self, inputs):
        import tensorflow as tf

        blocks = tf.reshape(inputs[:, :4], (-1, 2, 2))
        return tf.linalg.svd(blocks, compute_uv=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2)


class SingularValuesAndCounts(SingularValues):
    """`tf.Svd` (no kernel at all) and `tf.DenseBincount` (a Flex kernel)."""

    def call(self, inputs):
        import tensorflow as tf

        counts = tf.math.bincount(
            tf.cast(inputs[:, :2] > 0, "int32"), minlength=2, maxlength=2, axis=-1
        )
        return super().call(inputs) + tf.cast(counts, "float32")


def pooled_model(layer: keras.layers.Layer) -> keras.Model:
    token_ids = keras.Input((SEQ_LEN,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4)(token_ids)
    x = layer(keras.layers.GlobalAveragePooling1D()(x))
    return keras.Model(token_ids, keras.layers.Dense(2, activation="softmax")(x))


def test_an_op_without_any_kernel_is_a_value_error_naming_it(tmp_path, capfd):
    model = pooled_model(SingularValues())
    with pytest.raises(ValueError, match=r"tf\.Svd.*Received: model=") as info:
        convert_to_tflite(model, tmp_path / "svd.tflite")
    assert "Flex" in str(info.value) and "custom" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    assert "Svd" not in capfd.readouterr().err  # said once, in the error


def test_flex_and_kernel_less_ops_are_named_together(tmp_path):
    model = pooled_model(SingularValuesAndCounts())
    with pytest.raises(ValueError) as info:
        convert_to_tflite(model, tmp_path / "both.tflite")
    assert "tf.Svd" in str(info.value) and "tf.DenseBincount" in str(info.value)


@pytest.fixture
def default_logging():
    """The root logger at WARNING, as in a script that configures nothing."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    yield
    root.setLevel(level)


def test_int8_conversion_prints_nothing_to_stderr(tmp_path, capfd, default_logging):
    keras.utils.set_random_seed(0)
    model = pooled_model(keras.layers.Dense(8, activation="relu"))
    rows = np.random.default_rng(0).integers(1, VOCAB, size=(16, SEQ_LEN))
    capfd.readouterr()
    result = convert_to_tflite(
        model, tmp_path / "int8.tflite", quantization="int8", representative_data=rows
    )
    captured = capfd.readouterr()
    assert result.quantization == "int8"
    assert captured.err == ""
    assert captured.out == ""


def test_the_converters_lines_go_to_the_debug_log(tmp_path, caplog):
    keras.utils.set_random_seed(0)
    model = pooled_model(keras.layers.Dense(8, activation="relu"))
    rows = np.random.default_rng(0).integers(1, VOCAB, size=(16, SEQ_LEN))
    with caplog.at_level(logging.DEBUG, logger="tflite_lowrank"):
        convert_to_tflite(
            model,
            tmp_path / "int8.tflite",
            quantization="int8",
            representative_data=rows,
        )
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("fully_quantize" in message for message in debug), debug
