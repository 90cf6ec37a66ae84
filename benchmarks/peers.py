"""Ours against what users would pick instead, side by side: one script, one run.

For each dataset x model x seed, one pretraining (3 epochs on the full GloVe-50 table)
is shared by every method; each method then gets the same retraining budget (5 epochs,
the same CALR, dev selection) or none (post-training methods):

| method | what it is |
|---|---|
| `baseline_float32` | the uncompressed model retrained (the reference) |
| `ptq_int8` | post-training dynamic-range int8 of the baseline (TFLite converter) |
| `keras_int8_embedding` | Keras' `Embedding.quantize("int8")` (per-row scales) |
| `int4_table` | the baseline's table stored as 4-bit (per-row scales), rest int8 |
| `ours_float32` | online split at p = 0.9, retrained, projection folded, float32 |
| `ours_int8` | the same, dynamic-range int8 factors |
| `ours_int4` | the same, 4-bit embedding factor, int8 elsewhere |
| `ours_int4_p0.875` | `--rank-for-bits`: rank 6 (p = 0.875) with a 4-bit factor |
| `ours_adam_*` | `--dev-schedule`: ours, constant Adam 1e-3 after the split |
| `tfmot_prune_*` | TFMOT pruning of the embedding to 90%, retrained (float/int8) |
| `tfmot_cluster_*` | TFMOT weight clustering of the embedding, 16 clusters, retrained |

`ours_adam_*` (float32, int8, 4-bit factors) uses the retraining schedule that the
learning-rate study's dev accuracy picked (`lr_study.py`); the rest is as `ours_*`.

TFMOT runs in a child process (`_tfmot_peer.py`, Keras 2) and is skipped with a log
line when the `[peers]` extra is not installed. Every method is scored in LiteRT on the
test split (1 thread): accuracy, `.tflite` bytes, gzip'ed bytes (where pruning and
clustering save space), embedding bytes stored in the file, latency p50.

One JSON line per finished (dataset, model, seed, method) goes to
`results/peers.jsonl`; a restart skips finished groups. `--report` (also run at the
end) writes `results/peers.md` and the Pareto plot `results/peers_pareto.png`.

Usage:

```bash
.venv/bin/python -m benchmarks.peers --datasets rotten_tomatoes --models dan
.venv/bin/python -m benchmarks.peers                 # RT + R8, DAN + LSTM, 3 seeds
.venv/bin/python -m benchmarks.peers --dev-schedule  # add ours_adam_* to finished runs
.venv/bin/python -m benchmarks.peers --report        # tables and plot only
```
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, store

logger = logging.getLogger("peers")

RESULTS = harness.RESULTS
DATASETS = ("rotten_tomatoes", "r8")
MODELS = ("dan", "lstm")
SEEDS = (0, 1, 2)
COMPRESSION = 0.9
# "Trade rank for bits" (paper.md §8): the largest p-rule rank whose 4-bit factor still
# fits the 1.6% byte budget at D = 50 (rank 6: 6 / (8 * 50) = 1.5% of the float table).
RANK_FOR_BITS_COMPRESSION = 0.875
RANK_FOR_BITS_METHOD = "ours_int4_p0.875"
# The retraining schedule the learning-rate study's *dev* accuracy picked after the
# split (benchmarks/README.md, Claim 3): constant Adam at 1e-3 instead of CALR at 1e-2.
DEV_SCHEDULE_LEARNING_RATE = 1e-3
DEV_SCHEDULE_METHODS = ("ours_adam_float32", "ours_adam_int8", "ours_adam_int4")
DIM = harness.DIM
KEY = ("dataset", "model", "seed", "method")
METHODS = (
    "baseline_float32",
    "ptq_int8",
    "keras_int8_embedding",
    "int4_table",
    "ours_float32",
    "ours_int8",
    "ours_int4",
    RANK_FOR_BITS_METHOD,
    *DEV_SCHEDULE_METHODS,
    "tfmot_prune_float32",
    "tfmot_prune_int8",
    "tfmot_cluster_float32",
    "tfmot_cluster_int8",
)
LABELS = {
    "baseline_float32": "baseline float32",
    "ptq_int8": "PTQ dynamic int8",
    "keras_int8_embedding": "Keras quantize(int8) embedding",
    "int4_table": "4-bit table",
    "ours_float32": "ours float32 (p=0.9)",
    "ours_int8": "ours int8 factors",
    "ours_int4": "ours 4-bit factor",
    RANK_FOR_BITS_METHOD: "ours 4-bit, p=0.875 (rank for bits)",
    "ours_adam_float32": "ours float32, Adam 1e-3 after split",
    "ours_adam_int8": "ours int8 factors, Adam 1e-3 after split",
    "ours_adam_int4": "ours 4-bit factor, Adam 1e-3 after split",
    "tfmot_prune_float32": "TFMOT prune 90%",
    "tfmot_prune_int8": "TFMOT prune 90% + int8",
    "tfmot_cluster_float32": "TFMOT cluster 16",
    "tfmot_cluster_int8": "TFMOT cluster 16 + int8",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--output", type=Path, default=RESULTS / "peers.jsonl")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-tfmot", action="store_true", help="Skip TFMOT peers.")
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument(
        "--rank-for-bits",
        action="store_true",
        help=f"Also add `{RANK_FOR_BITS_METHOD}` to finished groups that lack it.",
    )
    parser.add_argument(
        "--dev-schedule",
        action="store_true",
        help="Also add ours retrained with constant Adam 1e-3 after the split "
        "(float32, int8 and 4-bit factors) to finished groups that lack it.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: a slice of the data, 1 epoch per phase (not for results).",
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    if not args.report:
        harness.limit_threads(args.threads)
        done = {
            (row["dataset"], row["model"], row["seed"])
            for row in store.read_rows(args.output)
        }
        groups = [
            (dataset, model, seed)
            for seed in args.seeds
            for dataset in args.datasets
            for model in args.models
            if (dataset, model, seed) not in done
        ]
        for group in harness.progress(groups, desc="peers", disable=args.no_progress):
            for row in run_group(*group, args):
                store.append_row(args.output, row)
            report(store.read_rows(args.output), args.output.parent)
        additions = []
        if args.rank_for_bits:
            additions.append((RANK_FOR_BITS_METHOD, run_rank_for_bits))
        if args.dev_schedule:
            additions.append((DEV_SCHEDULE_METHODS[0], run_dev_schedule))
        for marker, run in additions:
            _add_to_finished_groups(marker, run, args)
    report(store.read_rows(args.output), args.output.parent)
    return 0


def run_group(dataset: str, model_name: str, seed: int, args) -> list[dict]:
    start = _pretrained(dataset, model_name, seed, args)
    data, recipe, _, pretrained = start
    baseline, baseline_phase = harness.retrain_uncompressed(
        model_name, start, seed=seed
    )
    ours, ours_phase, split = harness.retrain_online(
        model_name, start, seed=seed, compression=COMPRESSION
    )
    work = Path(tempfile.mkdtemp(prefix=f"peers_{dataset}_{model_name}_{seed}_"))
    extra: dict[str, dict] = {
        "baseline_float32": harness.phase_fields(baseline_phase),
        "ours_float32": {**harness.phase_fields(ours_phase), "split": split},
    }
    files = harness.peer_files(baseline, work)
    for variant, path in harness.our_files(ours, work, "ours").items():
        files[f"ours_{variant}"] = path
    for name in ("ours_int8", "ours_int4"):
        extra[name] = {"split": split}

    if not args.no_tfmot:
        for method in ("prune", "cluster"):
            result = _run_tfmot(
                method, model_name, data, recipe, pretrained, seed, work
            )
            if result is None:
                continue
            for variant, path in result.pop("files").items():
                files[f"tfmot_{method}_{variant}"] = Path(path)
                extra[f"tfmot_{method}_{variant}"] = result

    rows = []
    for method, path in files.items():
        row = _measured(
            path,
            data,
            (dataset, model_name, seed, method),
            extra.get(method),
            compression=COMPRESSION if method.startswith("ours") else None,
        )
        rows.append(row)
        logger.info(
            "%s %s seed %d %s: accuracy %.4f, %d bytes, embedding %d bytes",
            dataset,
            model_name,
            seed,
            method,
            row["test_accuracy"],
            row["tflite_bytes"],
            row["embedding_bytes"],
        )
    base = next(row for row in rows if row["method"] == "baseline_float32")
    for row in rows:
        harness.relative_to(row, base)
    for path in files.values():
        path.unlink(missing_ok=True)
    return rows


def _add_to_finished_groups(marker: str, run, args) -> None:
    """Runs `run` for every selected finished group without a `marker` row."""
    rows = store.read_rows(args.output)
    for dataset, model, seed in sorted(
        {(r["dataset"], r["model"], r["seed"]) for r in rows}
    ):
        if (
            dataset not in args.datasets
            or model not in args.models
            or seed not in args.seeds
        ):
            continue
        same = [
            r
            for r in rows
            if (r["dataset"], r["model"], r["seed"]) == (dataset, model, seed)
        ]
        if any(r["method"] == marker for r in same):
            continue
        base = next(r for r in same if r["method"] == "baseline_float32")
        for row in run(dataset, model, seed, args, base):
            store.append_row(args.output, row)
        report(store.read_rows(args.output), args.output.parent)


def run_dev_schedule(dataset: str, model_name: str, seed: int, args, base) -> list:
    """Ours at p = 0.9 retrained with constant Adam 1e-3, against a finished group."""
    start = _pretrained(dataset, model_name, seed, args)
    ours, phase, split = harness.retrain_online(
        model_name,
        start,
        seed=seed,
        compression=COMPRESSION,
        learning_rate=DEV_SCHEDULE_LEARNING_RATE,
    )
    work = Path(tempfile.mkdtemp(prefix=f"peers_adam_{dataset}_{model_name}_{seed}_"))
    files = harness.our_files(ours, work, "ours_adam")
    float_name = DEV_SCHEDULE_METHODS[0]
    rows = []
    for method, path in zip(DEV_SCHEDULE_METHODS, files.values(), strict=True):
        train = {**harness.phase_fields(phase), "split": split}
        row = _measured(
            path,
            start.data,
            (dataset, model_name, seed, method),
            train if method == float_name else None,
            compression=COMPRESSION,
            retrain_learning_rate=DEV_SCHEDULE_LEARNING_RATE,
        )
        rows.append(harness.relative_to(row, base))
        _log_against_base(row)
        path.unlink(missing_ok=True)
    return rows


def _pretrained(dataset: str, model_name: str, seed: int, args) -> harness.Start:
    """The group's shared start: `(data, recipe, table, pretrained)`."""
    return harness.pretrained_start(
        dataset, model_name, seed, harness.recipe_for(args.quick), quick=args.quick
    )


def _measured(path: Path, data, key: tuple, train: dict | None, **fields) -> dict:
    """A row: `train_*` fields of the training, the file's measures in LiteRT, the
    key `(dataset, model, seed, method)` and `fields`."""
    dataset, model, seed, method = key
    return {
        **{f"train_{k}": v for k, v in (train or {}).items()},
        **harness.measure(path, data),
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "method": method,
        "dim": DIM,
        "vocab_size": data.vocab_size,
        **fields,
    }


def _log_against_base(row: dict) -> None:
    logger.info(
        "%s %s seed %d %s: accuracy %.4f (%+.2f points), embedding %.2f%%",
        row["dataset"],
        row["model"],
        row["seed"],
        row["method"],
        row["test_accuracy"],
        row["accuracy_delta_points"],
        100 * row["embedding_bytes_ratio"],
    )


def run_rank_for_bits(dataset: str, model_name: str, seed: int, args, base) -> list:
    """Ours at p = 0.875 with a 4-bit factor, scored against a finished group."""
    start = _pretrained(dataset, model_name, seed, args)
    ours, phase, split = harness.retrain_online(
        model_name, start, seed=seed, compression=RANK_FOR_BITS_COMPRESSION
    )
    work = Path(tempfile.mkdtemp(prefix=f"peers_bits_{dataset}_{model_name}_{seed}_"))
    files = harness.our_files(ours, work, "ours_bits", variants=("float32", "int4"))
    row = _measured(
        files["int4"],
        start.data,
        (dataset, model_name, seed, RANK_FOR_BITS_METHOD),
        {**harness.phase_fields(phase), "split": split},
        compression=RANK_FOR_BITS_COMPRESSION,
    )
    harness.relative_to(row, base)
    _log_against_base(row)
    for file in files.values():
        file.unlink(missing_ok=True)
    return [row]


def _run_tfmot(method, model_name, data, recipe, pretrained, seed, work) -> dict | None:
    """Runs `_tfmot_peer.py` in a child process; None when TFMOT is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorflow_model_optimization") is None:
        logger.info("TFMOT peers skipped: install the `[peers]` extra.")
        return None
    job_dir = work / f"tfmot_{method}"
    job_dir.mkdir()
    rate = harness.calr(data, recipe, "retrain")
    steps = data.steps_per_epoch(recipe.batch_size) * recipe.retrain_epochs
    rates = np.asarray([float(rate(step)) for step in range(steps + 1)], np.float32)
    weights = {f"weight_{i}": w for i, w in enumerate(pretrained.weights)}
    np.savez(
        job_dir / "arrays.npz",
        x_train=data.x_train,
        y_train=data.y_train,
        x_dev=data.x_dev,
        y_dev=data.y_dev,
        x_test=data.x_test,
        y_test=data.y_test,
        learning_rates=rates,
        **weights,
    )
    job = {
        "method": method,
        "model": model_name,
        "vocab_size": data.vocab_size,
        "dim": DIM,
        "seq_len": data.seq_len,
        "num_classes": data.num_classes,
        "hidden": [30, 25],
        "units": 150,
        "dropout": 0.5,
        "epochs": recipe.retrain_epochs,
        "batch_size": recipe.batch_size,
        "epsilon": recipe.adam_epsilon,
        "seed": seed,
        "sparsity": COMPRESSION,
        "clusters": 16,
        "num_weights": len(pretrained.weights),
        "threads": 1,
    }
    (job_dir / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    completed = subprocess.run(
        [sys.executable, str(harness.HERE / "_tfmot_peer.py"), str(job_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        logger.warning(
            "TFMOT %s failed (exit %d): %s",
            method,
            completed.returncode,
            completed.stderr[-2000:],
        )
        return None
    return json.loads((job_dir / "result.json").read_text())


def report(rows: list[dict], folder: Path = RESULTS) -> None:
    """Writes peers.md (medians over seeds) and the Pareto plot."""
    if not rows:
        return
    import pandas as pd

    frame = pd.DataFrame(rows)
    summary = (
        frame.groupby(["dataset", "model", "method"])
        .agg(
            seeds=("seed", "nunique"),
            accuracy=("test_accuracy", "mean"),
            accuracy_sd=("test_accuracy", "std"),
            delta=("accuracy_delta_points", "median"),
            tflite_bytes=("tflite_bytes", "median"),
            gzip_bytes=("gzip_bytes", "median"),
            embedding_ratio=("embedding_bytes_ratio", "median"),
            latency_ratio=("latency_ratio", "median"),
        )
        .reset_index()
    )
    order = {method: index for index, method in enumerate(METHODS)}
    summary["order"] = summary["method"].map(order)
    summary = summary.sort_values(["dataset", "model", "order"])
    lines = [
        "# Peers, side by side (same pretraining, data and seeds; LiteRT, 1 thread)",
        "",
        "Accuracy: test, mean over seeds (dev-selected). Δ: median over seeds of the "
        "difference to the float baseline of the same seed, in points. Embedding: "
        "bytes of the stored table(s) in the `.tflite` file relative to the float32 "
        "baseline's table (median). Latency: p50 ratio to the baseline (median).",
        "",
        "| dataset | model | method | seeds | accuracy | Δ (pts) | .tflite bytes | "
        "gzip bytes | embedding | latency |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        sd = 0.0 if pd.isna(row.accuracy_sd) else row.accuracy_sd
        lines.append(
            f"| {row.dataset} | {row.model} | {LABELS.get(row.method, row.method)} | "
            f"{row.seeds} | {100 * row.accuracy:.2f} ± {100 * sd:.2f} | "
            f"{row.delta:+.2f} | {int(row.tflite_bytes):,} | {int(row.gzip_bytes):,} | "
            f"{100 * row.embedding_ratio:.2f}% | {row.latency_ratio:.2f}x |"
        )
    lines.append("")
    (folder / "peers.md").write_text("\n".join(lines), encoding="utf-8")
    summary.drop(columns="order").to_json(
        folder / "peers_summary.json", orient="records", indent=2
    )
    _plot(summary, folder / "peers_pareto.png")


def _plot(summary, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(summary.groupby(["dataset", "model"]))
    fig, axes = plt.subplots(
        1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False
    )
    markers = dict(zip(METHODS, "o^v<>sDdPX*h", strict=False))
    colors = plt.get_cmap("tab20")
    for axis, ((dataset, model), frame) in zip(axes[0], groups, strict=True):
        for row in frame.itertuples():
            index = METHODS.index(row.method) if row.method in METHODS else 0
            ours = row.method.startswith("ours")
            axis.scatter(
                row.tflite_bytes,
                100 * row.accuracy,
                marker=markers.get(row.method, "o"),
                s=90 if ours else 50,
                color=colors(index % 20),
                edgecolor="black" if ours else "none",
                label=LABELS.get(row.method, row.method),
            )
        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel(".tflite bytes (log)")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(f"{dataset} / {model}")
        axis.grid(True, alpha=0.3)
    labels_seen = {}
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            labels_seen.setdefault(label, handle)
    handles, labels = list(labels_seen.values()), list(labels_seen)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
