"""The `rank` the Android manifest reports for a compressed file."""

import keras
import numpy as np
import pytest

import tflite_lowrank as tl
from tflite_lowrank.apps.android.assets import _factor_rank
from tflite_lowrank.litert import inspect_model

VOCAB, DIM, SEQ = 60, 8, 5


def _model(embedding):
    inputs = keras.Input((SEQ,), dtype="int32")
    x = embedding(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def _info(tmp_path, embedding, name):
    path = tmp_path / f"{name}.tflite"
    tl.convert_to_tflite(_model(embedding), path)
    return inspect_model(path.read_bytes())


@pytest.mark.parametrize("ranks", [(4, 2, 1), (3, 3)], ids=["4-2-1", "3-3"])
def test_manifest_rank_of_a_banded_file_is_its_single_band_equivalent(tmp_path, ranks):
    boundaries = (10, 30)[: len(ranks) - 1]
    info = _info(
        tmp_path, tl.BandedLowRankEmbedding(VOCAB, DIM, boundaries, ranks), "banded"
    )
    sizes = np.diff((0, *boundaries, VOCAB))
    params = int(np.dot(sizes, ranks)) + sum(ranks) * DIM
    expected = round(params / (VOCAB + DIM))
    assert _factor_rank(info, DIM) == expected
    if len(set(ranks)) > 1:
        assert expected != min(ranks)  # not the narrowest band's width


def test_manifest_rank_of_single_factors_and_of_a_full_table(tmp_path):
    single = _info(tmp_path, tl.LowRankEmbedding(VOCAB, DIM, 3), "single")
    full = _info(tmp_path, keras.layers.Embedding(VOCAB, DIM), "full")
    assert _factor_rank(single, DIM) == 3
    assert _factor_rank(full, DIM) is None


def test_assets_with_invalid_utf8_name_the_file(tmp_path):
    import hashlib
    import json
    import shutil
    from pathlib import Path

    from tflite_lowrank.apps.android import check_android_assets

    fixture = (
        Path(__file__).resolve().parents[2]
        / "android_demo/core/src/test/resources/assets_fixture"
    )
    assets = tmp_path / "assets"
    shutil.copytree(fixture, assets)
    test_set = assets / "test_set.tsv"
    content = test_set.read_bytes() + b"pos\tcaf\xe9 au lait\n"
    test_set.write_bytes(content)
    manifest = json.loads((assets / "manifest.json").read_text())
    manifest["files"]["test_set.tsv"] = {
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
    }
    (assets / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"test_set\.tsv is not valid UTF-8"):
        check_android_assets(assets)
