"""The demo's conversion and benchmark stages, and the table rows they give.

Private helpers of `tflite_lowrank.apps.demo.run`: `_convert_models` writes the four
`.tflite` files (stage 4), `_benchmark_models` compares them in LiteRT on the test split
(stage 5), `_demo_model` makes one `DemoModel` row of their numbers, and `_relocate`
points the comparison at the run folder instead of the staging one. The converter and
LiteRT are imported only when their stage runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tflite_lowrank.apps.demo.results import KERAS_FILES, MODEL_FILES, DemoModel

_CHECK_ROWS = 16  # Dev rows that `convert_to_tflite` compares with Keras.


def _convert_models(report, staging: Path, trained: dict, x_dev) -> dict:
    """Converts both Keras models to float32 and dynamic-range `.tflite` files."""
    from tflite_lowrank.export.converter import convert_to_tflite

    conversions = {}
    for stem, file_name in MODEL_FILES.items():
        key, quantization = stem.split("_")
        conversion = convert_to_tflite(
            trained[key],
            staging / file_name,
            quantization=quantization,
            representative_data=x_dev[:_CHECK_ROWS],
        )
        conversions[stem] = conversion
        report.line(
            f"  {file_name}: {conversion.size_bytes / 1024:,.1f} KB, embedding "
            f"{conversion.embedding_bytes / 1024:,.1f} KB"
        )
    return conversions


def _benchmark_models(report, staging: Path, x_test, y_test):
    """Benchmarks the four files in LiteRT (1 thread), the first as the reference."""
    from tflite_lowrank.benchmark.api import compare_models

    return compare_models(
        [staging / file_name for file_name in MODEL_FILES.values()],
        x_test,
        y_test,
        reference=0,
        num_threads=1,
        # A bar per file on a terminal; nothing in logs and CI.
        progress=None if report.enabled else False,
    )


def _demo_model(stem: str, row, benchmark, conversion, rank: int) -> DemoModel:
    """A table row from a `ComparisonRow`, `BenchmarkResult` and `ConversionResult`."""
    key, quantization = stem.split("_")
    return DemoModel(
        name=stem,
        file=MODEL_FILES[stem],
        keras_model=KERAS_FILES[key],
        rank=rank if key == "compressed" else None,
        quantization=quantization,
        size_bytes=int(row.size_bytes),
        embedding_bytes=int(conversion.embedding_bytes),
        accuracy=float(row.accuracy),
        accuracy_delta=float(row.accuracy_delta),
        agreement=float(row.agreement),
        latency_p50_ms=float(row.latency_p50_ms),
        latency_p90_ms=float(benchmark.latency_p90_ms),
        load_time_ms=float(row.load_time_ms),
        peak_memory_bytes=int(row.peak_memory_bytes),
        model_memory_bytes=int(row.model_memory_bytes),
        max_output_difference=float(conversion.max_output_difference),
    )


def _relocate(comparison, output_dir: Path):
    """The same `Comparison`, with paths in the run folder, not the staging one."""

    def moved(item):
        return dataclasses.replace(item, path=str(output_dir / Path(item.path).name))

    return dataclasses.replace(
        comparison,
        rows=tuple(moved(row) for row in comparison.rows),
        results=tuple(moved(result) for result in comparison.results),
    )
