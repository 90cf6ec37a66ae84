"""Errors of the layers and of `tl.load_model` name what is wrong, with its value.

A banded layer's out-of-range token id is reported as the id the layer received,
with the layer's `input_dim` (not relative to a band); `tl.load_model` says when it is
given a folder, and names the file and the mismatch when a `.keras` archive's
`config.json` and `model.weights.h5` do not belong together.
"""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite_lowrank as tl
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.reversible import ReversibleBandedLowRankEmbedding

VOCAB, DIM, SEQ = 50, 8, 5


def banded(cls=BandedLowRankEmbedding):
    return cls(VOCAB, DIM, boundaries=[10], ranks=[4, 2], name="banded")


# ------------------------------------------------------------ out-of-range ids


@pytest.mark.parametrize(
    "cls", [BandedLowRankEmbedding, ReversibleBandedLowRankEmbedding]
)
@pytest.mark.parametrize("bad_id", [60, 50, -3])
def test_banded_out_of_range_id_is_reported_as_received(cls, bad_id):
    layer = banded(cls)
    with pytest.raises(
        ValueError,
        match=rf"Layer 'banded' received token id {bad_id} at position \(0, 1\), "
        rf"outside \[0, 50\) \(input_dim=50\).*Received: inputs\[0, 1\]={bad_id}",
    ):
        layer(np.array([[3, bad_id, 7]]))


def test_banded_out_of_range_id_in_a_compiled_model_names_the_id():
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(banded()(inputs))
    model = keras.Model(inputs, hidden)
    ids = np.array([[1, 2, 3, 4, 60], [1, 2, 3, 4, 5]])
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Layer `banded` received token ids outside \[0, 50\) \(input_dim=50\)"
        r".*\[1\] \[60\]",
    ):
        model.predict(ids, verbose=0)
    # In range: the same values as the reconstructed table.
    good = ids % VOCAB
    table = banded_layer(model).reconstructed_table()
    np.testing.assert_allclose(
        model.predict(good, verbose=0), table[good].mean(axis=1), rtol=1e-5, atol=1e-6
    )


def banded_layer(model):
    return next(layer for layer in model.layers if layer.name == "banded")


# ------------------------------------------------------------------- load_model


def saved(tmp_path, name="model.keras", vocab=VOCAB, rank=2):
    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = tl.LowRankEmbedding(vocab, DIM, rank=rank, name="embedding")(inputs)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / name
    model.save(path)
    return path


def rewritten(source, target, **replace):
    """A copy of the archive `source` with some of its files replaced."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            key = name.replace(".", "_")
            new.writestr(name, replace[key](data) if key in replace else data)
    return target


def edited_config(edit):
    def replace(data):
        config = json.loads(data)
        edit(config)
        return json.dumps(config).encode()

    return replace


def test_load_model_of_a_folder_says_a_keras_file_is_expected(tmp_path):
    saved(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"is a folder, not a `.keras` file.*it holds model.keras.*"
        rf"Received: filepath='{tmp_path}'",
    ):
        tl.load_model(tmp_path)
    empty = tmp_path / "empty.keras"
    empty.mkdir()
    with pytest.raises(ValueError, match="is a folder, not a `.keras` file"):
        tl.load_model(empty)


# What Keras warns while it tries to load a mismatched weights file.
@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
@pytest.mark.filterwarnings(
    "ignore:Skipping variable loading for optimizer:UserWarning"
)
def test_load_model_with_swapped_weights_names_the_file_and_the_layer(tmp_path):
    path = saved(tmp_path)
    other = saved(tmp_path, "other.keras", vocab=60, rank=3)
    with zipfile.ZipFile(other) as archive:
        weights = archive.read("model.weights.h5")
    broken = rewritten(
        path, tmp_path / "swapped.keras", model_weights_h5=lambda _: weights
    )
    with pytest.raises(
        ValueError,
        match=r"'.*swapped.keras': its model.weights.h5 does not fit the model its "
        r"config.json describes: layer 'embedding' \(LowRankEmbedding\) has weights "
        r"of shapes \[\(50, 2\), \(2, 8\)\] by config.json, but model.weights.h5 "
        r"holds \[\(60, 3\), \(3, 8\)\]",
    ):
        tl.load_model(broken)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_load_model_with_an_edited_config_names_the_file_and_the_layer(tmp_path):
    path = saved(tmp_path)

    def rank_4(config):
        config["config"]["layers"][1]["config"]["rank"] = 4

    broken = rewritten(path, tmp_path / "rank.keras", config_json=edited_config(rank_4))
    with pytest.raises(
        ValueError,
        match=r"'.*rank.keras': its model.weights.h5 does not fit .* layer "
        r"'embedding' .*\[\(50, 4\), \(4, 8\)\] by config.json, but "
        r"model.weights.h5 holds \[\(50, 2\), \(2, 8\)\]",
    ):
        tl.load_model(broken)


@pytest.mark.parametrize(
    "replace, match",
    [
        (lambda data: data[:-5], r"its config.json is not valid JSON \(line 1, column"),
        (
            edited_config(
                lambda config: config["config"]["layers"][-1].update(class_name="Dence")
            ),
            r"Keras cannot build the model its config.json describes: Could not "
            r"deserialize 'keras.layers.Dence'",
        ),
    ],
    ids=["not_json", "unknown_class"],
)
def test_load_model_with_a_broken_config_names_the_file(replace, match, tmp_path):
    broken = rewritten(saved(tmp_path), tmp_path / "broken.keras", config_json=replace)
    with pytest.raises(ValueError, match=rf"'.*broken.keras': {match}"):
        tl.load_model(broken)
