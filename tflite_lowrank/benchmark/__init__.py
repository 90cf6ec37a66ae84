"""Measure `.tflite` files in LiteRT: `benchmark_tflite`, `compare_models` and their
results.

Each file runs in a fresh child process (`child`); results are frozen dataclasses
(`results`); `api` holds the two entry points.
"""

from tflite_lowrank.benchmark.api import (  # noqa: F401
    DEFAULT_NUM_RUNS,
    DEFAULT_WARMUP_RUNS,
    BenchmarkResult,
    Comparison,
    ComparisonRow,
    OutputMismatchError,
    benchmark_tflite,
    compare_models,
)

__all__ = [
    "BenchmarkResult",
    "Comparison",
    "ComparisonRow",
    "DEFAULT_WARMUP_RUNS",
    "DEFAULT_NUM_RUNS",
    "OutputMismatchError",
    "benchmark_tflite",
    "compare_models",
]
