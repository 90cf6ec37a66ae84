"""Accuracy against embedding bytes: the callback's defaults at several budgets and
every post-training peer, paired by seed, scored in LiteRT (issue 13's targets).

For each dataset x model x seed, one pretraining (3 epochs, GloVe-50 table) is shared
by every method. The float32 baseline is retrained for the same 5 epochs (the grid's
CALR) and is the reference of the group; the post-training peers are made from it.
Ours is `EmbeddingFactorization` with its defaults (`bands="auto"`, frequency bands;
`learning_rate="calr"`) at several `compression=` values, retrained 5 epochs, the
projection folded, and written three ways:

| method | what it is | embedding bytes (share of the float32 table) |
|---|---|---|
| `baseline_float32` | the uncompressed model (the reference) | 100% |
| `ptq_int8` | post-training dynamic-range int8 of the baseline | 25% |
| `keras_int8_embedding` | Keras' `Embedding.quantize("int8")` | 27% |
| `int4_table` | the baseline's table in 4 bits (per-row scales), rest int8 | 12.5% |
| `ours_p{p}_float32` | ours at `compression=p`, float32 factors | ~ (1 - p) |
| `ours_p{p}_int8` | the same, dynamic-range int8 factors | ~ (1 - p) / 4 |
| `ours_p{p}_int4` | the same, 4-bit factors, int8 elsewhere | ~ (1 - p) / 8 |
| `ours-fixed_p{p}_*` | `--fixed-basis`: the same with `train_basis=False` | as above |
| `ours-cal_p{p}_*` | `--calibrated`: ours with `calibration_data=` | as above |
| `ours-calfixed_p{p}_*` | `--calibrated-fixed`: also `train_basis=False` | as above |
| `ours-kernel_p{p}_*` | `--consumer-weighted`: `weighting="consumer"` | as above |

p = 0.9 gives the issue's byte targets (int8 factors: at most 2.5% of the table's
bytes, 4-bit: at most 1.3%, which is also the 1% point: the folded projection is not
stored with the table); p = 0.8 and 0.5 give the 5% and 12.5% points (int8) and the
float32 points up to 50%. (p = 0.96 was tried on seed 0: its rank-1 table costs 4
to 26 points; a 1% file is better made with 4-bit factors at p = 0.9.) Every model
is selected on dev (best epoch; Keras accuracy) and scored once on test in LiteRT
(1 thread).

`--fixed-basis` also trains ours with the callback's opt-in `train_basis=False`
(codes at the table's scale, bases fixed), `--calibrated-fixed` with
`calibration_data=` as well; those files join "ours" in the comparison with each
peer and in the targets' dev pick, where dev picks among all of our files, and are
drawn dashed (dotted).

One JSON line per finished (dataset, model, seed, method) goes to
`results/frontier.jsonl`; a restart skips finished rows (a group that was cut off
pretrains again and trains only what is missing). `--report` (also run after every
group) writes `results/frontier.md`, `results/frontier_summary.json` and the plot
`results/frontier.png`.

Usage:

```bash
.venv/bin/python -m benchmarks.frontier                 # DAN, 4 datasets, 5 seeds
.venv/bin/python -m benchmarks.frontier --models lstm --seeds 0 1 2 \\
    --datasets rotten_tomatoes r8 --compressions 0.9
.venv/bin/python -m benchmarks.frontier --report        # tables and plot only
```
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, stats, store

logger = logging.getLogger("frontier")

RESULTS = harness.RESULTS
DATASETS = harness.DATASETS
MODELS = ("dan", "lstm")
SEEDS = (0, 1, 2, 3, 4)
COMPRESSIONS = (0.9, 0.5, 0.8)
"""Trained in this order: the issue's targets first, then the other points."""
DIM = harness.DIM
KEY = ("dataset", "model", "seed", "method")
PEERS = ("ptq_int8", "keras_int8_embedding", "int4_table")
VARIANTS = ("float32", "int8", "int4")
LABELS = {
    "baseline_float32": "baseline float32",
    "ptq_int8": "PTQ dynamic int8",
    "keras_int8_embedding": "Keras quantize(int8) embedding",
    "int4_table": "4-bit table",
}
TARGETS = (
    # (label, our method, the largest mean drop in points allowed)
    ("int8 factors, <= 2.5% of the table's bytes", "ours_p0.9_int8", 1.0),
    ("4-bit factors, <= 1.3% of the table's bytes", "ours_p0.9_int4", 1.5),
)


FIXED = "ours-fixed"
"""Method prefix of ours with `train_basis=False` (`--fixed-basis`)."""
CALIBRATED_FIXED = "ours-calfixed"
"""Method prefix of ours with `calibration_data=` and `train_basis=False`
(`--calibrated-fixed`)."""
CALIBRATED = "ours-cal"
"""Method prefix of ours with `calibration_data=` (`--calibrated`)."""
KERNEL = "ours-kernel"
"""Method prefix of ours with `weighting="consumer"` (`--consumer-weighted`): the
split weighted by the next layer's input kernel (opt-in; `ours` is the default
`weighting="none"`, the plain SVD)."""
KERNEL_FIXED = "ours-kernelfixed"
"""Method prefix of ours with `weighting="consumer"` and `train_basis=False`
(`--consumer-fixed`): the data-free counterpart of `ours-calfixed`."""
KIND_LABELS = {
    "ours": "",
    FIXED: ", fixed basis",
    CALIBRATED: ", calibrated",
    CALIBRATED_FIXED: ", calibrated, fixed basis",
    KERNEL: ", consumer-weighted",
    KERNEL_FIXED: ", consumer-weighted, fixed basis",
}


RECIPE_MODELS = ("lstm",)
"""Models whose vectors a recurrent layer reads: at heavy splits the callback's
default (`weighting="auto"`, `train_basis=None`) is the consumer-weighted split with
a fixed basis, i.e. the `ours-kernelfixed` files; `ours` is the plain SVD, the
default before (and still the default for the DAN)."""
RECIPE_MIN_COMPRESSION = 0.85
"""`compression` from which `weighting="auto"` takes the recurrent recipe (it keeps
at most 15% of the table's parameters)."""


def ours_method(compression: float, variant: str, kind: str = "ours") -> str:
    return f"{kind}_p{compression:g}_{variant}"


def default_method(model: str, method: str) -> str:
    """The files the callback's current defaults make, for `ours_p{p}_{variant}`.

    >>> default_method("lstm", "ours_p0.9_int8")
    'ours-kernelfixed_p0.9_int8'
    >>> default_method("lstm", "ours_p0.5_int8")
    'ours_p0.5_int8'
    >>> default_method("dan", "ours_p0.9_int8")
    'ours_p0.9_int8'
    """
    _, budget, variant = method.split("_")
    compression = float(budget[1:])
    if model in RECIPE_MODELS and compression >= RECIPE_MIN_COMPRESSION:
        return ours_method(compression, variant, KERNEL_FIXED)
    return method


def label(method: str, model: str | None = None) -> str:
    """A method's name in the tables; `model` marks the LSTM's plain heavy splits.

    >>> label("ours_p0.9_int8", "lstm")
    'ours int8 (p=0.9, plain SVD)'
    """
    if method in LABELS:
        return LABELS[method]
    kind, p, variant = method.split("_")
    suffix = KIND_LABELS[kind]
    if kind == "ours" and default_method(model or "", method) != method:
        suffix = ", plain SVD"  # Not the default for this model and budget.
    return f"ours {variant} ({p.replace('p', 'p=')}{suffix})"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=("dan",))
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--compressions", nargs="+", type=float, default=COMPRESSIONS)
    parser.add_argument(
        "--fixed-basis",
        action="store_true",
        help="Also train ours with train_basis=False (methods ours-fixed_p{p}_*).",
    )
    parser.add_argument(
        "--calibrated",
        action="store_true",
        help="Also train ours with calibration_data= (methods ours-cal_p{p}_*).",
    )
    parser.add_argument(
        "--calibrated-fixed",
        action="store_true",
        help="Also train ours with calibration_data= and train_basis=False "
        "(methods ours-calfixed_p{p}_*).",
    )
    parser.add_argument(
        "--consumer-weighted",
        action="store_true",
        help='Also train ours with weighting="consumer" (methods ours-kernel_p{p}_*).',
    )
    parser.add_argument(
        "--consumer-fixed",
        action="store_true",
        help='Also train ours with weighting="consumer" and train_basis=False '
        "(methods ours-kernelfixed_p{p}_*).",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "frontier.jsonl")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="Small data (smoke).")
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    if not args.report:
        harness.limit_threads(args.threads)
        wanted = ["baseline_float32", *PEERS] + [
            ours_method(p, v, kind)
            for p in args.compressions
            for kind in _kinds(args)
            for v in VARIANTS
        ]
        done = store.finished_keys(args.output, KEY)
        plan = []
        for seed in args.seeds:
            for model in args.models:
                for dataset in args.datasets:
                    missing = [
                        m for m in wanted if (dataset, model, seed, m) not in done
                    ]
                    if missing:
                        plan.append((dataset, model, seed, missing))
        for dataset, model, seed, missing in harness.progress(
            plan, desc="frontier", disable=args.no_progress
        ):
            run_group(dataset, model, seed, missing, args)
            report(store.read_rows(args.output), args.output)
    report(store.read_rows(args.output), args.output)
    return 0


def run_group(dataset: str, model_name: str, seed: int, missing, args) -> None:
    """Trains and scores what `missing` names for one group; appends rows as it goes."""
    start = harness.pretrained_start(
        dataset, model_name, seed, harness.recipe_for(args.quick), quick=args.quick
    )
    data = start.data
    work = Path(tempfile.mkdtemp(prefix=f"frontier_{dataset}_{model_name}_{seed}_"))
    common = {
        "dataset": dataset,
        "model": model_name,
        "seed": seed,
        "dim": DIM,
        "vocab_size": data.vocab_size,
        "quick": args.quick,
    }

    if "baseline_float32" in missing or any(m in missing for m in PEERS):
        baseline, phase = harness.retrain_uncompressed(model_name, start, seed=seed)
        files = harness.peer_files(baseline, work)
        base = None
        for method, path in files.items():
            row = {**harness.measure(path, data), **common, "method": method}
            if method == "baseline_float32":
                train = harness.phase_fields(phase)
                row.update({f"train_{k}": v for k, v in train.items()})
                base = row
            harness.relative_to(row, base)
            _append(row, args.output, missing)
            path.unlink(missing_ok=True)
    base = _base_row(args.output, dataset, model_name, seed)

    for compression, kind in (
        (p, kind) for p in args.compressions for kind in _kinds(args)
    ):
        methods = [ours_method(compression, v, kind) for v in VARIANTS]
        if not any(m in missing for m in methods):
            continue
        model, phase, split = harness.retrain_online(
            model_name,
            start,
            seed=seed,
            compression=compression,
            bands="auto",
            split_learning_rate="calr",
            train_basis=kind in ("ours", CALIBRATED, KERNEL),
            calibration=kind in (CALIBRATED, CALIBRATED_FIXED),
            weighting="consumer" if kind in (KERNEL, KERNEL_FIXED) else "none",
        )
        stem = f"ours_p{compression:g}"
        for variant, path in harness.our_files(model, work, stem).items():
            row = {
                **harness.measure(path, data),
                **common,
                "method": ours_method(compression, variant, kind),
                "compression": compression,
                **{f"train_{k}": v for k, v in harness.phase_fields(phase).items()},
                "train_split": split,
            }
            harness.relative_to(row, base)
            _append(row, args.output, missing)
            path.unlink(missing_ok=True)


def _target_pick(summary: list[dict], dataset: str, model: str, method: str) -> dict:
    """Among ours of every kind at `method`'s budget and storage, the best on dev."""
    _, budget, variant = method.split("_")
    candidates = [
        s
        for s in summary
        if (s["dataset"], s["model"]) == (dataset, model)
        and s["method"].startswith("ours")
        and s["method"].split("_")[1:] == [budget, variant]
    ]
    return _dev_pick(candidates, lambda s: s["method"] == method)


def _dev_pick(candidates: list[dict], tie) -> dict:
    """The candidate with the best mean dev accuracy, compared on equal seeds.

    A file run on fewer seeds than the best-covered one (a partial run, a spot
    check on seed 0) is not a candidate: its mean could win or lose on an easy or
    hard seed. The complete files' dev means are taken over the seeds they share
    (their own means when they share none). `tie(s)` breaks ties.
    """
    most = max(len(s["seeds"]) for s in candidates)
    complete = [s for s in candidates if len(s["seeds"]) == most]
    common = set.intersection(*(set(s["seeds"]) for s in complete))

    def dev(s: dict) -> float:
        if not common:
            return s["dev_mean"]
        return stats.mean(
            d for seed, d in zip(s["seeds"], s["dev"], strict=True) if seed in common
        )

    return max(complete, key=lambda s: (dev(s), tie(s)))


def _kinds(args) -> tuple[str, ...]:
    return (
        "ours",
        *((FIXED,) if args.fixed_basis else ()),
        *((CALIBRATED,) if args.calibrated else ()),
        *((CALIBRATED_FIXED,) if args.calibrated_fixed else ()),
        *((KERNEL,) if args.consumer_weighted else ()),
        *((KERNEL_FIXED,) if args.consumer_fixed else ()),
    )


def _test_by_seed(by_key: dict, dataset: str, model: str, cell: dict) -> dict:
    """{seed: test accuracy} of a summary cell's method."""
    return {
        seed: by_key[(dataset, model, seed, cell["method"])]["test_accuracy"]
        for seed in cell["seeds"]
    }


def _append(row: dict, output: Path, missing) -> None:
    if row["method"] not in missing:
        return  # Recomputed because a sibling was missing; the stored row stays.
    store.append_row(output, row)
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


def _base_row(output: Path, dataset: str, model: str, seed: int) -> dict:
    for row in store.read_rows(output):
        if (row["dataset"], row["model"], row["seed"], row["method"]) == (
            dataset,
            model,
            seed,
            "baseline_float32",
        ):
            return row
    raise RuntimeError(f"No baseline row for {dataset} {model} seed {seed}.")


# ---------------------------------------------------------------------- report


def summarize(rows: list[dict]) -> list[dict]:
    """One entry per (dataset, model, method): test accuracy and paired delta."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["model"], row["method"])].append(row)
    summary = []
    for (dataset, model, method), members in groups.items():
        members = sorted(members, key=lambda r: r["seed"])
        accuracy = [100 * r["test_accuracy"] for r in members]
        delta = [r["accuracy_delta_points"] for r in members]
        dev = [r.get("train_dev_accuracy", math.nan) for r in members]
        summary.append(
            {
                "dataset": dataset,
                "model": model,
                "method": method,
                "seeds": [r["seed"] for r in members],
                "accuracy_mean": stats.mean(accuracy),
                "dev": dev,
                "dev_mean": stats.mean(dev),
                "accuracy_sd": stats.sd(accuracy),
                "delta_mean": stats.mean(delta),
                "delta_se": stats.se(delta),
                "embedding_ratio": statistics.median(
                    r["embedding_bytes_ratio"] for r in members
                ),
                "tflite_bytes": statistics.median(r["tflite_bytes"] for r in members),
                "latency_ratio": statistics.median(r["latency_ratio"] for r in members),
            }
        )
    return sorted(summary, key=lambda s: (s["dataset"], s["model"], _order(s)))


def peer_comparisons(rows: list[dict]) -> list[dict]:
    """Ours within each peer's byte budget, chosen on dev, paired by seed on test.

    Among our variants whose median embedding bytes do not exceed the peer's, the one
    with the best mean dev accuracy stands for ours (`_dev_pick`: files with every
    seed, compared on the same seeds; ties: the most bytes, e.g. the float32 file of
    a training); test accuracy plays no part in the choice. `met`:
    ours is at least as accurate as the peer within one standard error of the
    paired difference.
    """
    by_key = {(r["dataset"], r["model"], r["seed"], r["method"]): r for r in rows}
    summary = summarize(rows)
    out = []
    for dataset, model in sorted({(s["dataset"], s["model"]) for s in summary}):
        cells = [s for s in summary if (s["dataset"], s["model"]) == (dataset, model)]
        ours = [s for s in cells if s["method"].startswith("ours")]
        for peer in (s for s in cells if s["method"] in PEERS):
            fitting = [
                s for s in ours if s["embedding_ratio"] <= peer["embedding_ratio"]
            ]
            if not fitting:
                continue
            pick = _dev_pick(fitting, lambda s: s["embedding_ratio"])
            differences = stats.paired_deltas(
                _test_by_seed(by_key, dataset, model, pick),
                _test_by_seed(by_key, dataset, model, peer),
                scale=100,
            )
            if not differences:
                continue
            mean, se = stats.mean(differences), stats.se(differences)
            out.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "peer": peer["method"],
                    "peer_embedding_ratio": peer["embedding_ratio"],
                    "ours": pick["method"],
                    "ours_embedding_ratio": pick["embedding_ratio"],
                    "seeds": len(differences),
                    "difference_mean": mean,
                    "difference_se": se,
                    "met": mean + se >= 0.0,
                }
            )
    return out


def dev_test_gaps(rows: list[dict]) -> list[dict]:
    """Per training of ours: the paired Δ on dev next to the paired Δ on test.

    One entry per (dataset, model, training), read from its int8 file (every file of
    a training shares its Keras dev accuracy). `gap` is Δ dev − Δ test, in points:
    how much dev overrates the split against the baseline on test. Seeds: those
    with a baseline.
    """
    baselines = {
        (r["dataset"], r["model"], r["seed"]): r
        for r in rows
        if r["method"] == "baseline_float32" and "train_dev_accuracy" in r
    }
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        key = (row["dataset"], row["model"], row["seed"])
        if (
            row["method"].startswith("ours")
            and row["method"].endswith("_int8")
            and "train_dev_accuracy" in row
            and key in baselines
        ):
            groups[(row["dataset"], row["model"], row["method"])].append(row)
    out = []
    for (dataset, model, method), members in sorted(groups.items()):
        dev = stats.paired_deltas(
            {r["seed"]: r["train_dev_accuracy"] for r in members},
            {
                seed: base["train_dev_accuracy"]
                for (d, m, seed), base in baselines.items()
                if (d, m) == (dataset, model)
            },
            scale=100,
        )
        dev_mean = stats.mean(dev)
        test_mean = stats.mean(r["accuracy_delta_points"] for r in members)
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "method": method,
                "seeds": len(members),
                "dev_delta_mean": dev_mean,
                "test_delta_mean": test_mean,
                "gap": dev_mean - test_mean,
            }
        )
    return out


def report(rows: list[dict], output: Path) -> None:
    """Writes `<stem>.md`, `<stem>_summary.json` and `<stem>.png` next to `output`."""
    rows = [r for r in rows if not r.get("quick")] or rows
    if not rows:
        return
    import json

    folder, stem = output.parent, output.stem
    summary = summarize(rows)
    comparisons = peer_comparisons(rows)
    lines = [
        "# Accuracy against embedding bytes (`benchmarks/frontier.py`)",
        "",
        "Ours: `EmbeddingFactorization` with its defaults (6 frequency bands, "
        '`learning_rate="calr"`) at `compression=p`, retrained 5 epochs after a '
        "3-epoch pretraining shared with the baseline; projection folded. The CALR: "
        "in `frontier.jsonl` the default per budget (`calr_budget.md`: peak 1e-2 at "
        "p = 0.9; at p = 0.5 and 0.8 peak 2e-3 with the shallow cycle, floor 5e-4), "
        "in `frontier_calr_peak_2e-3.jsonl` the same runs before the shallow cycle "
        "(floor 2e-6 at p = 0.5 and 0.8), in `frontier_calr_peak_1e-2.jsonl` peak "
        "1e-2 at every budget (the first default). `frontier_lstm.jsonl` ran RT, R8 "
        "and BBC at p = 0.8 and RT at p = 0.5 with the shallow cycle, and 20NG, and "
        "R8 and BBC at p = 0.5, before it (floor 2e-6; "
        "`frontier_lstm_calr_peak_2e-3.jsonl` keeps every earlier row). "
        "`(fixed basis)`: the same at `compression=0.5` with the opt-in "
        "`train_basis=False`; `(calibrated)`: at 0.9 with `calibration_data=` "
        "(3,200 training examples), `(calibrated, fixed basis)` with both, "
        '`(consumer-weighted)` at 0.9 with `weighting="consumer"` '
        "(`split_probes.md`), `(consumer-weighted, fixed basis)` with "
        "`train_basis=False` as well: the LSTM's default at p >= 0.85 "
        '(`weighting="auto"`), the others are opt-in. '
        "Dev-selected, test scored once "
        "in LiteRT (1 thread). Accuracy: mean ± sd over seeds. Δ: paired difference to "
        "the float32 baseline of the same seed, mean ± standard error, in points. "
        "Embedding: bytes of the stored table(s) in the file relative to the float32 "
        "table (median).",
        "",
        "## Targets",
        "",
        "The callback's defaults (the plain split for the DAN; for the LSTM at "
        "p = 0.9 the consumer-weighted split with a fixed basis, "
        '`weighting="auto"`); then, where other files of ours at the same '
        "budget and storage exist (the opt-in options), the one with the best mean "
        "dev accuracy, as a user would pick it (test plays no part in the choice; "
        "files run on fewer seeds than the others are not candidates).",
        "",
        "| dataset | model | target | seeds | Δ (pts) | embedding | met "
        "| dev pick among ours | Δ (pts) | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset, model in sorted({(s["dataset"], s["model"]) for s in summary}):
        for text, plain, limit in TARGETS:
            method = default_method(model, plain)
            cell = next(
                (
                    s
                    for s in summary
                    if (s["dataset"], s["model"], s["method"])
                    == (dataset, model, method)
                ),
                None,
            )
            if cell is None:
                continue  # (The current default not run here.)
            pick = _target_pick(summary, dataset, model, method)
            lines.append(
                f"| {dataset} | {model} | {text}: mean drop <= {limit} | "
                f"{len(cell['seeds'])} | {cell['delta_mean']:+.2f} ± "
                f"{cell['delta_se']:.2f} | {100 * cell['embedding_ratio']:.2f}% | "
                f"{'yes' if -cell['delta_mean'] <= limit else 'no'} | "
                f"{label(pick['method'], model)} ({len(pick['seeds'])} seeds) | "
                f"{pick['delta_mean']:+.2f} ± {pick['delta_se']:.2f} | "
                f"{'yes' if -pick['delta_mean'] <= limit else 'no'} |"
            )
    lines += [
        "",
        "## At each peer's byte budget",
        "",
        "Ours: among our files whose embedding bytes do not exceed the peer's, the "
        "one with the best mean dev accuracy (test plays no part in the choice; "
        "files run on fewer seeds than the others are not candidates; "
        "fixed-basis files included, as a user picks the option on dev). "
        "Difference: ours − peer, paired by seed, "
        "mean ± standard error, in points; met: at least as accurate within one "
        "standard error.",
        "",
        "| dataset | model | peer (embedding) | ours (embedding) | seeds | "
        "ours − peer (pts) | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c['dataset']} | {c['model']} | {label(c['peer'])} "
            f"({100 * c['peer_embedding_ratio']:.1f}%) | "
            f"{label(c['ours'], c['model'])} "
            f"({100 * c['ours_embedding_ratio']:.2f}%) | {c['seeds']} | "
            f"{c['difference_mean']:+.2f} ± {c['difference_se']:.2f} | "
            f"{'yes' if c['met'] else 'no'} |"
        )
    lines += [
        "",
        "## Every method",
        "",
        "| dataset | model | method | seeds | accuracy (%) | Δ (pts) | embedding | "
        ".tflite bytes | latency |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['dataset']} | {s['model']} | {label(s['method'], s['model'])} | "
            f"{len(s['seeds'])} | {s['accuracy_mean']:.2f} ± {s['accuracy_sd']:.2f} | "
            f"{s['delta_mean']:+.2f} ± {s['delta_se']:.2f} | "
            f"{100 * s['embedding_ratio']:.2f}% | {int(s['tflite_bytes']):,} | "
            f"{s['latency_ratio']:.2f}x |"
        )
    gaps = dev_test_gaps(rows)
    lines += [
        "",
        "## Dev against test",
        "",
        "Per training of ours (its int8 file): Δ dev, the paired difference of its "
        "Keras dev accuracy to the baseline's (what selection sees), next to Δ test "
        "in LiteRT, means over seeds, in points; gap: Δ dev − Δ test, how much dev "
        "overrates the split.",
        "",
        "| dataset | model | training | seeds | Δ dev | Δ test | gap |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in gaps:
        lines.append(
            f"| {g['dataset']} | {g['model']} | {label(g['method'], g['model'])} | "
            f"{g['seeds']} | {g['dev_delta_mean']:+.2f} | "
            f"{g['test_delta_mean']:+.2f} | {g['gap']:+.2f} |"
        )
    lines.append("")
    (folder / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
    (folder / f"{stem}_summary.json").write_text(
        json.dumps(
            {"methods": summary, "peers": comparisons, "dev_test": gaps}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    try:
        _plot(summary, folder / f"{stem}.png")
    except ModuleNotFoundError as error:  # matplotlib is the [plot] extra.
        logger.warning("No plot: %s", error)


def _plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The default points only (p = 0.96, tried on one seed, stays in the tables).
    points = {f"p{p:g}" for p in COMPRESSIONS}
    summary = [
        s
        for s in summary
        if not s["method"].startswith("ours") or s["method"].split("_")[1] in points
    ]
    cells = sorted({(s["dataset"], s["model"]) for s in summary})
    fig, axes = plt.subplots(
        1, len(cells), figsize=(4.6 * len(cells), 4.2), squeeze=False
    )
    colors = {"float32": "tab:blue", "int8": "tab:green", "int4": "tab:red"}
    markers = {"ptq_int8": "s", "keras_int8_embedding": "D", "int4_table": "^"}
    for axis, (dataset, model) in zip(axes[0], cells, strict=True):
        cell = [s for s in summary if (s["dataset"], s["model"]) == (dataset, model)]
        for kind, variant in ((k, v) for k in KIND_LABELS for v in VARIANTS):
            points = sorted(
                (
                    s
                    for s in cell
                    if s["method"].split("_")[0] == kind
                    and s["method"].endswith(variant)
                ),
                key=lambda s: s["embedding_ratio"],
            )
            if points:
                axis.errorbar(
                    [100 * s["embedding_ratio"] for s in points],
                    [s["delta_mean"] for s in points],
                    yerr=[s["delta_se"] for s in points],
                    marker={"ours": "o", FIXED: "x", CALIBRATED: "s"}.get(kind, "+"),
                    linestyle={"ours": "-", FIXED: "--"}.get(kind, ":"),
                    color=colors[variant],
                    label=f"ours, {variant} factors{KIND_LABELS[kind]}",
                    capsize=3,
                )
        for s in cell:
            if s["method"] in markers:
                axis.errorbar(
                    [100 * s["embedding_ratio"]],
                    [s["delta_mean"]],
                    yerr=[s["delta_se"]],
                    marker=markers[s["method"]],
                    color="black",
                    linestyle="none",
                    label=label(s["method"], model),
                    capsize=3,
                )
        axis.axhline(0.0, color="grey", linewidth=0.8)
        axis.axhline(-1.0, color="grey", linewidth=0.8, linestyle=":")
        axis.set_xscale("log")
        axis.set_xlabel("embedding bytes, % of the float32 table (log)")
        axis.set_ylabel("Δ test accuracy vs float32 (points)")
        axis.set_title(f"{dataset} / {model}")
        axis.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _order(s: dict) -> tuple:
    method = s["method"]
    if method == "baseline_float32":
        return (0, 0.0, 0)
    if method in PEERS:
        return (1, 0.0, PEERS.index(method))
    return (2, -s["embedding_ratio"], 0)


if __name__ == "__main__":
    sys.exit(main())
