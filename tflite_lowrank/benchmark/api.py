"""Benchmarks `.tflite` files on phone-class settings and compares them.

`benchmark_tflite` runs one file in the LiteRT runtime (`ai_edge_litert`, the default
XNNPACK delegate, one thread by default) in a fresh child process, so that the memory
it reports belongs to that model alone and runs do not warm each other's caches. It
feeds real token ids (never random values outside the vocabulary, which break `GATHER`
in the stock benchmark tool) and reports file size, load time, first-inference time,
latency percentiles, peak memory and, given labels, accuracy.

`compare_models` benchmarks several files on the same rows and sets them against a
reference: size ratio, accuracy delta, latency ratio and agreement of predictions,
rendered as Markdown, JSON or a PNG plot.

This module holds the two functions and the checks of their arguments. The result
dataclasses and their reports live in `benchmark.results` (re-exported here); the
child process is started by `benchmark.child` and runs the script
`tflite_lowrank/litert/worker.py`, which measures.

This module imports NumPy and LiteRT only, never TensorFlow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tflite_lowrank.benchmark.child import _FileSpec, _num_rows, _run_child
from tflite_lowrank.benchmark.results import (
    BenchmarkResult,
    Comparison,
    ComparisonRow,
)
from tflite_lowrank.errors import OutputMismatchError
from tflite_lowrank.litert import contract as _contract
from tflite_lowrank.litert import flatbuffer as _flatbuffer
from tflite_lowrank.litert import rows as _rows
from tflite_lowrank.litert.rows import check_input_rows as _check_input_rows
from tflite_lowrank.utils.checks import check_int as _check_int
from tflite_lowrank.utils.checks import check_path as _check_path

DEFAULT_WARMUP_RUNS = 10
DEFAULT_NUM_RUNS = 100


def benchmark_tflite(
    path: os.PathLike[str] | str,
    *,
    token_ids: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    num_threads: int = 1,
    warmup_runs: int = DEFAULT_WARMUP_RUNS,
    num_runs: int = DEFAULT_NUM_RUNS,
    progress: bool | None = None,
) -> BenchmarkResult:
    """Measures one `.tflite` file in LiteRT, in a fresh child process.

    The child (a new `python` process importing NumPy and LiteRT only, never
    TensorFlow) loads the file with `ai_edge_litert.interpreter.Interpreter` and
    the default XNNPACK delegate, times the first `invoke()`, runs `warmup_runs`
    untimed and `num_runs` timed rows (cycling over `token_ids`), then, when
    `labels` are given, predicts every row for the accuracy. Peak memory is the
    child's peak resident set (`VmHWM` on Linux).

    Args:
        path: Path-like. A `.tflite` file with the I/O contract: input `token_ids`
            int32 `[1, seq_len]` (or several named int32 `[1, length]` inputs),
            output `[1, num_labels]`.
        token_ids: Integer array `(num_rows, seq_len)` of ids in `[0, vocabulary)`;
            for a file with several inputs, a dict of such arrays keyed by input
            name, one key per input and no other. None: 64 random rows of valid
            ids (seeded; the vocabulary size is read from the file's embedding
            table). Defaults to `None`.
        labels: Integer array `(num_rows,)` of class indices, or None. Requires
            `token_ids`. Defaults to `None`.
        num_threads: Integer. Interpreter threads. Defaults to `1` (phone-class).
        warmup_runs: Integer >= 0. Defaults to `10`.
        num_runs: Integer >= 1. Defaults to `100`.
        progress: Boolean or None. Show a progress bar on stderr; None shows it when
            stderr is a terminal. Defaults to `None`.

    Returns:
        A `BenchmarkResult`.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file is not a `.tflite` model with the I/O contract, is
            truncated or corrupted (also when only LiteRT, in the child process,
            finds out), or the token ids or labels do not fit it.
        TypeError: for non-integer token ids or labels.
        RuntimeError: if the benchmark process dies.

    Example:

    ```python
    result = tl.benchmark_tflite("model.tflite", token_ids=x_test, labels=y_test)
    print(f"{result.latency_p50_ms:.3f} ms, accuracy {result.accuracy:.2%}")
    ```
    """
    spec = _check_benchmark_args(
        path, token_ids, labels, num_threads, warmup_runs, num_runs
    )
    return _run_child(
        spec,
        num_threads=num_threads,
        warmup_runs=warmup_runs,
        num_runs=num_runs,
        progress=_resolve_progress(progress),
        want_predictions=labels is not None,
    )


def compare_models(
    paths: Sequence[os.PathLike[str] | str],
    token_ids: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    reference: int = 0,
    num_threads: int = 1,
    warmup_runs: int = DEFAULT_WARMUP_RUNS,
    num_runs: int = DEFAULT_NUM_RUNS,
    progress: bool | None = None,
) -> Comparison:
    """Benchmarks several `.tflite` files on the same rows and compares them.

    Each file runs in its own child process (see `benchmark_tflite`), one after the
    other, and predicts every row. All files are checked before the first runs.

    Args:
        paths: Sequence of path-likes, at least one `.tflite` file.
        token_ids: Integer array `(num_rows, seq_len)`, valid for every file (a
            dict keyed by input name for files with several inputs).
        labels: Integer array `(num_rows,)` or None (then no accuracy columns).
            Defaults to `None`.
        reference: Integer. Index in `paths` of the reference file (negative
            indices count from the end). Defaults to `0`.
        num_threads: Integer. Interpreter threads. Defaults to `1`.
        warmup_runs: Integer >= 0. Defaults to `10`.
        num_runs: Integer >= 1. Defaults to `100`.
        progress: Boolean or None. Progress bars on stderr; None shows them when
            stderr is a terminal. Defaults to `None`.

    Returns:
        A `Comparison`; `print` it for a Markdown table.

    Raises:
        ValueError: for an empty `paths`, a `reference` out of range, files whose
            inputs differ or data that does not fit them.
        OutputMismatchError: if the files output different numbers of labels.
        FileNotFoundError: if a file does not exist.

    Example:

    ```python
    comparison = tl.compare_models(
        ["baseline.tflite", "lowrank_int8.tflite"], x_test, y_test
    )
    print(comparison)
    ```
    """
    if isinstance(paths, str | os.PathLike) or not isinstance(paths, Sequence):
        raise TypeError(
            "`paths` must be a sequence of `.tflite` paths (a list). "
            f"Received: paths={paths!r}"
        )
    if not paths:
        raise ValueError(
            "`paths` must name at least one `.tflite` file. Received: paths=[]"
        )
    if isinstance(reference, bool) or not isinstance(reference, int | np.integer):
        raise TypeError(
            f"`reference` must be an integer index into `paths`. "
            f"Received: reference={reference!r}"
        )
    if not -len(paths) <= reference < len(paths):
        raise ValueError(
            f"`reference` must index one of the {len(paths)} paths. "
            f"Received: reference={reference}"
        )
    if token_ids is None:
        raise ValueError(
            "`token_ids` are needed to compare predictions; pass the test rows. "
            "Received: token_ids=None"
        )
    reference = int(reference) % len(paths)
    specs = [
        _check_benchmark_args(
            path,
            token_ids,
            labels,
            num_threads,
            warmup_runs,
            num_runs,
            name=f"paths[{index}]",
        )
        for index, path in enumerate(paths)
    ]
    widths = {spec.num_labels for spec in specs}
    if len(widths) > 1:
        raise OutputMismatchError(
            "The files must output the same number of labels to be compared. "
            "Received: "
            + ", ".join(f"{spec.path} -> {spec.num_labels}" for spec in specs)
        )
    show = _resolve_progress(progress)
    results = tuple(
        _run_child(
            spec,
            num_threads=num_threads,
            warmup_runs=warmup_runs,
            num_runs=num_runs,
            progress=show,
            want_predictions=True,
        )
        for spec in specs
    )
    names = [Path(spec.path).name for spec in specs]
    if len(set(names)) < len(names):
        names = [spec.path for spec in specs]
    base = results[reference]
    rows = []
    for name, result in zip(names, results, strict=True):
        delta = (
            None
            if result.accuracy is None or base.accuracy is None
            else result.accuracy - base.accuracy
        )
        rows.append(
            ComparisonRow(
                name=name,
                path=result.path,
                size_bytes=result.size_bytes,
                size_ratio=result.size_bytes / base.size_bytes,
                accuracy=result.accuracy,
                accuracy_delta=delta,
                latency_p50_ms=result.latency_p50_ms,
                latency_ratio=result.latency_p50_ms / base.latency_p50_ms
                if base.latency_p50_ms > 0
                else float("nan"),
                agreement=float(np.mean(result.predictions == base.predictions)),
                load_time_ms=result.load_time_ms,
                peak_memory_bytes=result.peak_memory_bytes,
                model_memory_bytes=result.model_memory_bytes,
            )
        )
    return Comparison(rows=tuple(rows), reference=reference, results=results)


def _check_benchmark_args(
    path, token_ids, labels, num_threads, warmup_runs, num_runs, *, name: str = "path"
) -> _FileSpec:
    for arg_name, value, minimum in (
        ("num_threads", num_threads, 1),
        ("warmup_runs", warmup_runs, 0),
        ("num_runs", num_runs, 1),
    ):
        _check_int(arg_name, value, minimum=minimum)
    _check_path(name, path)
    content, info = _flatbuffer.read_and_inspect(path, name=name)
    problems = _contract.contract_problems(info, multi_input=True)
    if problems:
        raise ValueError(
            "The file does not follow the I/O contract (one `serving_default` "
            "signature, input `token_ids` int32 [1, seq_len] or several named int32 "
            "[1, length] inputs, output float32 [1, num_labels]; see "
            "docs/contracts.md): "
            + "; ".join(problems)
            + f". Received: {name}={os.fspath(path)!r}"
        )
    seq_len = max(spec.shape[1] for spec in info.inputs)
    num_labels = info.outputs[0].shape[1]
    inputs = [(spec.name, spec.shape[1], info.vocabulary_size) for spec in info.inputs]
    if token_ids is None:
        if labels is not None:
            raise ValueError(
                "`labels` need the `token_ids` they belong to. "
                "Received: token_ids=None with labels"
            )
        token_ids = _random_token_ids(seq_len, info.vocabulary_size)
        if len(inputs) > 1:
            token_ids = {
                input_name: token_ids[:, :length] for input_name, length, _ in inputs
            }
    elif len(inputs) > 1 or isinstance(token_ids, Mapping):
        # Several inputs: a dict keyed by input name (also accepted for one input).
        token_ids = _check_input_rows(
            token_ids,
            name="token_ids",
            inputs=inputs,
            model=f"{name}={os.fspath(path)!r}",
        )
        if len(inputs) == 1:
            token_ids = token_ids[inputs[0][0]]
    else:
        token_ids = _rows.check_token_ids(
            token_ids,
            name="token_ids",
            seq_len=seq_len,
            vocabulary_size=info.vocabulary_size,
        )
    if labels is not None:
        labels = _check_labels(labels, _num_rows(token_ids), num_labels)
    return _FileSpec(
        path=os.fspath(path),
        name=name,
        size_bytes=len(content),
        seq_len=seq_len,
        num_labels=num_labels,
        token_ids=token_ids,
        labels=labels,
    )


def _check_labels(labels, num_rows: int, num_labels: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            "`labels` must hold integer class indices. "
            f"Received: labels with dtype {array.dtype}"
        )
    if array.ndim != 1 or array.shape[0] != num_rows:
        raise ValueError(
            f"`labels` must have shape ({num_rows},), one label per row of "
            f"`token_ids`. Received: labels with shape {array.shape}"
        )
    if array.size and (array.min() < 0 or array.max() >= num_labels):
        raise ValueError(
            f"`labels` must be class indices in [0, {num_labels}) (the model has "
            f"{num_labels} outputs). Received: labels in [{array.min()}, {array.max()}]"
        )
    return array.astype(np.int64)


def _random_token_ids(seq_len: int, vocabulary_size: int | None) -> np.ndarray:
    rng = np.random.default_rng(0)
    high = vocabulary_size or 2
    return rng.integers(min(2, high - 1), high, size=(64, seq_len)).astype(np.int32)


def _resolve_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not isinstance(progress, bool):
        raise TypeError(
            f"`progress` must be a bool or None. Received: progress={progress!r}"
        )
    return progress
