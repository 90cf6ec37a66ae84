"""The package surface: curated `__all__`, version, and the console entry point."""

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


def test_env_command_prints_versions():
    completed = subprocess.run(
        [sys.executable, "-m", "tflite_lowrank", "env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "tflite-lowrank: " in completed.stdout
    assert "keras: " in completed.stdout


def test_unknown_command_is_a_usage_error():
    completed = subprocess.run(
        [sys.executable, "-m", "tflite_lowrank", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "invalid choice" in completed.stderr


def test_saved_model_loads_without_custom_objects_after_importing_the_package(tmp_path):
    # Importing the package registers its Keras objects (as KerasHub does): no import
    # hook, no `custom_objects`, whichever of Keras and the package comes first.
    path = tmp_path / "low_rank.keras"
    script = f"""
import numpy as np
import tflite_lowrank
import keras
from tflite_lowrank.compression.layers import LowRankEmbedding
model = keras.Sequential([keras.Input((3,), dtype="int32"), LowRankEmbedding(20, 8, 2)])
model.save({str(path)!r})
"""
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
    for code in (script, load):
        completed = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().endswith("LowRankEmbedding")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("callbacks", "compression.callback"),
        ("layers", "compression.layers"),
        ("schedules", "compression.schedules"),
        ("factorize", "compression.svd"),
        ("convert", "export.converter"),
        ("fold", "export.fold"),
        ("benchmark", "benchmark.api"),
        ("datasets", "data.datasets"),
        ("text", "data.tokenizer"),
        ("models", "models.paper"),
        ("demo", "apps.demo.run"),
        ("android", "apps.android.export"),
    ],
)
def test_old_module_paths_reexport_the_same_objects(old, new):
    # Users import from the paths the package had before its sub-packages; every
    # public name there must be the implementation's own object.
    old_module = importlib.import_module(f"tflite_lowrank.{old}")
    new_module = importlib.import_module(f"tflite_lowrank.{new}")
    assert old_module.__all__
    for name in old_module.__all__:
        value = getattr(old_module, name)
        if hasattr(new_module, name):
            assert getattr(new_module, name) is value, name


def test_cli_module_path_still_gives_main():
    from tflite_lowrank.cli import main
    from tflite_lowrank_cli.main import main as cli_main

    assert main is cli_main
