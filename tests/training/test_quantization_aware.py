"""Quantization-aware retraining: codes trained on the per-row grid of the file."""

import json

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.factorization.quantization import dequantize_codes, quantize_rows
from tflite_lowrank.layers.lookup import fake_quantize_rows, fake_quantize_table
from tflite_lowrank.litert import interpreter as _interpreter

VOCAB, DIM, SEQ, BATCH = 3000, 16, 6, 32
# Tables of 1024 values or more are stored on the per-row grid (smaller stay float32).


def _data(rng, rows=320):
    x = rng.integers(1, VOCAB, size=(rows, SEQ)).astype("int32")
    return x, (x[:, 0] % 3).astype("int32")


def _dan():
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _split_and_train(data, quantization_aware, bands=2, epochs=3, compression=0.8):
    x, y = data
    keras.utils.set_random_seed(0)
    model = _dan()
    split = tl.EmbeddingFactorization(
        compression=compression,
        at_epoch=1,
        bands=bands,
        quantization_aware=quantization_aware,
        verbose=0,
    )
    model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=[split], verbose=0)
    return model, split


def _run(path, ids):
    runner = _interpreter.Runner(_interpreter.make_interpreter(model_path=str(path)))
    return runner.predict(ids)


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


MODES = ("int8_rows", "int4_rows", "int4")


@pytest.mark.parametrize("mode", ["int8_rows", "int4_rows"])
def test_row_fake_quantization_is_the_files_grid_with_an_identity_gradient(mode, rng):
    import tensorflow as tf

    bits = {"int8_rows": 8, "int4_rows": 4}[mode]
    values = rng.standard_normal((50, 7)).astype("float32")
    values[3] = 0.0
    values[4] *= 1e-3
    values[5] *= 1e-8  # a 4-bit scale that rounds to 0 in float16
    rounded = np.asarray(fake_quantize_rows(values, mode))
    assert np.isfinite(rounded).all()
    np.testing.assert_array_equal(rounded, dequantize_codes(values, mode))
    levels, scales = quantize_rows(values, bits)
    assert np.abs(levels).max() == {8: 127, 4: 7}[bits]
    assert not rounded[3].any()
    assert np.all(
        np.abs(rounded - values) <= 0.5 * scales.astype("float64")[:, None] + 1e-7
    )
    # A row too small for a float16 scale is stored as zeros (int8: float32 scales).
    assert np.abs(rounded[5] - values[5]).max() <= 4.2e-7
    assert bits == 8 or not rounded[5].any()
    tensor = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        loss = tf.reduce_sum(fake_quantize_rows(tensor, mode) * 3.0)
    assert np.isfinite(loss.numpy())
    np.testing.assert_array_equal(tape.gradient(loss, tensor).numpy(), 3.0)


def test_column_fake_quantization_is_the_int4_files_grid(rng):
    import tensorflow as tf

    table = rng.standard_normal((300, 5)).astype("float32")
    table[:, 2] = 0.0
    rounded = np.asarray(fake_quantize_table(table, "int4"))
    np.testing.assert_allclose(rounded, dequantize_codes(table, "int4"), atol=1e-6)
    steps = np.abs(table).max(axis=0) / 7
    assert np.all(np.abs(rounded - table) <= 0.5 * steps + 1e-6)
    assert len(np.unique(rounded[:, 0])) <= 15 and not rounded[:, 2].any()
    variable = tf.Variable(table)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(fake_quantize_table(variable, "int4"), [1, 1]))
    gradient = tf.convert_to_tensor(tape.gradient(loss, variable)).numpy()
    assert gradient[1].tolist() == [2.0] * 5 and not np.delete(gradient, 1, 0).any()
    assert fake_quantize_table(table, "int4_rows") is table


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("banded", [False, True])
def test_a_quantization_aware_layer_reads_the_rounded_codes(banded, mode, rng):
    ids = rng.integers(0, VOCAB, (4, SEQ)).astype("int32")
    if banded:
        args = {"boundaries": [40], "ranks": [6, 3]}
        layer = tl.BandedLowRankEmbedding(VOCAB, DIM, **args, code_quantization=mode)
        plain = tl.BandedLowRankEmbedding(VOCAB, DIM, **args)
    else:
        layer = tl.LowRankEmbedding(VOCAB, DIM, rank=5, code_quantization=mode)
        plain = tl.LowRankEmbedding(VOCAB, DIM, rank=5)
    layer.build()
    plain.build()
    plain.set_weights(layer.get_weights())
    for table in _codes(plain):
        table.assign(dequantize_codes(np.asarray(table), mode))
    for training in (False, True):
        np.testing.assert_allclose(
            layer(ids, training=training), plain(ids, training=training), atol=1e-6
        )
    config = layer.get_config()
    assert config["code_quantization"] == mode
    assert type(layer).from_config(config).code_quantization == mode


def _codes(layer):
    if isinstance(layer, tl.BandedLowRankEmbedding):
        return layer.embeddings_a
    return [layer.embeddings_a]


@pytest.mark.parametrize("bad", [4, "int2_rows", "dynamic", True])
def test_code_quantization_must_be_a_code_mode(bad):
    with pytest.raises(ValueError, match=f"Received: code_quantization={bad!r}"):
        tl.LowRankEmbedding(VOCAB, DIM, rank=4, code_quantization=bad)


def test_the_recipe_field_is_checked_printed_and_round_trips():
    recipe = tl.SplitRecipe(quantization_aware="int4_rows")
    assert tl.SplitRecipe().quantization_aware is None
    assert "int4_rows" in recipe.describe()
    config = json.loads(json.dumps(recipe.get_config()))
    assert tl.SplitRecipe.from_config(config) == recipe
    with pytest.raises(ValueError, match="Received: quantization_aware='int2_rows'"):
        tl.SplitRecipe(quantization_aware="int2_rows")
    with pytest.raises(ValueError, match="quantization_aware='dynamic'"):
        tl.EmbeddingFactorization(
            compression=0.5, at_epoch=1, quantization_aware="dynamic"
        )


@pytest.mark.parametrize("mode", MODES)
def test_the_file_scores_as_the_quantization_aware_model(mode, rng, tmp_path):
    data = _data(rng)
    # int8 rows pay 12 bytes of scales: only codes wider than 4 are stored so.
    model, split = _split_and_train(
        data, mode, **({"bands": 1, "compression": 0.6} if mode == "int8_rows" else {})
    )
    layer = model.get_layer("embedding")
    assert layer.code_quantization == mode
    assert split.result.recipe.quantization_aware == mode
    ids = data[0][:64]
    expected = _softmax(model.predict(ids, verbose=0))
    for quantization in (mode, "float32"):
        path = tmp_path / f"{quantization}.tflite"
        result = tl.convert_to_tflite(model, path, quantization=quantization)
        if quantization in ("int8_rows", "int4_rows"):
            assert "EMBEDDING_LOOKUP" in result.ops
        elif quantization == "int4":
            assert any(t.dtype == "int4" for t in result.embedding_tensors)
        # Float round-off only: far below the per-row step the codes were rounded to.
        np.testing.assert_allclose(_run(path, ids), expected, atol=2e-5)
    # The conversion left the model as it was: its codes and its rounding.
    assert layer.code_quantization == mode
    np.testing.assert_allclose(_softmax(model.predict(ids, verbose=0)), expected)


def test_without_quantization_aware_training_the_int4_file_differs(rng, tmp_path):
    data = _data(rng)
    model, _ = _split_and_train(data, None)
    ids = data[0][:64]
    path = tmp_path / "int4_rows.tflite"
    result = tl.convert_to_tflite(model, path, quantization="int4_rows")
    assert "EMBEDDING_LOOKUP" in result.ops
    difference = np.abs(_run(path, ids) - _softmax(model.predict(ids, verbose=0)))
    assert difference.max() > 1e-3


def test_converting_to_another_grid_warns(rng, tmp_path, caplog):
    model, _ = _split_and_train(_data(rng), "int4_rows", epochs=2)
    with caplog.at_level("WARNING", logger="tflite_lowrank.export.converter"):
        tl.convert_to_tflite(model, tmp_path / "d.tflite", quantization="dynamic")
    assert "trained its codes for 'int4_rows' files" in caplog.text


def test_quantization_aware_split_resumes_from_backup_and_restore(rng, tmp_path):
    x, y = _data(rng)

    def run(folder, interrupt=None):
        keras.utils.set_random_seed(0)
        model = _dan()
        backup = keras.callbacks.BackupAndRestore(str(folder))
        split = tl.EmbeddingFactorization(
            compression=0.8,
            at_epoch=1,
            quantization_aware="int4_rows",
            coordinate_with=[backup],
            verbose=0,
        )
        callbacks = [backup, split] + ([interrupt] if interrupt else [])
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=3,
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
        return model, split

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    reference, _ = run(tmp_path / "reference")
    with pytest.raises(RuntimeError, match="interrupted"):
        run(tmp_path / "backup", Kill())
    model, split = run(tmp_path / "backup")
    assert split.result.resumed
    assert split.result.recipe.quantization_aware == "int4_rows"
    assert model.get_layer("embedding").code_quantization == "int4_rows"
    for resumed, expected in zip(
        model.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(resumed, expected, atol=1e-5)


def test_the_grid_modules_examples_hold():
    import doctest

    from tflite_lowrank.factorization import quantization
    from tflite_lowrank.layers import lookup

    for module in (quantization, lookup):
        result = doctest.testmod(module, extraglobs={"np": np})
        assert result.attempted and not result.failed, module.__name__
