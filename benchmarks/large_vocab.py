"""Large vocabularies: split, convert and benchmark a 400k-word DAN on 2 cores.

Two cases, both on Rotten Tomatoes tokenized with the *full* GloVe 6B vocabulary
(400,000 words + `<pad>` + `<unk>`, so almost every test word has its own row):

| case | table | initial values |
|---|---|---|
| `glove400k_d50` | 400,002 x 50 | GloVe 6B 50-d (trainable) |
| `random400k_d300` | 400,002 x 300 | GloVe 50-d times a fixed 50 x 300 projection |

For each: `fit()` for 2 epochs with `EmbeddingFactorization(compression=0.9,
at_epoch=1, bands=...)` (`--bands`: `auto`, the default frequency bands, or `1`, the
paper's single SVD; TensorFlow limited to 1 thread), timing every batch; the split's
wall time comes from the callback. Then the float32 baseline (the same model after its
first epoch, just before the split, full table) and the compressed model (folded;
float32, int8
and int4 factors) are converted and benchmarked in LiteRT (1 thread, fresh process per
file): file size, load time, peak and model memory, latency, test accuracy.

One JSON line per finished case goes to `results/large_vocab.jsonl` (finished cases are
skipped on a restart) and a Markdown table to `results/large_vocab.md`.

Usage:

```bash
.venv/bin/python -m benchmarks.large_vocab            # both cases, ~15 min on 2 cores
.venv/bin/python -m benchmarks.large_vocab --cases glove400k_d50
```
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, store

logger = logging.getLogger("large_vocab")

RESULTS = harness.RESULTS
CASES = {"glove400k_d50": 50, "random400k_d300": 300}
COMPRESSION = 0.9
PROJECTION_SEED = harness.PROJECTION_SEED
BATCH_SIZE = 50
# Batches skipped at the start of each epoch before timing (tracing, warm-up).
_SKIP_BATCHES = 5


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=tuple(CASES), default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "large_vocab.jsonl")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-test", type=int, default=1000, help="Test rows.")
    parser.add_argument(
        "--bands",
        default="auto",
        help='The callback\'s `bands`: "auto" (default) or an integer (1: one SVD).',
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.cases = tuple(args.cases or CASES)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    harness.limit_threads(args.threads)
    done = {row["case"] for row in store.read_rows(args.output)}
    todo = [case for case in args.cases if case not in done]
    for case in harness.progress(todo, desc="large_vocab", disable=args.no_progress):
        row = run_case(case, args)
        store.append_row(args.output, row)
        gc.collect()
    write_markdown(store.read_rows(args.output), args.output.with_suffix(".md"))
    return 0


class _BatchTimer:
    """Wall time of every training batch, by epoch."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: dict[int, list[float]] = {}
                self._epoch = 0
                self._start = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self._epoch = epoch
                self.times[epoch] = []

            def on_train_batch_begin(self, batch, logs=None):
                self._start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times[self._epoch].append(time.perf_counter() - self._start)

        return Timer()


class _Snapshot:
    """Keeps the model's weights at the end of one epoch (before the split)."""

    def __new__(cls, epoch: int):
        import keras

        class Snapshot(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.weights = None

            def on_epoch_end(self, index, logs=None):
                if index == epoch:
                    self.weights = self.model.get_weights()

        return Snapshot()


def _steps_per_second(times: list[float]) -> float:
    timed = times[_SKIP_BATCHES:] or times
    return float(1.0 / np.median(timed))


def run_case(case: str, args: argparse.Namespace) -> dict:
    import keras
    import psutil

    import tflite_lowrank as tl
    from tflite_lowrank.export import fold_projection, quantize_gather_tables_int4
    from tflite_lowrank.models import compile_for_classification

    dim = CASES[case]
    glove = tl.load_glove()
    tokenizer = tl.Tokenizer(["<pad>", "<unk>", *glove.words], seq_len=40)
    data = tl.load_dataset("rotten_tomatoes", seed=0)
    x_train = tokenizer.encode(data.train.texts)
    y_train = np.asarray(data.train.labels, dtype=np.int32)
    x_test = tokenizer.encode(data.test.texts)[: args.num_test]
    y_test = np.asarray(data.test.labels, dtype=np.int32)[: args.num_test]
    vocab = tokenizer.vocabulary_size
    table = np.zeros((vocab, 50), dtype=np.float32)
    table[2:] = glove.vectors
    if dim != 50:
        rng = np.random.default_rng(PROJECTION_SEED)
        table = table @ rng.normal(0, 1 / np.sqrt(dim), (50, dim)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = tl.build_dan(vocab, data.num_classes, seq_len=40, embedding_dim=dim)
    model.get_layer("embedding").embeddings.assign(table)
    del table
    compile_for_classification(model)
    row = {
        "case": case,
        "vocab_size": vocab,
        "dim": dim,
        "compression": COMPRESSION,
        "bands": args.bands,
        "threads": args.threads,
        "train_rows": len(x_train),
        "batch_size": BATCH_SIZE,
    }
    work = Path(tempfile.mkdtemp(prefix=f"large_vocab_{case}_"))
    files = {}
    timer = _BatchTimer()
    snapshot = _Snapshot(epoch=0)
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=COMPRESSION,
        at_epoch=1,
        verbose=1,
        bands=int(args.bands) if args.bands.isdigit() else args.bands,
    )
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=2,
        callbacks=[snapshot, split, timer],
        verbose=0,
    )
    row["fit_seconds"] = time.perf_counter() - start
    # The baseline: the same model after the first epoch, before the split.
    baseline = tl.build_dan(vocab, data.num_classes, seq_len=40, embedding_dim=dim)
    baseline.set_weights(snapshot.weights)
    snapshot.weights = None
    start = time.perf_counter()
    harness.convert(baseline, work / "baseline.tflite")
    row["baseline_convert_seconds"] = time.perf_counter() - start
    files["baseline_float32"] = work / "baseline.tflite"
    del baseline
    gc.collect()
    row["split"] = split.result.to_dict()
    row["split_seconds"] = split.result.seconds
    row["steps_per_second_before"] = _steps_per_second(timer.times[0])
    row["steps_per_second_after"] = _steps_per_second(timer.times[1])
    row["peak_rss_bytes_training"] = psutil.Process().memory_info().rss
    folded = fold_projection(model)
    for name, quantization in (("float32", None), ("int8", "dynamic")):
        path = work / f"compressed_{name}.tflite"
        start = time.perf_counter()
        result = harness.convert(folded, path, quantization)
        row[f"compressed_{name}_convert_seconds"] = time.perf_counter() - start
        row[f"compressed_{name}_embedding_bytes"] = result.embedding_bytes
        files[f"compressed_{name}"] = path
    # 4-bit table, float32 elsewhere (the DAN's other weights are a few kB).
    content, tables = quantize_gather_tables_int4(
        files["compressed_float32"].read_bytes()
    )
    files["compressed_int4"] = work / "compressed_int4.tflite"
    files["compressed_int4"].write_bytes(content)
    row["compressed_int4_embedding_bytes"] = sum(t.num_bytes for t in tables)
    for name, path in files.items():
        bench = tl.benchmark_tflite(
            path,
            token_ids=x_test,
            labels=y_test,
            warmup_runs=5,
            num_runs=100,
            progress=False,
        )
        row[name] = bench.to_dict()
        logger.info("%s %s: %s", case, name, bench.to_dict())
    base = row["baseline_float32"]
    for name in files:
        if name == "baseline_float32":
            continue
        for field in (
            "size_bytes",
            "load_time_ms",
            "peak_memory_bytes",
            "model_memory_bytes",
            "latency_p50_ms",
        ):
            ratio = row[name][field] / base[field] if base[field] else float("nan")
            row[f"{name}_{field}_ratio"] = ratio
    for path in files.values():
        path.unlink(missing_ok=True)
    return row


def write_markdown(rows: list[dict], path: Path) -> None:
    lines = [
        "# Large vocabularies (400k words), DAN, p = 0.9, 1 TF thread, LiteRT 1 thread",
        "",
        "| case | split (s) | steps/s before | steps/s after | file | size (MB) | "
        "load (ms) | model memory (MB) | peak memory (MB) | p50 (ms) | accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        first = True
        for name in (
            "baseline_float32",
            "compressed_float32",
            "compressed_int8",
            "compressed_int4",
        ):
            bench = row.get(name)
            if bench is None:
                continue
            prefix = (
                f"| {row['case']} (bands={row.get('bands', 1)}) | "
                f"{row['split_seconds']:.2f} | "
                f"{row['steps_per_second_before']:.1f} | "
                f"{row['steps_per_second_after']:.1f} "
                if first
                else "| | | | "
            )
            first = False
            lines.append(
                prefix + f"| {name} | {bench['size_bytes'] / 1e6:.2f} | "
                f"{bench['load_time_ms']:.1f} | "
                f"{bench['model_memory_bytes'] / 1e6:.1f} | "
                f"{bench['peak_memory_bytes'] / 1e6:.1f} | "
                f"{bench['latency_p50_ms']:.3f} | {bench['accuracy']:.4f} |"
            )
    lines += [
        "",
        "Ratios to the float32 baseline (compressed_int8): "
        + "; ".join(_ratios(row) for row in rows),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _ratios(row: dict) -> str:
    def get(field: str) -> float:
        return row.get(f"compressed_int8_{field}_ratio", float("nan"))

    return (
        f"{row['case']}: load {get('load_time_ms'):.3f}x, "
        f"peak memory {get('peak_memory_bytes'):.3f}x, "
        f"model memory {get('model_memory_bytes'):.3f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
