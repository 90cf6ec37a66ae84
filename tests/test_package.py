"""The package surface: curated `__all__`, version, registration on import (the
console entry point is tested in tests/cli/test_entry_point.py)."""

import importlib
import subprocess
import sys

import pytest

import tflite_lowrank as tl


def test_all_names_resolve():
    for name in tl.__all__:
        assert getattr(tl, name) is not None, name


def test_all_names_are_unique():
    names = [name for name in tl.__all__ if name != "__version__"]
    assert len(names) == len(set(names))


def test_version_matches_distribution_metadata():
    import importlib.metadata as metadata

    assert tl.__version__ == metadata.version("tflite-lowrank")


def test_saved_model_loads_without_custom_objects_after_importing_the_package(tmp_path):
    # Importing the package registers its Keras objects (as KerasHub does): no import
    # hook, no `custom_objects`, whichever of Keras and the package comes first. The
    # model is saved here; a fresh process, which has imported nothing, loads it.
    import keras

    from tflite_lowrank.layers.low_rank import LowRankEmbedding

    path = tmp_path / "low_rank.keras"
    model = keras.Sequential(
        [keras.Input((3,), dtype="int32"), LowRankEmbedding(20, 8, 2)]
    )
    model.save(path)
    load = f"""
import sys
import tflite_lowrank
assert "keras" in sys.modules and not any(
    type(finder).__module__.startswith("tflite_lowrank") for finder in sys.meta_path
)
import keras
model = keras.saving.load_model({str(path)!r})
print(type(model.layers[0]).__name__)
"""
    completed = subprocess.run(
        [sys.executable, "-c", load],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().endswith("LowRankEmbedding")


SUB_PACKAGES = (
    "factorization",
    "layers",
    "training",
    "export",
    "litert",
    "benchmark",
    "data",
    "models",
    "apps",
    "apps.demo",
    "apps.android",
    "utils",
)


@pytest.mark.parametrize("name", SUB_PACKAGES)
def test_sub_package_face_names_resolve_to_their_modules_objects(name):
    # Each sub-package's `__init__` is its face: a curated `__all__` of names that
    # exist, each the defining module's own object (no copies, no aliases).
    package = importlib.import_module(f"tflite_lowrank.{name}")
    assert package.__doc__
    assert package.__all__, name
    assert len(package.__all__) == len(set(package.__all__)), name
    for attribute in package.__all__:
        value = getattr(package, attribute)
        module = getattr(value, "__module__", None)
        if module and module.startswith("tflite_lowrank."):
            assert getattr(importlib.import_module(module), attribute) is value


def test_top_level_names_are_the_sub_packages_objects():
    for name in tl.__all__:
        value = getattr(tl, name)
        module = getattr(value, "__module__", None)
        if module and module.startswith("tflite_lowrank."):
            assert getattr(importlib.import_module(module), name) is value, name


@pytest.mark.parametrize(
    "old",
    [
        "callbacks",
        "schedules",
        "factorize",
        "convert",
        "fold",
        "datasets",
        "text",
        "demo",
        "android",
        "cli",
        "compression",
        "__main__",
    ],
)
def test_the_unreleased_shim_paths_are_gone(old):
    # 0.1.0 was never released: the re-export modules of earlier layouts went with
    # the restructure, so each name has one import path.
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"tflite_lowrank.{old}")
