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
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tflite_lowrank.benchmark.arguments import _check_benchmark_args
from tflite_lowrank.benchmark.child import _FileSpec, _run_child
from tflite_lowrank.benchmark.results import (
    BenchmarkResult,
    Comparison,
    ComparisonRow,
)
from tflite_lowrank.errors import OutputMismatchError
from tflite_lowrank.litert import scoring as _scoring

DEFAULT_WARMUP_RUNS = 10
DEFAULT_NUM_RUNS = 100
QUANTIZATION_WARNING_POINTS = 1.0
"""A quantized file this many accuracy points below the float32 file of the same
model in one `compare_models` call is warned about."""


def benchmark_tflite(
    path: os.PathLike[str] | str,
    *,
    token_ids: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    num_threads: int = 1,
    warmup_runs: int = DEFAULT_WARMUP_RUNS,
    num_runs: int = DEFAULT_NUM_RUNS,
    progress: bool | None = None,
    output: str | None = None,
) -> BenchmarkResult:
    """Measures one `.tflite` file in LiteRT, in a fresh child process.

    The child (a new `python` process importing NumPy and LiteRT only, never
    TensorFlow) loads the file with `ai_edge_litert.interpreter.Interpreter` and
    the default XNNPACK delegate, times the first `invoke()`, runs `warmup_runs`
    untimed and `num_runs` timed rows (cycling over `token_ids`), then, when
    `labels` are given, predicts every row for the accuracy. Peak memory is the
    child's peak resident set (`VmHWM` on Linux).

    The predicted class is the argmax of the scored output; a 1-wide output (a
    sigmoid kept with `keep_logits=True`) is read at the threshold 0.5, so its
    labels are 0/1. A per-token output `[1, seq_len, num_tags]` is scored per
    token, on the tokens only (token id 0 is padding).

    Args:
        path: Path-like. A `.tflite` file with the I/O contract: input `token_ids`
            int32 `[1, seq_len]` (or several named int32 `[1, length]` inputs),
            outputs float32 `[1, num_labels]` or per token `[1, seq_len,
            num_tags]`.
        token_ids: Integer array `(num_rows, seq_len)` of ids in `[0, vocabulary)`;
            for a file with several inputs, a dict of such arrays keyed by input
            name, one key per input and no other. None: 64 random rows of valid
            ids (seeded; the vocabulary size is read from the file's embedding
            table). Defaults to `None`.
        labels: Integer array `(num_rows,)` of class indices (`(num_rows,
            seq_len)` for a per-token output; labels at padding are ignored), or
            None. Requires `token_ids`. Defaults to `None`.
        num_threads: Integer in [1, 256]. Interpreter threads. Defaults to `1`
            (phone-class).
        warmup_runs: Integer >= 0. Defaults to `10`.
        num_runs: Integer >= 1. Defaults to `100`.
        progress: Boolean or None. Show a progress bar on stderr; None shows it when
            stderr is a terminal. Defaults to `None`.
        output: String or None. The name of the output to score, for a file with
            several (needed with `labels`); None for a file with one. Defaults to
            `None`.

    Returns:
        A `BenchmarkResult`.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file is not a `.tflite` model with the I/O contract, is
            truncated or corrupted (also when only LiteRT, in the child process,
            finds out), or the token ids or labels do not fit it.
        TypeError: for non-integer token ids or labels.
        RuntimeError: if the benchmark process dies (the message names the signal
            that killed it) or fails after loading the file.

    Example:

    ```python
    result = tl.benchmark_tflite("model.tflite", token_ids=x_test, labels=y_test)
    print(f"{result.latency_p50_ms:.3f} ms, accuracy {result.accuracy:.2%}")
    ```
    """
    spec = _check_benchmark_args(
        path,
        token_ids,
        labels,
        num_threads,
        warmup_runs,
        num_runs,
        output=output,
        scored=labels is not None,
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
    output: str | None = None,
) -> Comparison:
    """Benchmarks several `.tflite` files on the same rows and compares them.

    Each file runs in its own child process (see `benchmark_tflite`, which also
    says how outputs are scored), one after the other, and predicts every row. All
    files are checked before the first runs.

    A quantized file (int8, dynamic or int4 weights) more than 1 accuracy point
    below the float32 file of the same model is warned about (`warnings.warn`,
    naming both accuracies). The same model: a file in this comparison with the
    same embedding table shapes (and so the same vocabulary and rank), read from
    the files; the first float32 one is the reference.

    Args:
        paths: Sequence of path-likes, at least one `.tflite` file.
        token_ids: Integer array `(num_rows, seq_len)`, valid for every file (a
            dict keyed by input name for files with several inputs).
        labels: Integer array `(num_rows,)` (`(num_rows, seq_len)` for a
            per-token output) or None (then no accuracy columns). Defaults to
            `None`.
        reference: Integer. Index in `paths` of the reference file (negative
            indices count from the end). Defaults to `0`.
        num_threads: Integer in [1, 256]. Interpreter threads. Defaults to `1`.
        warmup_runs: Integer >= 0. Defaults to `10`.
        num_runs: Integer >= 1. Defaults to `100`.
        progress: Boolean or None. Progress bars on stderr; None shows them when
            stderr is a terminal. Defaults to `None`.
        output: String or None. The name of the output to score, for files with
            several (every file must have it). Defaults to `None`.

    Returns:
        A `Comparison`; `print` it for a Markdown table.

    Raises:
        ValueError: for an empty `paths`, a `reference` out of range, files whose
            inputs differ, data that does not fit them, or files with several
            outputs and no `output`.
        OutputMismatchError: if the scored outputs of the files differ in shape.
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
            output=output,
            name=f"paths[{index}]",
        )
        for index, path in enumerate(paths)
    ]
    # A 1-wide sigmoid predicts the two classes of a two-class file.
    classes = {
        (*spec.output_shape[:-1], _scoring.num_classes(spec.output_shape))
        for spec in specs
    }
    if len(classes) > 1:
        raise OutputMismatchError(
            "The files must predict the same number of labels (classes; per token "
            "for a per-token output) to be compared. Received: "
            + ", ".join(f"{spec.path} -> {list(spec.output_shape)}" for spec in specs)
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
                agreement=_scoring.agreement(
                    result.predictions, base.predictions, specs[0].mask
                ),
                load_time_ms=result.load_time_ms,
                peak_memory_bytes=result.peak_memory_bytes,
                model_memory_bytes=result.model_memory_bytes,
            )
        )
    _warn_quantization_losses(specs, results)
    return Comparison(rows=tuple(rows), reference=reference, results=results)


def _warn_quantization_losses(
    specs: list[_FileSpec], results: tuple[BenchmarkResult, ...]
) -> None:
    """Warns when a quantized file loses more than `QUANTIZATION_WARNING_POINTS`
    against the first float32 file with the same embedding tables."""
    for spec, result in zip(specs, results, strict=True):
        if spec.storage != "quantized" or result.accuracy is None:
            continue
        reference = next(
            (
                (other, other_result)
                for other, other_result in zip(specs, results, strict=True)
                if other.storage == "float32" and other.tables == spec.tables
            ),
            None,
        )
        if reference is None:
            continue
        other, other_result = reference
        drop = 100 * (other_result.accuracy - result.accuracy)
        if drop > QUANTIZATION_WARNING_POINTS:
            warnings.warn(
                f"The quantized file {spec.path} has an accuracy of "
                f"{result.accuracy:.2%}, {drop:.2f} points below the "
                f"{other_result.accuracy:.2%} of the float32 file {other.path} of "
                f"the same model (more than {QUANTIZATION_WARNING_POINTS:g} point): "
                "check its accuracy before you ship it.",
                stacklevel=3,
            )


def _resolve_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not isinstance(progress, bool):
        raise TypeError(
            f"`progress` must be a bool or None. Received: progress={progress!r}"
        )
    return progress
