"""Shared fixtures, the in-process command line (`cli`), and the opt-in `integration`
tier (`pytest -m integration --run-integration`)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gc  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-integration",
        action="store_true",
        default=False,
        help=(
            "Also run tests marked integration (end-to-end runs: training, the "
            "demo, notebooks, several processes)."
        ),
    )


def pytest_collection_finish(session):
    # Keras' `Layer.__delattr__` runs a full `gc.collect()` for each variable it drops,
    # as every split does: after the test modules' imports that walks the millions of
    # objects TensorFlow and Keras made (half a second a split on 2 cores). Frozen
    # after one collection, they are left out of every later one; only garbage made
    # from them later would stay uncollected.
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-integration"):
        return
    skip = pytest.mark.skip(reason="integration: opt in with --run-integration")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A seeded NumPy generator; also seeds Keras, TensorFlow and Python."""
    import keras

    keras.utils.set_random_seed(0)
    return np.random.default_rng(0)


TINY_VOCAB, TINY_SEQ_LEN = 50, 5


@pytest.fixture(scope="session")
def tiny_dan_files(tmp_path_factory):
    """A folder with a tiny DAN built once per session, to read and not to change
    (copy a file into `tmp_path` first): `dan.keras` (`build_dan`, vocabulary 50,
    5 token ids, embedding 8, 2 classes, seed 0), `dan.tflite`, its float32
    conversion, `data.npz` (`token_ids`: 30 rows of ids in [2, 50), every other row
    padded after 3 ids; `labels`: the classes `dan.tflite` predicts for them) and
    `vocab.txt` (`<pad>`, `<unk>`, `w0` ... `w47`, one a line)."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from tflite_lowrank.export.converter import convert_to_tflite
    from tflite_lowrank.models.paper import build_dan

    folder = tmp_path_factory.mktemp("tiny_dan")
    keras.utils.set_random_seed(0)
    dan = build_dan(TINY_VOCAB, 2, seq_len=TINY_SEQ_LEN, embedding_dim=8)
    dan.save(folder / "dan.keras")
    convert_to_tflite(dan, folder / "dan.tflite")
    ids = np.random.default_rng(0).integers(2, TINY_VOCAB, size=(30, TINY_SEQ_LEN))
    ids = ids.astype(np.int32)
    ids[::2, 3:] = 0
    runner = Interpreter(model_path=str(folder / "dan.tflite")).get_signature_runner(
        "serving_default"
    )
    labels = [np.argmax(runner(token_ids=row[None])["output_0"]) for row in ids]
    np.savez(folder / "data.npz", token_ids=ids, labels=np.array(labels))
    words = ["<pad>", "<unk>", *(f"w{index}" for index in range(TINY_VOCAB - 2))]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    return folder


class CliResult(NamedTuple):
    """What a `tflite-lowrank` run left: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capfd):
    """Runs `tflite-lowrank ARGS...` in this process: `tflite_lowrank_cli.main.main`.

    Returns a function `cli(*args, cwd=None) -> CliResult`: the exit code `main`
    returned (or argparse's `SystemExit` code: 2 for usage errors, 0 for `--help`)
    and what was written to stdout and stderr, by Python and at the file-descriptor
    level (LiteRT's child processes included), as a subprocess would see it. The
    global state a run can change is restored after each call: the root logger's
    handlers and level (`main` calls `logging.basicConfig`), the current folder,
    `os.environ` and `sys.path` (`--import` adds the current folder). The console
    script itself is run as a real process by tests/cli/test_entry_point.py.
    """
    from tflite_lowrank_cli.main import main

    def run(*args, cwd=None) -> CliResult:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        folder, environ, path = os.getcwd(), dict(os.environ), list(sys.path)
        capfd.readouterr()  # Only this run's output below.
        try:
            if cwd is not None:
                os.chdir(cwd)
            try:
                returncode = main([str(arg) for arg in args])
            except SystemExit as exit_:  # argparse: usage errors and --help
                code = exit_.code
                returncode = (
                    code if isinstance(code, int) else (0 if code is None else 1)
                )
            sys.stdout.flush()
            sys.stderr.flush()
            captured = capfd.readouterr()
        finally:
            os.chdir(folder)
            os.environ.clear()
            os.environ.update(environ)
            sys.path[:] = path
            for handler in root.handlers:
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
        return CliResult(returncode, captured.out, captured.err)

    return run
