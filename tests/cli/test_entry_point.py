"""The console entry point as a user runs it: a few real processes.

The other command-line tests call `tflite_lowrank_cli.main.main(argv)` in the test
process (the `cli` fixture of tests/conftest.py). These start the installed
`tflite-lowrank` script, or `python -m tflite_lowrank_cli`, and check what only a real
process shows: the exit status `sys.exit(main())` gives, and the streams.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# `pip install` puts the console script next to the interpreter.
SCRIPT = Path(sys.executable).with_name("tflite-lowrank")


def run(command, *args, cwd=None):
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def script():
    assert os.access(SCRIPT, os.X_OK), f"no console script at {SCRIPT}"
    return [str(SCRIPT)]


PYTHON_M = [sys.executable, "-m", "tflite_lowrank_cli"]


def test_console_script_help_lists_the_commands(script):
    completed = run(script, "--help")
    assert completed.returncode == 0, completed.stderr
    for command in ("demo", "env", "convert", "benchmark", "compare", "export-android"):
        assert command in completed.stdout, command
    assert completed.stdout.startswith("usage: tflite-lowrank")


def test_console_script_unknown_command_is_a_usage_error(script):
    completed = run(script, "no-such-command")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "invalid choice" in completed.stderr


def test_env_command_prints_versions():
    completed = run(PYTHON_M, "env")
    assert completed.returncode == 0, completed.stderr
    assert "tflite-lowrank: " in completed.stdout
    assert "keras: " in completed.stdout


def test_convert_in_a_process_of_its_own(tiny_dan_files, tmp_path):
    # The one real conversion through `python -m`: stdout holds the JSON only, with
    # TensorFlow's and the converter's start-up in the same process.
    completed = run(
        PYTHON_M, "convert", tiny_dan_files / "dan.keras", "dan.tflite", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert result["quantization"] == "float32"
    assert result["size_bytes"] == (tmp_path / "dan.tflite").stat().st_size
    assert [path.name for path in tmp_path.iterdir()] == ["dan.tflite"]
