"""The package surface: curated `__all__`, version, and the console entry point."""

import subprocess
import sys

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
