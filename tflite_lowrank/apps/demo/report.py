"""The demo's reporting: progress on stderr, and the results it writes.

Private helpers of `tflite_lowrank.apps.demo.run`: `_Progress` prints a line per stage
with its wall time, `_write_results` writes `results.json` (strict JSON, `_json_ready`)
and `results.md` (`_results_markdown`), and `_environment` records the library versions
and the machine.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tflite_lowrank.apps.demo.results import (
    BATCH_SIZE,
    LEARNING_RATE,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    DemoResult,
)
from tflite_lowrank.utils.versions import version as _version

_NUM_STAGES = 6


class _Progress:
    """Stage lines on stderr: `[2/6] Training ...`, then `done in 12.3 s`."""

    def __init__(self, *, enabled: bool):
        self.enabled = enabled
        self._stage = 0

    def line(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(
        self, title: str, seconds: dict[str, float], key: str | None
    ) -> Iterator[Any]:
        """Reports a stage and stores its wall time as `seconds[key]` (if a key)."""
        self._stage += 1
        self.line(f"[{self._stage}/{_NUM_STAGES}] {title} ...")
        notes: list[str] = []
        start = time.perf_counter()
        yield notes.append
        elapsed = time.perf_counter() - start
        if key is not None:
            seconds[key] = round(elapsed, 3)
        detail = f": {'; '.join(notes)}" if notes else ""
        took = _format_seconds(elapsed)
        self.line(f"[{self._stage}/{_NUM_STAGES}] done in {took}{detail}")


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def _environment() -> dict[str, str]:
    values = {
        "tflite-lowrank": _version("tflite-lowrank"),
        "python": platform.python_version(),
    }
    for dist in ("tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert", "numpy"):
        version = _version(dist)
        if version != "not installed":
            values[dist] = version
    values["platform"] = platform.platform()
    values["cpu_count"] = str(os.cpu_count())
    values["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds"
    )
    return values


def _write_results(staging: Path, result: DemoResult) -> None:
    """Writes `results.json` and `results.md` of `result` into `staging`."""
    _write_json(staging / RESULTS_JSON, result.to_dict())
    (staging / RESULTS_MARKDOWN).write_text(
        _results_markdown(result), encoding="utf-8", newline="\n"
    )


def _write_json(path: Path, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (e.g. an unknown reconstruction error) becomes None: strict JSON."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


def _results_markdown(result: DemoResult) -> str:
    baseline, compressed = result.training
    factorization = compressed.factorization or {}
    error = factorization.get("relative_error")
    train_note = (
        f"- Baseline: best dev accuracy {baseline.dev_accuracy:.2%} at epoch "
        f"{baseline.best_epoch} of {baseline.epochs} ({baseline.seconds:.0f} s).\n"
        f"- Compressed: embedding {result.vocab_size:,} x 50 split after epoch "
        f"{result.split_epoch} to rank {result.rank}"
        + (f" (relative reconstruction error {error:.3f})" if error is not None else "")
        + (
            f", weighted by the input kernel of '{factorization['consumer']}'"
            if factorization.get("consumer")
            else ""
        )
        + f"; best dev accuracy {compressed.dev_accuracy:.2%} at epoch "
        f"{compressed.best_epoch} of {compressed.epochs} ({compressed.seconds:.0f} s)."
    )
    environment = ", ".join(
        f"{key} {value}" for key, value in result.environment.items()
    )
    stages = ", ".join(
        f"{key} {_format_seconds(value)}" for key, value in result.stage_seconds.items()
    )
    return (
        f"# tflite-lowrank demo: {result.dataset}, {result.model.upper()}, "
        f"compression {result.compression:g}\n\n"
        f"{result.to_markdown()}\n\n"
        "Accuracy is measured in LiteRT on the converted files, on the "
        f"{result.num_test:,} test texts; Δ accuracy is against the reference, in "
        "percentage points. Latency is the median `invoke()` of one text at 1 thread; "
        "peak memory is the benchmark process's peak resident memory (Python "
        "included). `int8` weights: dynamic-range quantization.\n\n"
        "## Training\n\n"
        f"- Data: {result.num_train:,} train / {result.num_dev:,} dev / "
        f"{result.num_test:,} test texts, labels {', '.join(result.label_names)}; "
        f"vocabulary {result.vocab_size:,} (training tokens known to GloVe), "
        f"{result.seq_len} tokens per text.\n"
        f"- Settings: {result.epochs} epochs, batch {BATCH_SIZE}, Adam "
        f"{LEARNING_RATE:g}, seed {result.seed}"
        + (
            f", first {result.max_train_samples:,} training texts only"
            if result.max_train_samples is not None
            else ""
        )
        + "; the epoch with the best dev accuracy is kept.\n"
        f"{train_note}\n\n"
        "## All benchmark columns\n\n"
        f"{result.comparison.to_markdown()}\n\n"
        f"Wall time: {stages}.\n\n"
        f"Environment: {environment}.\n"
    )
