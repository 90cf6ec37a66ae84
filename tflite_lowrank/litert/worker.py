"""The measuring side of `benchmark_tflite`: run as a script in a fresh process.

`tflite_lowrank.benchmark.child._run_child` writes a request (`request.json`,
`token_ids.npy`, or `inputs.npz` keyed by input name) into a temporary folder and
runs `python /path/to/worker.py FOLDER`.
`_child_main` reads the request and runs `_measure`: it loads the file in LiteRT, times
the first and the timed `invoke()` calls, predicts every row when asked, and reads the
peak resident memory of its own process; it writes `report.json` (and
`predictions.npy`) back into the folder, or `{"error": ...}` if anything failed.

Run as a script, this file imports NumPy, LiteRT, tqdm and psutil only: not the
`tflite_lowrank` package, whose `__init__` imports Keras and TensorFlow (hundreds of
megabytes that would be counted as the model's memory). The report lists the
TensorFlow or Keras modules the process holds (`heavy_modules`), so that a test can
check that there are none.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__:  # Imported as `tflite_lowrank.litert.worker` (the parent, tests).
    from tflite_lowrank.litert import interpreter as _interpreter
else:  # Run as a script: import the sibling file, not the package (see above).
    import interpreter as _interpreter

_HEAVY_PACKAGES = frozenset({"tensorflow", "keras"})
LOADING_MARKER = "loading"


def _child_main(folder: str) -> None:
    """Entry point of the benchmark process: reads the request, writes the report."""
    folder = Path(folder)
    try:
        request = json.loads((folder / "request.json").read_text())
        if (folder / "inputs.npz").exists():  # Several inputs, keyed by name.
            with np.load(folder / "inputs.npz") as archive:
                token_ids = {key: archive[key] for key in archive.files}
        else:
            token_ids = np.load(folder / "token_ids.npy")
        report = _measure(token_ids=token_ids, folder=folder, **request)
        predictions = report.pop("predictions")
        if predictions is not None:
            np.save(folder / "predictions.npy", predictions)
    except Exception as error:  # Report any failure to the parent.
        report = {"error": f"{type(error).__name__}: {error}"}
        if (folder / LOADING_MARKER).exists():
            report["stage"] = "load"
    report["heavy_modules"] = _heavy_modules()
    # Atomically: a process killed while writing leaves no half report.
    (folder / "report.json.partial").write_text(json.dumps(report))
    os.replace(folder / "report.json.partial", folder / "report.json")


def _measure(
    *,
    path: str,
    token_ids: np.ndarray | dict[str, np.ndarray],
    num_threads: int,
    warmup_runs: int,
    num_runs: int,
    progress: bool,
    want_predictions: bool,
    output: str | None = None,
    folder: Path | None = None,
    prediction_shape: list[int] | None = None,
) -> dict[str, Any]:
    # While the marker exists the file is being loaded (and run once): a failure, or
    # a crash the parent sees as a missing report, is then the file's.
    marker = None if folder is None else Path(folder, LOADING_MARKER)
    # Import LiteRT first, so that its libraries are not counted as the model's memory.
    import ai_edge_litert.interpreter  # noqa: F401
    from tqdm import tqdm

    # Everything that grows with the rows is made before the baseline, so that the
    # model's memory does not depend on their number: the rows stay one int32 array
    # (a row is a view made when it is fed), the predictions one array, written
    # through once so that its pages are resident.
    token_ids = _as_int32(token_ids)
    num_rows = _num_rows(token_ids)
    predictions = None
    if want_predictions:  # One class per row, or per token of a per-token output.
        shape = (num_rows, *(prediction_shape or ()))
        predictions = np.full(shape, -1, dtype=np.int64)
    latencies = np.zeros(num_runs)

    rss_before = _current_rss()
    if marker is not None:
        marker.touch()
    # LiteRT's delegate line stays off stderr unless loading fails.
    with _interpreter.native_stderr(replay_on_error=True):
        start = time.perf_counter()
        interpreter = _interpreter.make_interpreter(
            model_path=path, num_threads=num_threads, quiet=False
        )
        runner = _interpreter.Runner(interpreter, output)
        load_time = time.perf_counter() - start

        runner.set_input(_row(token_ids, 0))
        start = time.perf_counter()
        runner.invoke()
        first_inference = time.perf_counter() - start
    if marker is not None:
        marker.unlink()

    total = warmup_runs + num_runs + (num_rows if want_predictions else 0)
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
            runner.set_input(_row(token_ids, index % num_rows))
            runner.invoke()
            bar.update()
        for index in range(num_runs):
            runner.set_input(_row(token_ids, index % num_rows))
            start = time.perf_counter()
            runner.invoke()
            latencies[index] = time.perf_counter() - start
            bar.update()
        if predictions is not None:
            for index in range(num_rows):
                runner.set_input(_row(token_ids, index))
                runner.invoke()
                predictions[index] = _interpreter.predict_classes(runner.output()[0])
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


def _as_int32(token_ids):
    """The rows as contiguous int32 arrays (a dict of them for several inputs)."""
    if isinstance(token_ids, dict):
        return {name: _as_int32(array) for name, array in token_ids.items()}
    return np.ascontiguousarray(token_ids, dtype=np.int32)


def _num_rows(token_ids) -> int:
    if isinstance(token_ids, dict):
        return len(next(iter(token_ids.values())))
    return len(token_ids)


def _row(token_ids, index: int):
    """Row `index` as a batch-1 view `[1, seq_len]` (a dict of them)."""
    if isinstance(token_ids, dict):
        return {name: array[index : index + 1] for name, array in token_ids.items()}
    return token_ids[index : index + 1]


def _heavy_modules() -> list[str]:
    """The TensorFlow and Keras modules this process imported (none, normally)."""
    return sorted(name for name in sys.modules if name.split(".")[0] in _HEAVY_PACKAGES)


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


if __name__ == "__main__":
    _child_main(sys.argv[1])
