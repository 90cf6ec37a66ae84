"""Time and memory of the split itself, for 20k x 300 and 400k x 300 tables.

Each case runs in its own Python process (so that resident memory is not shared
between cases): it builds `token_ids -> Embedding(V, 300) -> mean -> Dense(2)`,
trains it one step (so the optimizer has its slots, like a real run), then calls
the `EmbeddingFactorization` split at rank 29 (`compression=0.9`) and records

- `split_seconds`: wall time of the whole split (new optimizer, SVD, error, swap),
  and `split_cpu_seconds` its CPU time over all threads (a guide to the wall time
  on an idle machine when the machine is shared);
- `svd_seconds`, `svd_cpu_seconds`: the SVD alone (`truncated_svd`) on the same
  table, in a second process;
- `peak_tables`: peak resident memory during the split, above the process before
  the model existed, in units of the table (V x D x 4 bytes). The model holds 1
  table before the split with SGD and 3 with Adam (the table and its two slots);
- `tracemalloc_peak_tables`: peak of NumPy allocations during the split (the
  float32 copy and the SVD's working memory), same unit.

Memory is sampled every 2 ms by a thread (psutil RSS). Also times
`np.linalg.svd` and `tf.linalg.svd` of the full 400k x 300 table, the numbers the
issue quotes.

`--readers lstm` reads the vectors with an LSTM(150) instead of the mean, so that
the default split takes the recurrent recipe (`weighting="auto"`: weighted by the
LSTM's input kernel, fixed basis).

Usage:
    .venv/bin/python -m benchmarks.split_overhead            # about 3 min on 2 cores
    .venv/bin/python -m benchmarks.split_overhead --sizes 20000
    .venv/bin/python -m benchmarks.split_overhead --methods auto --bands auto \
        --readers lstm --no-full-svd --output benchmarks/results/split_overhead_lstm

Writes `benchmarks/results/split_overhead.json` and `split_overhead.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks import harness

RESULTS = harness.RESULTS
DIM = 300
COMPRESSION = 0.9


def _synthetic_table(rows: int, cols: int, seed: int = 0):
    """A float32 table with a word-embedding-like spectrum, s_i ~ 1 / sqrt(i + 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mixing, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
    scale = (1.0 / np.sqrt(1.0 + np.arange(cols)))[None, :]
    table = np.empty((rows, cols), dtype=np.float32)
    for start in range(0, rows, 1 << 15):
        block = rng.standard_normal((min(1 << 15, rows - start), cols))
        table[start : start + len(block)] = (block * scale) @ mixing.T
    return table


class _PeakRss:
    """Samples the resident set size in a thread; `peak` is the maximum seen."""

    def __init__(self, interval=0.002):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def _case_split(
    rows: int, method: str, optimizer: str, bands="1", reader="mean"
) -> dict:
    import tracemalloc

    import keras
    import numpy as np
    import psutil

    import tflite_lowrank as tl

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).integers(0, rows, (8, 4)).astype("int32")
    y = np.zeros(8, dtype="int32")
    # Warm the TensorFlow runtime with a tiny model, then take the baseline.
    warm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    warm.compile(optimizer=optimizer, loss="mse")
    warm.fit(x.astype("float32"), np.zeros((8, 2)), epochs=1, verbose=0)
    process = psutil.Process()
    rss_empty = process.memory_info().rss
    table = _synthetic_table(rows, DIM)
    table_bytes = table.nbytes
    inputs = keras.Input((4,), dtype="int32")
    hidden = keras.layers.Embedding(rows, DIM, name="embedding")(inputs)
    if reader == "lstm":
        hidden = keras.layers.LSTM(150, name="lstm")(hidden)
    else:
        hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.get_layer("embedding").embeddings.assign(table)
    del table
    model.compile(
        optimizer=keras.optimizers.get(optimizer),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=COMPRESSION,
        at_epoch=1,
        bands=int(bands) if bands.isdigit() else bands,
        svd_method=method,
    )
    rss_before = process.memory_info().rss
    tracemalloc.start()
    cpu = time.process_time()
    with _PeakRss() as peak:
        split.split_now(model, steps_per_epoch=1)
    cpu = time.process_time() - cpu
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = process.memory_info().rss
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # the split model trains
    result = split.result
    return {
        "kind": "split",
        "rows": rows,
        "cols": DIM,
        "method": method,
        "optimizer": optimizer,
        "bands": bands,
        "reader": reader,
        "consumer": result.consumer,
        "train_basis": result.train_basis,
        "band_ranks": list(result.band_ranks or [result.rank]),
        "rank": result.rank,
        "relative_error": result.relative_error,
        "split_seconds": result.seconds,
        "split_cpu_seconds": cpu,
        "table_mb": table_bytes / 2**20,
        "before_tables": (rss_before - rss_empty) / table_bytes,
        "peak_tables": (peak.peak - rss_empty) / table_bytes,
        "after_tables": (rss_after - rss_empty) / table_bytes,
        "tracemalloc_peak_tables": numpy_peak / table_bytes,
    }


def _case_svd(rows: int, method: str) -> dict:
    import numpy as np

    import tflite_lowrank as tl

    table = _synthetic_table(rows, DIM)
    rank = tl.rank_for_compression(rows, DIM, COMPRESSION)
    start = time.perf_counter()
    cpu = time.process_time()
    if method == "numpy_full_svd":
        np.linalg.svd(table, full_matrices=False)
    elif method == "tf_linalg_svd":
        import tensorflow as tf

        tensor = tf.constant(table)
        start = time.perf_counter()
        cpu = time.process_time()
        tf.linalg.svd(tensor, full_matrices=False)
    else:
        tl.truncated_svd(table, rank, method)
    return {
        "kind": "svd",
        "rows": rows,
        "cols": DIM,
        "method": method,
        "rank": rank,
        "svd_seconds": time.perf_counter() - start,
        "svd_cpu_seconds": time.process_time() - cpu,
    }


def _run_case(case: dict) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.split_overhead", "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        env=env,
        cwd=harness.HERE.parent,  # the repository root, where `benchmarks` imports
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{completed.stderr[-3000:]}")
    row = json.loads(completed.stdout.strip().splitlines()[-1])
    row["load_average_1min"] = os.getloadavg()[0]  # other work on the machine
    return row


def _markdown(rows: list[dict]) -> str:
    lines = [
        "# Split overhead: time and memory of the split",
        "",
        f"Rank at compression {COMPRESSION} (29 for both sizes; frequency bands "
        f"share the same parameter budget), D = {DIM}, float32. "
        "Memory in units of the table (V x D x 4 bytes), measured as resident memory "
        "above the process before the model existed. CPU: "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
        "1-minute load average during the cases: "
        f"{min(r['load_average_1min'] for r in rows):.1f}-"
        f"{max(r['load_average_1min'] for r in rows):.1f} (times are inflated when "
        "it exceeds the core count).",
        "",
        "| V x D | method | bands (ranks) | optimizer | split s (CPU s) | "
        "SVD alone s (CPU s) | rel. error | before | peak | after | NumPy peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    svd = {
        (r["rows"], r["method"]): f"{r['svd_seconds']:.2f} ({r['svd_cpu_seconds']:.2f})"
        for r in rows
        if r["kind"] == "svd"
    }
    for r in rows:
        if r["kind"] != "split":
            continue
        banded = r.get("bands", "1") != "1"
        svd_seconds = None if banded else svd.get((r["rows"], r["method"]))
        ranks = ", ".join(str(k) for k in r.get("band_ranks", [r["rank"]]))
        if r.get("consumer"):  # The recurrent recipe.
            ranks += f"; weighted by '{r['consumer']}', fixed basis"
        lines.append(
            f"| {r['rows']:,} x {r['cols']} | {r['method']} | "
            f"{r.get('bands', '1')} ({ranks}) | {r['optimizer']} | "
            f"{r['split_seconds']:.2f} ({r['split_cpu_seconds']:.2f}) | "
            f"{svd_seconds or ''} | "
            f"{r['relative_error']:.4f} | {r['before_tables']:.2f} | "
            f"{r['peak_tables']:.2f} | {r['after_tables']:.2f} | "
            f"{r['tracemalloc_peak_tables']:.2f} |"
        )
    full = [r for r in rows if r["kind"] == "svd" and r["method"] in FULL_SVDS]
    if full:
        lines += [
            "",
            "Full SVD of the table, for comparison (not used by the split):",
            "",
        ]
        for r in full:
            lines.append(
                f"- {r['rows']:,} x {r['cols']} `{r['method']}`: "
                f"{r['svd_seconds']:.1f} s (CPU {r['svd_cpu_seconds']:.1f} s)"
            )
    return "\n".join(lines) + "\n"


METHODS = ("auto", "gram", "randomized", "exact")
FULL_SVDS = ("numpy_full_svd", "tf_linalg_svd")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 400_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--bands",
        nargs="+",
        default=["1", "auto"],
        help='The callback\'s `bands` for the Adam splits with method "auto": 1 (the '
        'single SVD) and "auto" (the default, frequency bands).',
    )
    parser.add_argument(
        "--readers",
        nargs="+",
        choices=("mean", "lstm"),
        default=["mean"],
        help="The layer reading the vectors in the Adam splits with method "
        '"auto": the mean (a DAN) or an LSTM (the recurrent recipe).',
    )
    parser.add_argument("--no-full-svd", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "split_overhead"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        case = json.loads(args.case)
        if case["kind"] == "split":
            row = _case_split(
                case["rows"],
                case["method"],
                case["optimizer"],
                case.get("bands", "1"),
                case.get("reader", "mean"),
            )
        else:
            row = _case_svd(case["rows"], case["method"])
        print(json.dumps(row))
        return 0

    cases = []
    for rows in args.sizes:
        for method in args.methods:
            for bands in args.bands if method == "auto" else ["1"]:
                for reader in args.readers if method == "auto" else ["mean"]:
                    cases.append(
                        {
                            "kind": "split",
                            "rows": rows,
                            "method": method,
                            "optimizer": "adam",
                            "bands": bands,
                            "reader": reader,
                        }
                    )
            cases.append({"kind": "svd", "rows": rows, "method": method})
        if "mean" in args.readers:
            cases.append(
                {"kind": "split", "rows": rows, "method": "auto", "optimizer": "sgd"}
            )
        if not args.no_full_svd and rows == max(args.sizes):
            cases += [{"kind": "svd", "rows": rows, "method": m} for m in FULL_SVDS]
    results = []
    for case in harness.progress(cases, desc="split overhead"):
        results.append(_run_case(case))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": "python -m benchmarks.split_overhead "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "cpu_count": os.cpu_count(),
                "rows": results,
            },
            indent=1,
        )
    )
    table = _markdown(results)
    output.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
