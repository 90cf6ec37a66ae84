"""The results of `benchmark_tflite` and `compare_models`, and how they are reported.

Private: `tflite_lowrank.benchmark.api` re-exports `BenchmarkResult`, `ComparisonRow`
and `Comparison`, and that is where they are documented and imported from (`from
tflite_lowrank.benchmark.api import BenchmarkResult`). A `Comparison` renders itself as
a Markdown table, JSON or a PNG plot (Matplotlib, imported by `plot` only).

Imports NumPy and `utils.files` (Matplotlib inside `plot`), never TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tflite_lowrank.utils import files as _files
from tflite_lowrank.utils.optional import require as _require


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """Measurements of one `.tflite` file, from `benchmark_tflite`.

    Times are in milliseconds, wall clock (`time.perf_counter`). Latency is the time
    of `invoke()` for one row (batch 1); copying the input in is not counted.

    Args:
        path: String. The file.
        size_bytes: Integer. Size of the file.
        seq_len: Integer. Length of the `token_ids` input.
        num_labels: Integer. Width of the output.
        num_threads: Integer. Interpreter threads.
        warmup_runs: Integer. Untimed runs before the timed ones.
        num_runs: Integer. Timed runs (cycling over the rows).
        num_samples: Integer. Rows of token ids used.
        load_time_ms: Float. Creating the interpreter and allocating its tensors
            (this is when XNNPACK packs the weights).
        first_inference_ms: Float. The first `invoke()` after loading.
        latency_p50_ms: Float. Median latency of the timed runs.
        latency_p90_ms: Float. 90th percentile.
        latency_mean_ms: Float. Mean.
        peak_memory_bytes: Integer. Peak resident memory of the child process
            (`VmHWM` on Linux), Python, NumPy and LiteRT included.
        model_memory_bytes: Integer. Peak resident memory minus the resident memory
            just before the model was loaded: what loading and running it cost.
        accuracy: Float or None. Share of rows whose predicted class equals the
            label, when labels were given: the argmax, or `p > 0.5` for a 1-wide
            sigmoid; for a per-token output, the share of tokens (id != 0).
        predictions: int64 array `(num_samples,)` (`(num_samples, seq_len)` for a
            per-token output) or None. The predicted class of every row, when
            labels were given or predictions were asked for. Not in `to_dict`.
        output: String or None. The output scored, for a file with several.

    Example:

    ```python
    result = tl.benchmark_tflite("model.tflite", token_ids=x_test, labels=y_test)
    print(result.latency_p50_ms, result.accuracy)
    ```
    """

    path: str
    size_bytes: int
    seq_len: int
    num_labels: int
    num_threads: int
    warmup_runs: int
    num_runs: int
    num_samples: int
    load_time_ms: float
    first_inference_ms: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_mean_ms: float
    peak_memory_bytes: int
    model_memory_bytes: int
    accuracy: float | None
    predictions: np.ndarray | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the measurements (not the predictions) as JSON-ready values."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "predictions"
        }


@dataclasses.dataclass(frozen=True)
class ComparisonRow:
    """One file of a `Comparison`, with its ratios against the reference.

    Args:
        name: String. Short name (the file name, or the path when names repeat).
        path: String. The file.
        size_bytes: Integer. File size.
        size_ratio: Float. `size_bytes / reference size_bytes`.
        accuracy: Float or None. Accuracy, when labels were given.
        accuracy_delta: Float or None. `accuracy - reference accuracy`.
        latency_p50_ms: Float. Median latency.
        latency_ratio: Float. `latency_p50_ms / reference latency_p50_ms`.
        agreement: Float. Share of rows (of tokens, for a per-token output)
            predicted as the reference predicts them.
        load_time_ms: Float. Load time.
        peak_memory_bytes: Integer. Peak memory of the benchmark process.
        model_memory_bytes: Integer. Memory added by loading and running the model.
    """

    name: str
    path: str
    size_bytes: int
    size_ratio: float
    accuracy: float | None
    accuracy_delta: float | None
    latency_p50_ms: float
    latency_ratio: float
    agreement: float
    load_time_ms: float
    peak_memory_bytes: int
    model_memory_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as JSON-ready Python values."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Several `.tflite` files benchmarked on the same rows, from `compare_models`.

    `str(comparison)` is the Markdown table.

    Args:
        rows: Tuple of `ComparisonRow`, in the order of the paths.
        reference: Integer. Index of the reference row.
        results: Tuple of `BenchmarkResult`, one per row.

    Example:

    ```python
    comparison = tl.compare_models(["baseline.tflite", "small.tflite"], x, y)
    print(comparison)  # Markdown
    comparison.plot("comparison.png")
    json.dumps(comparison.to_dict())
    ```
    """

    rows: tuple[ComparisonRow, ...]
    reference: int
    results: tuple[BenchmarkResult, ...] = dataclasses.field(repr=False)

    @property
    def max_accuracy_drop(self) -> float | None:
        """Largest `reference accuracy - accuracy` (None without labels)."""
        deltas = [
            row.accuracy_delta for row in self.rows if row.accuracy_delta is not None
        ]
        return max(-delta for delta in deltas) if deltas else None

    def to_dict(self) -> dict[str, Any]:
        """Returns the table and the full benchmark results as JSON-ready values."""
        return {
            "reference": self.reference,
            "rows": [row.to_dict() for row in self.rows],
            "results": [result.to_dict() for result in self.results],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Returns `to_dict()` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        """Returns the comparison as a Markdown table, the reference marked."""
        header = (
            "| model | size (KB) | size ratio | accuracy | Δ accuracy | "
            "p50 latency (ms) | latency ratio | agreement | load (ms) | "
            "model memory (MB) |"
        )
        lines = [header, "|" + "---|" * 10]
        for index, row in enumerate(self.rows):
            name = f"{row.name} (reference)" if index == self.reference else row.name
            lines.append(
                f"| {name} | {row.size_bytes / 1024:.1f} | {row.size_ratio:.3f} | "
                f"{_percent(row.accuracy)} | {_signed_points(row.accuracy_delta)} | "
                f"{row.latency_p50_ms:.4g} | {row.latency_ratio:.2f} | "
                f"{row.agreement:.2%} | {row.load_time_ms:.1f} | "
                f"{row.model_memory_bytes / 2**20:.1f} |"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def plot(self, path: os.PathLike[str] | str, *, overwrite: bool = False) -> Path:
        """Saves a PNG: accuracy against file size, and latency bars (p50, p90 whisker).

        Uses Matplotlib's `Figure` directly (Agg), so no global backend is changed.

        Args:
            path: Path-like ending in `.png`, in an existing folder.
            overwrite: Boolean. Replace an existing file. Defaults to `False`.

        Returns:
            The path written.

        Raises:
            ValueError: if `path` does not end in `.png`.
            FileNotFoundError: if its folder does not exist.
            FileExistsError: if it exists and `overwrite` is False.

        Example:

        ```python
        comparison.plot("comparison.png", overwrite=True)
        ```
        """
        path = _files.check_output_file(
            path, suffix=".png", name="path", overwrite=overwrite
        )
        _require("matplotlib", extra="plot", purpose="`Comparison.plot`")
        from matplotlib.figure import Figure

        names = [row.name for row in self.rows]
        colors = [
            "tab:red" if index == self.reference else "tab:blue"
            for index in range(len(self.rows))
        ]
        figure = Figure(figsize=(11, 4.5), layout="constrained")
        left, right = figure.subplots(1, 2)
        sizes = [row.size_bytes / 1024 for row in self.rows]
        if all(row.accuracy is not None for row in self.rows):
            accuracies = [100 * row.accuracy for row in self.rows]
            left.scatter(sizes, accuracies, c=colors)
            for name, x, y in zip(names, sizes, accuracies, strict=True):
                left.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4))
            left.set_ylabel("accuracy (%)")
            left.set_title("Accuracy vs file size (reference in red)")
        else:
            left.barh(names, sizes, color=colors)
            left.set_title("File size (no labels: no accuracy)")
        left.set_xlabel("file size (KB)")
        left.margins(0.15)
        left.grid(alpha=0.3)
        p50 = np.array([result.latency_p50_ms for result in self.results])
        p90 = np.array([result.latency_p90_ms for result in self.results])
        right.barh(names, p50, xerr=[np.zeros_like(p50), p90 - p50], color=colors)
        right.set_xlabel("latency per row (ms): bar p50, whisker p90")
        threads = self.results[0].num_threads
        right.set_title(f"LiteRT latency, {threads} thread(s)")
        right.invert_yaxis()
        right.grid(axis="x", alpha=0.3)
        _files.write_atomically(
            path,
            lambda temporary: figure.savefig(temporary, dpi=120, format="png"),
            overwrite=overwrite,
        )
        return path


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _signed_points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f} pt"
