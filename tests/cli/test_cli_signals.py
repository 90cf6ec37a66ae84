"""`tflite-lowrank benchmark` stopped by a signal leaves nothing behind.

SIGTERM (`timeout`, a CI cancel) and SIGHUP (a closed terminal) used to end the
parent at once: the LiteRT child kept running at full CPU with parent 1, and its
`tflite-lowrank-benchmark-*` temporary folder stayed. The command line now turns
both into an orderly stop, as Ctrl-C: the child is killed, the folder removed, and
the exit code is 128 + the signal's number.
"""

import os
import signal
import subprocess
import sys
import time

import keras
import psutil
import pytest

import tflite_lowrank as tl


def _tiny_file(tmp_path):
    inputs = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(50, 8)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    path = tmp_path / "model.tflite"
    tl.convert_to_tflite(model, path)
    return path


def _start_benchmark(path, **popen):
    """`tflite-lowrank benchmark` of `path` with runs enough to be stopped midway."""
    command = [sys.executable, "-m", "tflite_lowrank_cli", "benchmark", str(path)]
    return subprocess.Popen(
        [*command, "--runs", "100000000", "--no-progress"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _wait_for_child(process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(process.pid).children(recursive=True)
        workers = [c for c in children if "worker.py" in " ".join(c.cmdline())]
        if workers:
            return workers[0]
        if process.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"no LiteRT child appeared (exit {process.poll()})")


@pytest.mark.integration
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_benchmark_stopped_by_a_signal_kills_its_child_and_removes_its_folder(
    tmp_path, name
):
    path = _tiny_file(tmp_path)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = _start_benchmark(path, env={**os.environ, "TMPDIR": str(temporary)})
    try:
        child = _wait_for_child(process)
        process.send_signal(getattr(signal, name))
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + getattr(signal, name), stderr[-2000:]
    assert f"stopped by {name}" in stderr
    assert "Traceback" not in stderr
    try:
        child.wait(timeout=10)
    except psutil.TimeoutExpired:
        child.kill()
        pytest.fail("the LiteRT child outlived its parent")
    assert not list(temporary.glob("tflite-lowrank-benchmark-*"))


@pytest.mark.integration
def test_benchmark_interrupted_from_the_terminal_prints_no_child_traceback(tmp_path):
    path = _tiny_file(tmp_path)
    # Its own process group, as a terminal job.
    process = _start_benchmark(path, start_new_session=True)
    try:
        child = _wait_for_child(process)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    child.wait(timeout=10)


class _ClosedPipe:
    """A stdout whose reader went away (`tflite-lowrank ... | head -1`)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_output_into_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    from tflite_lowrank_cli.main import main

    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["env"]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_a_full_disk_is_an_error_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    import errno

    from tflite_lowrank.utils import files
    from tflite_lowrank_cli.main import main

    inputs = keras.Input((5,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(50, 8)(inputs))
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(tmp_path / "model.keras")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.tempfile, "mkstemp", full)
    code = main(["convert", str(tmp_path / "model.keras"), str(tmp_path / "m.tflite")])
    error = capsys.readouterr().err
    assert code == 2
    assert "No space left on device" in error and "m.tflite" in error
    assert "Traceback" not in error
    assert not (tmp_path / "m.tflite").exists()
