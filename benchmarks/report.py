"""Aggregates the reproduction results into Markdown tables and PNG plots.

Reads `results/reproduce.jsonl` (the grid) and `results/lr_study.jsonl` (the
learning-rate study), drops `--quick` rows, and writes:

- `results/reproduce.md`: per dataset/model/width, every method and p, test accuracy
  mean ± sd over seeds and the paired drop against the uncompressed model of the same
  seed; the p = 0.9 headline; the learning-rate study with CALR's paired margins.
- `results/accuracy_vs_bytes_<dataset>_<model>_d<dim>.png`: test accuracy against
  embedding bytes (log scale) for every method.
- `results/lr_curves_<dataset>.png` (DAN) and `lr_curves_<dataset>_lstm.png`: mean
  dev accuracy per epoch for each schedule, after the split (p = 0.9) and without it;
  `results/lr_schedules.png`: the rates.

Only measured numbers are written; a cell with no finished run says so. Pure pandas
and matplotlib, no TensorFlow: `python -m benchmarks.report` takes seconds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import stats, store

RESULTS = Path(__file__).resolve().parent / "results"
METHOD_LABELS = {
    "uncompressed": "uncompressed (float32)",
    "uncompressed_int8": "uncompressed, int8 .tflite",
    "quant8": "per-row quantization, 8 bit",
    "quant4": "per-row quantization, 4 bit",
    "quant2": "per-row quantization, 2 bit",
    "svd_no_retrain": "SVD, no retraining",
    "online_svd": "ours: online SVD + retrain",
    "online_svd_int8": "ours, int8 factors (.tflite)",
    "online_default": "ours, callback defaults (bands, CALR; the DAN's)",
    "online_default_int8": "ours, callback defaults, int8 factors (.tflite)",
    "online_recurrent": "ours, the LSTM's default (consumer-weighted, fixed basis)",
    "online_recurrent_int8": "ours, the LSTM's default, int8 factors (.tflite)",
    "offline_svd_us": "offline SVD of GloVe (U_k S_k)",
    "offline_svd_u": "offline SVD of GloVe (U_k, paper)",
}
METHOD_ORDER = list(METHOD_LABELS)
SCHEDULE_LABELS = {
    "calr": "CALR",
    "triangular": "triangular CLR",
    "cosine_restarts": "cosine decay, restarts",
    "constant": "constant 1e-3",
    "constant_peak": "constant 1e-2",
    "calr_paper_peak": "CALR, paper peak 1e-3",
}
HEADLINE_P = 0.9


def load(path: Path) -> pd.DataFrame:
    rows = [row for row in store.read_rows(path) if not row.get("quick")]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_key"] = frame["p"].fillna(-1.0).round(6)
    return frame


def _fmt(mean: float, sd: float, n: int, scale: float = 100.0) -> str:
    if n == 0 or pd.isna(mean):
        return "—"
    if n == 1 or pd.isna(sd):
        return f"{scale * mean:.2f} (n=1)"
    return f"{scale * mean:.2f} ± {scale * sd:.2f}"


def with_drops(grid: pd.DataFrame) -> pd.DataFrame:
    """Adds `drop`: test accuracy minus that of the same seed's uncompressed model."""
    base = grid[grid["method"] == "uncompressed"][
        ["dataset", "model", "dim", "seed", "test_accuracy"]
    ].rename(columns={"test_accuracy": "base_accuracy"})
    out = grid.merge(base, on=["dataset", "model", "dim", "seed"], how="left")
    out["drop"] = out["test_accuracy"] - out["base_accuracy"]
    return out


def summarize(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per (dataset, model, dim, method, p)."""
    grid = with_drops(grid)
    keys = ["dataset", "model", "dim", "method", "p_key"]
    agg = grid.groupby(keys, dropna=False).agg(
        n=("seed", "nunique"),
        rank=("rank", "first"),
        embedding_bytes=("embedding_bytes", "mean"),
        compression=("compression_bytes", "mean"),
        test_mean=("test_accuracy", "mean"),
        test_sd=("test_accuracy", "std"),
        drop_mean=("drop", "mean"),
        drop_sd=("drop", "std"),
        drop_n=("drop", "count"),
        dev_mean=("dev_accuracy", "mean"),
        step0_mean=("step0_test_accuracy", "mean")
        if "step0_test_accuracy" in grid
        else ("test_accuracy", lambda s: np.nan),
        source=("accuracy_source", "first"),
    )
    agg = agg.reset_index()
    agg["order"] = agg["method"].map({m: i for i, m in enumerate(METHOD_ORDER)})
    return agg.sort_values(["dataset", "model", "dim", "order", "p_key"])


def grid_markdown(summary: pd.DataFrame) -> list[str]:
    lines = []
    for (dataset, model, dim), part in summary.groupby(["dataset", "model", "dim"]):
        lines += [
            f"### {dataset}, {model.upper()}, D = {dim}",
            "",
            "| method | p | rank / k' | embedding KB | compression | test acc % | "
            "Δ vs uncompressed (pts) | right after split % | seeds | scored in |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            p = "—" if r.p_key < 0 else f"{r.p_key:g}"
            rank = "—" if pd.isna(r["rank"]) else f"{int(r['rank'])}"
            step0 = "—" if pd.isna(r.step0_mean) else f"{100 * r.step0_mean:.2f}"
            drop = (
                "0 (reference)"
                if r.method == "uncompressed"
                else _fmt(r.drop_mean, r.drop_sd, r.drop_n)
            )
            lines.append(
                f"| {METHOD_LABELS.get(r.method, r.method)} | {p} | {rank} | "
                f"{r.embedding_bytes / 1024:.0f} | {100 * r.compression:.1f}% | "
                f"{_fmt(r.test_mean, r.test_sd, r.n)} | {drop} | {step0} | {r.n} | "
                f"{r.source} |"
            )
        lines.append("")
    return lines


def headline_markdown(summary: pd.DataFrame) -> list[str]:
    """Accuracy drop at p = 0.9 (and the nearest-budget quantizers)."""
    lines = [
        f"## Headline: accuracy drop at p = {HEADLINE_P} "
        "(points, mean ± sd over seeds)",
        "",
        "Paired drop = test accuracy minus the uncompressed model's of the same seed. "
        "The quantizers have fixed budgets (8/4/2 bit = 71/84/90% smaller at D = 50, "
        "counting a float32 scale and offset per row) and are listed for comparison.",
        "",
    ]
    methods = [
        ("online_default", HEADLINE_P),
        ("online_default_int8", HEADLINE_P),
        ("online_recurrent", HEADLINE_P),
        ("online_recurrent_int8", HEADLINE_P),
        ("online_svd", HEADLINE_P),
        ("online_svd_int8", HEADLINE_P),
        ("svd_no_retrain", HEADLINE_P),
        ("offline_svd_us", HEADLINE_P),
        ("offline_svd_u", HEADLINE_P),
        ("quant2", 0.9375),
        ("quant4", 0.875),
        ("quant8", 0.75),
        ("uncompressed_int8", 0.75),
    ]
    groups = list(summary.groupby(["dataset", "model", "dim"]))
    header = "| method | " + " | ".join(
        f"{d} {m.upper()} D={dim}" for (d, m, dim), _ in groups
    )
    lines += [header + " |", "|---|" + "---|" * len(groups)]
    base_cells = []
    for _, part in groups:
        base = part[part.method == "uncompressed"]
        base_cells.append(
            "—"
            if base.empty
            else f"{_fmt(base.test_mean.iloc[0], base.test_sd.iloc[0], base.n.iloc[0])}"
            " (acc %)"
        )
    lines.append("| uncompressed accuracy | " + " | ".join(base_cells) + " |")
    for method, p in methods:
        cells = []
        for _, part in groups:
            hit = part[(part.method == method) & (np.isclose(part.p_key, p))]
            if hit.empty:
                cells.append("not run")
            else:
                r = hit.iloc[0]
                cells.append(
                    f"{_fmt(r.drop_mean, r.drop_sd, r.drop_n)} "
                    f"({r.embedding_bytes / 1024:.0f} KB)"
                )
        lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def lr_markdown(lr: pd.DataFrame) -> list[str]:
    lines = [
        "## Learning-rate study (retraining after pretraining; D = 50)",
        "",
        "Test accuracy (%) at the best dev epoch, mean ± sd over seeds; CALR margin = "
        "CALR minus the schedule, paired by seed (points; positive = CALR better).",
        "",
    ]
    for (dataset, model, p_key), part in lr.groupby(["dataset", "model", "p_key"]):
        variant = "uncompressed" if p_key < 0 else f"after split at p = {p_key:g}"
        lines += [
            f"### {dataset}, {model.upper()}, {variant}",
            "",
            "| schedule | test acc % | dev acc % | best epoch (mean) | CALR margin | "
            "seeds |",
            "|---|---|---|---|---|---|",
        ]
        calr = part[part.method == "calr"].set_index("seed")["test_accuracy"]
        for schedule in SCHEDULE_LABELS:
            rows = part[part.method == schedule]
            if rows.empty:
                continue
            paired = (calr - rows.set_index("seed")["test_accuracy"]).dropna()
            margin = (
                "—"
                if schedule == "calr"
                else _fmt(paired.mean(), paired.std(), len(paired))
            )
            test = rows.test_accuracy
            dev = rows.dev_accuracy
            lines.append(
                f"| {SCHEDULE_LABELS[schedule]} | "
                f"{_fmt(test.mean(), test.std(), len(rows))} | "
                f"{_fmt(dev.mean(), dev.std(), len(rows))} | "
                f"{rows.best_epoch.mean():.1f} | {margin} | {len(rows)} |"
            )
        lines.append("")
    return lines


def recipe_markdown(check: pd.DataFrame, grid: pd.DataFrame) -> list[str]:
    """The paper's peak learning rate and Adam epsilon against this grid's recipe."""
    lines = [
        "## Recipe check: the paper's peak learning rate (1e-3) and Adam ε (0.01)",
        "",
        "Same runs as the grid (DAN, D = 50, CALR, 3 + 5 epochs, dev selection), with "
        "only the peak learning rate and Adam's epsilon changed. Test accuracy %, "
        "mean ± sd over seeds; `end of pretraining` is the dev accuracy after epoch 3.",
        "",
        "| dataset | method | recipe | test acc % | dev after pretraining % | seeds |",
        "|---|---|---|---|---|---|",
    ]
    both = pd.concat(
        [
            check.assign(recipe_name="paper: peak 1e-3, ε 0.01"),
            grid.assign(recipe_name="grid: peak 1e-2, ε 1e-7"),
        ],
        ignore_index=True,
    )
    both = both[both.method.isin(["uncompressed", "online_svd"])]
    both = both[both.method.eq("uncompressed") | np.isclose(both.p_key, HEADLINE_P)]
    for (dataset, method, recipe), part in both.groupby(
        ["dataset", "method", "recipe_name"]
    ):
        pre = [c[2] for c in part.dev_curve if isinstance(c, list) and len(c) > 2]
        label = METHOD_LABELS[method] + (
            "" if method == "uncompressed" else ", p = 0.9"
        )
        lines.append(
            f"| {dataset} | {label} | {recipe} | "
            f"{_fmt(part.test_accuracy.mean(), part.test_accuracy.std(), len(part))} | "
            f"{_fmt(stats.mean(pre), stats.sd(pre), len(pre))} | {len(part)} |"
        )
    lines.append("")
    return lines


def plot_accuracy_vs_bytes(summary: pd.DataFrame, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (dataset, model, dim), part in summary.groupby(["dataset", "model", "dim"]):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for i, method in enumerate(METHOD_ORDER):
            rows = part[part.method == method].sort_values("embedding_bytes")
            if rows.empty:
                continue
            style = "-o" if len(rows) > 1 else "s"
            ax.errorbar(
                rows.embedding_bytes / 1024,
                100 * rows.test_mean,
                yerr=100 * rows.test_sd.fillna(0.0),
                fmt=style,
                capsize=3,
                markersize=5,
                color=plt.cm.tab10(i % 10),
                label=METHOD_LABELS[method],
            )
        ax.set_xscale("log")
        ax.set_xlabel("embedding storage (KB, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(
            f"{dataset}, {model.upper()}, D = {dim}: accuracy vs embedding size"
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = out_dir / f"accuracy_vs_bytes_{dataset}_{model}_d{dim}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_lr(lr: pd.DataFrame, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (dataset, model), part in lr.groupby(["dataset", "model"]):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
        for ax, (p_key, title) in zip(
            axes,
            ((HEADLINE_P, f"after split (p = {HEADLINE_P})"), (-1.0, "uncompressed")),
            strict=True,
        ):
            for i, schedule in enumerate(SCHEDULE_LABELS):
                rows = part[(part.method == schedule) & np.isclose(part.p_key, p_key)]
                if rows.empty:
                    continue
                curves = np.array([c for c in rows.dev_curve if c is not None], float)
                mean = 100 * curves.mean(axis=0)
                epochs = np.arange(1, len(mean) + 1)
                ax.plot(
                    epochs,
                    mean,
                    "-o",
                    markersize=3,
                    color=plt.cm.tab10(i),
                    label=f"{SCHEDULE_LABELS[schedule]} (n={len(curves)})",
                )
            pre = int(part.recipe.iloc[0]["pretrain_epochs"])
            ax.axvline(pre + 0.5, color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"{dataset}, {model.upper()}: {title}")
            ax.set_xlabel("epoch (dotted: end of shared pretraining)")
            ax.set_ylabel("dev accuracy (%)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        # The DAN keeps the original name (the notebook and README link to it).
        suffix = "" if model == "dan" else f"_{model}"
        path = out_dir / f"lr_curves_{dataset}{suffix}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    # The schedules themselves (from the stored traces of one run each).
    fig, ax = plt.subplots(figsize=(7, 3.6))
    first = lr[np.isclose(lr.p_key, HEADLINE_P)].drop_duplicates("method")
    for i, schedule in enumerate(SCHEDULE_LABELS):
        rows = first[first.method == schedule]
        if rows.empty or rows.learning_rate_trace.iloc[0] is None:
            continue
        trace = np.asarray(rows.learning_rate_trace.iloc[0], float)
        epochs = np.linspace(0, rows.recipe.iloc[0]["retrain_epochs"], len(trace))
        ax.plot(epochs, trace, color=plt.cm.tab10(i), label=SCHEDULE_LABELS[schedule])
    ax.set_yscale("log")
    ax.set_xlabel("retraining epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(
        f"Retraining schedules ({first.dataset.iloc[0]})" if len(first) else ""
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "lr_schedules.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=Path, default=RESULTS / "reproduce.jsonl")
    parser.add_argument("--lr", type=Path, default=RESULTS / "lr_study.jsonl")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    grid, lr = load(args.grid), load(args.lr)
    lines = [
        "# Reproduction results (generated by `benchmarks/report.py`; do not edit)",
        "",
        "Setup and caveats: `benchmarks/README.md`. Accuracies in %, drops in points. "
        "`scored in`: `litert` = measured on the converted `.tflite` file in LiteRT, "
        "`keras` = measured in Keras (no `.tflite` exists for that variant).",
        "",
    ]
    written = []
    if not grid.empty:
        summary = summarize(grid)
        lines += headline_markdown(summary)
        lines += ["## Full grid", ""] + grid_markdown(summary)
        written += plot_accuracy_vs_bytes(summary, args.out_dir)
    else:
        lines += ["No grid results yet.", ""]
    check = load(args.grid.parent / "recipe_check.jsonl")
    if not check.empty and not grid.empty:
        lines += recipe_markdown(check, grid)
    if not lr.empty:
        lines += lr_markdown(lr)
        written += plot_lr(lr, args.out_dir)
    else:
        lines += ["No learning-rate results yet.", ""]
    md = args.out_dir / "reproduce.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    print(md)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
