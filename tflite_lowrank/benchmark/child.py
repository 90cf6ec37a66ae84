"""The parent side of `benchmark_tflite`'s child process.

Private helpers of `tflite_lowrank.benchmark.api`. `_run_child` writes the request
(`request.json`, `token_ids.npy`, or `inputs.npz` for a file with several inputs) to
a temporary folder, runs the measurement script `tflite_lowrank/litert/worker.py` in a
fresh `python` (as a script: it imports NumPy and LiteRT only, never this package nor
TensorFlow), and reads `report.json` and `predictions.npy` back into a
`BenchmarkResult`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tflite_lowrank.benchmark.results import BenchmarkResult
from tflite_lowrank.litert import scoring as _scoring
from tflite_lowrank.litert import worker as _worker

# Records keep the name of the public module (the CLI's `-v` prints it).
logger = logging.getLogger("tflite_lowrank.benchmark.api")


@dataclasses.dataclass(frozen=True)
class _FileSpec:
    """A checked file and its rows: `output` is the scored output (None: the only
    one), `mask` the tokens a per-token output is scored on, `storage` the file's
    `litert.weights.storage_kind` and `tables` its embedding table shapes."""

    path: str
    size_bytes: int
    seq_len: int
    num_labels: int
    token_ids: np.ndarray | dict[str, np.ndarray]
    labels: np.ndarray | None
    name: str = "path"
    output: str | None = None
    output_shape: tuple[int, ...] = ()
    mask: np.ndarray | None = None
    storage: str = "float32"
    tables: tuple[tuple[int, ...], ...] = ()


def _run_child(
    spec: _FileSpec,
    *,
    num_threads: int,
    warmup_runs: int,
    num_runs: int,
    progress: bool,
    want_predictions: bool,
) -> BenchmarkResult:
    """Runs `_measure` in a fresh Python process and reads its report back.

    A plain `subprocess` (not `multiprocessing`), so that callers' scripts need no
    `if __name__ == "__main__":` guard and notebooks work.
    """
    request = {
        "path": os.path.abspath(spec.path),
        "num_threads": int(num_threads),
        "warmup_runs": int(warmup_runs),
        "num_runs": int(num_runs),
        "progress": progress,
        "want_predictions": want_predictions,
        "output": spec.output,
        # One class per row, or per token of a per-token output.
        "prediction_shape": list(spec.output_shape[1:-1]),
    }
    # The worker imports its sibling `interpreter.py` through the script's folder on
    # `sys.path`, which `PYTHONSAFEPATH` would leave out.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONSAFEPATH"}
    logger.info("Benchmarking %s in a child process.", spec.path)
    with tempfile.TemporaryDirectory(prefix="tflite-lowrank-benchmark-") as folder:
        if isinstance(spec.token_ids, dict):  # Several inputs, keyed by name.
            np.savez(Path(folder, "inputs.npz"), **spec.token_ids)
        else:
            np.save(Path(folder, "token_ids.npy"), spec.token_ids)
        Path(folder, "request.json").write_text(json.dumps(request))
        completed = subprocess.run(
            [sys.executable, os.fspath(_WORKER_PATH), folder],
            stdin=subprocess.DEVNULL,
            stdout=_stderr_fileno(),  # Keep our stdout clean for results.
            env=env,
            check=False,
            # Its own session: a Ctrl-C in the terminal reaches this process only,
            # whose KeyboardInterrupt kills the child (`subprocess.run`) without the
            # child printing a traceback of its own.
            start_new_session=True,
        )
        report = _read_report(Path(folder, "report.json"))
        predictions_path = Path(folder, "predictions.npy")
        predictions = np.load(predictions_path) if predictions_path.exists() else None
        loading = Path(folder, _worker.LOADING_MARKER).exists()
    if (report is None and loading) or (report or {}).get("stage") == "load":
        detail = (
            f"the LiteRT process crashed (exit code {completed.returncode})"
            if report is None
            else report["error"]
        )
        raise ValueError(
            "LiteRT could not load and run the file: it is truncated, corrupted or "
            f"not a model this runtime can run ({detail}). Convert the model again "
            f"or copy the file again. Received: {spec.name}={spec.path!r}"
        )
    if report is None:
        raise RuntimeError(
            f"The benchmark process for {spec.path} {_death(completed.returncode)} "
            "before reporting; see its messages above."
        )
    heavy_modules = report.pop("heavy_modules", [])
    if heavy_modules:
        logger.warning(
            "The benchmark process for %s imported %s: its memory figures include "
            "them.",
            spec.path,
            ", ".join(heavy_modules[:3]),
        )
    if "error" in report:
        raise RuntimeError(f"Benchmarking {spec.path} failed: {report['error']}")
    accuracy = (
        _scoring.accuracy(predictions, spec.labels, spec.mask)
        if spec.labels is not None
        else None
    )
    return BenchmarkResult(
        path=spec.path,
        size_bytes=spec.size_bytes,
        seq_len=spec.seq_len,
        num_labels=spec.num_labels,
        num_threads=int(num_threads),
        warmup_runs=int(warmup_runs),
        num_runs=int(num_runs),
        num_samples=_num_rows(spec.token_ids),
        accuracy=accuracy,
        predictions=predictions,
        output=spec.output,
        **report,
    )


def _read_report(path: Path) -> dict | None:
    """The child's report; None when it wrote none (it died), or was killed while
    writing it (the worker writes it atomically, but a foreign file could be
    half-written)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _death(returncode: int) -> str:
    """How the child ended, for messages: a signal by name (SIGKILL: often the
    system running out of memory), else the exit code."""
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (the system may have run out of memory)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"died (exit code {returncode})"


def _num_rows(token_ids: np.ndarray | dict[str, np.ndarray]) -> int:
    if isinstance(token_ids, dict):
        return len(next(iter(token_ids.values())))
    return len(token_ids)


_WORKER_PATH = Path(_worker.__file__).resolve()
"""The measurement script the child process runs (`litert/worker.py`)."""


def _stderr_fileno() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a captured or replaced stderr
        return subprocess.DEVNULL
