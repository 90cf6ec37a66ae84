"""The child process behind `benchmark_tflite`: both ends of the measurement harness.

Private helpers of `tflite_lowrank.benchmark.api`. In the parent, `_run_child` writes
the request (`request.json`, `token_ids.npy`) to a temporary folder, starts a fresh
`python` running `_CHILD_CODE`, and reads `report.json` and `predictions.npy` back into
a `BenchmarkResult`. In the child, `_child_main` runs `_measure`: it loads the file in
LiteRT, times the first and the timed `invoke()` calls, predicts every row when asked,
and reads the peak resident memory of its own process.

Imports NumPy and LiteRT only, never TensorFlow: the child imports this module before
it measures anything.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tflite_lowrank.benchmark.results import BenchmarkResult
from tflite_lowrank.litert import runtime as _litert

# Records keep the name of the public module (the CLI's `-v` prints it).
logger = logging.getLogger("tflite_lowrank.benchmark.api")


@dataclasses.dataclass(frozen=True)
class _FileSpec:
    path: str
    size_bytes: int
    seq_len: int
    num_labels: int
    token_ids: np.ndarray
    labels: np.ndarray | None


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
    }
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (package_root, env.get("PYTHONPATH")) if part
    )
    logger.info("Benchmarking %s in a child process.", spec.path)
    with tempfile.TemporaryDirectory(prefix="tflite-lowrank-benchmark-") as folder:
        np.save(Path(folder, "token_ids.npy"), spec.token_ids)
        Path(folder, "request.json").write_text(json.dumps(request))
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD_CODE, folder],
            stdin=subprocess.DEVNULL,
            stdout=_stderr_fileno(),  # Keep our stdout clean for results.
            env=env,
            check=False,
        )
        report_path = Path(folder, "report.json")
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        predictions_path = Path(folder, "predictions.npy")
        predictions = np.load(predictions_path) if predictions_path.exists() else None
    if report is None:
        raise RuntimeError(
            f"The benchmark process for {spec.path} died (exit code "
            f"{completed.returncode}) before reporting; see its messages above."
        )
    if "error" in report:
        raise RuntimeError(f"Benchmarking {spec.path} failed: {report['error']}")
    accuracy = (
        float(np.mean(predictions == spec.labels)) if spec.labels is not None else None
    )
    return BenchmarkResult(
        path=spec.path,
        size_bytes=spec.size_bytes,
        seq_len=spec.seq_len,
        num_labels=spec.num_labels,
        num_threads=int(num_threads),
        warmup_runs=int(warmup_runs),
        num_runs=int(num_runs),
        num_samples=len(spec.token_ids),
        accuracy=accuracy,
        predictions=predictions,
        **report,
    )


_CHILD_CODE = (
    "import sys; from tflite_lowrank.benchmark.child import _child_main; "
    "_child_main(sys.argv[1])"
)


def _stderr_fileno() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a captured or replaced stderr
        return subprocess.DEVNULL


def _child_main(folder: str) -> None:
    """Entry point of the benchmark process: reads the request, writes the report."""
    folder = Path(folder)
    try:
        request = json.loads((folder / "request.json").read_text())
        token_ids = np.load(folder / "token_ids.npy")
        report = _measure(token_ids=token_ids, **request)
        predictions = report.pop("predictions")
        if predictions is not None:
            np.save(folder / "predictions.npy", predictions)
    except Exception as error:  # Report any failure to the parent.
        report = {"error": f"{type(error).__name__}: {error}"}
    (folder / "report.json").write_text(json.dumps(report))


def _measure(
    *,
    path: str,
    token_ids: np.ndarray,
    num_threads: int,
    warmup_runs: int,
    num_runs: int,
    progress: bool,
    want_predictions: bool,
) -> dict[str, Any]:
    # Import LiteRT first, so that its libraries are not counted as the model's memory.
    import ai_edge_litert.interpreter  # noqa: F401
    from tqdm import tqdm

    rss_before = _current_rss()
    start = time.perf_counter()
    interpreter = _litert.make_interpreter(model_path=path, num_threads=num_threads)
    runner = _litert.Runner(interpreter)
    load_time = time.perf_counter() - start

    rows = [row[None, :] for row in token_ids]
    runner.set_input(rows[0])
    start = time.perf_counter()
    runner.invoke()
    first_inference = time.perf_counter() - start

    total = warmup_runs + num_runs + (len(rows) if want_predictions else 0)
    bar = tqdm(
        total=total,
        desc=Path(path).name,
        unit="run",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    with bar:
        for index in range(warmup_runs):
            runner.set_input(rows[index % len(rows)])
            runner.invoke()
            bar.update()
        latencies = np.empty(num_runs)
        for index in range(num_runs):
            runner.set_input(rows[index % len(rows)])
            start = time.perf_counter()
            runner.invoke()
            latencies[index] = time.perf_counter() - start
            bar.update()
        predictions = None
        if want_predictions:
            predictions = np.empty(len(rows), dtype=np.int64)
            for index, row in enumerate(rows):
                runner.set_input(row)
                runner.invoke()
                predictions[index] = int(np.argmax(runner.output()[0]))
                bar.update()
    peak = _peak_rss()
    return {
        "load_time_ms": 1e3 * load_time,
        "first_inference_ms": 1e3 * first_inference,
        "latency_p50_ms": float(1e3 * np.percentile(latencies, 50)),
        "latency_p90_ms": float(1e3 * np.percentile(latencies, 90)),
        "latency_mean_ms": float(1e3 * latencies.mean()),
        "peak_memory_bytes": int(peak),
        "model_memory_bytes": int(max(0, peak - rss_before)),
        "predictions": predictions,
    }


def _current_rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    """Peak resident memory of this process since it started (its own `exec`).

    On Linux this is `VmHWM` of `/proc/self/status`: `ru_maxrss` would also count the
    parent's memory, which survives `fork` + `exec` in that counter.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows: the peak working set.
        import psutil

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
