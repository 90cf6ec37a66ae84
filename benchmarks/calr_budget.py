"""CALR's default per byte budget (issue 13): does the best retraining schedule after
the split depend on how much of the table is kept?

The recipe study (`recipe_study.py`) chose the default schedule at p = 0.9 only. The
frontier (`frontier.py`) then found Rotten Tomatoes *worse* with more budget (p = 0.5
lost more than p = 0.9 against the baseline), the dev-best epoch on RT being the first
retrained epoch in most runs. This study reruns a few schedules at p in {0.5, 0.8,
0.9}, the frequency-banded split (`bands6`, the callback's default layout), from the
same pretrained state per (dataset, seed), and selects on dev only:

- per budget, the schedule with the best mean dev accuracy over the datasets;
- the best single schedule over every budget (what one default would be);
- how often the model right after the split (step 0) beats every retrained epoch.

Runs are `recipe_study.py` runs (same rows, same key, resumable) written to
`results/calr_budget.jsonl`; this script adds the report `results/calr_budget.md`
and the plot `results/calr_budget.png`.

Usage:

```bash
.venv/bin/python -m benchmarks.calr_budget                 # the runs, then the report
.venv/bin/python -m benchmarks.calr_budget --compressions 0.5 0.8 \
    --schedules calr_0.001_d0.9_h0.5_f0.5 calr_0.0015_d0.9_h0.5_f0.5 \
    calr_0.002_d0.8_h0.5_f0.25                              # the shallow cycles
.venv/bin/python -m benchmarks.calr_budget --report        # the report only
.venv/bin/python -m benchmarks.calr_budget --report --with-test
```
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, recipe_study, stats, store

RESULTS = harness.RESULTS
OUTPUT = RESULTS / "calr_budget.jsonl"
DATASETS = harness.DATASETS
COMPRESSIONS = (0.5, 0.8, 0.9)
SCHEDULES = (
    "calr_0.01_d0.8_h0.5",
    "calr_0.003_d0.8_h0.5",
    "calr_0.001_d0.5_h0.5",
    "constant_0.001",
)
EXTRA = ("calr_0.002_d0.8_h0.5",)
"""Added after the first results (constant 1e-3 led at p < 0.9): p = 0.5 and 0.8."""
SHALLOW = (
    "calr_0.001_d0.9_h0.5_f0.5",
    "calr_0.0015_d0.9_h0.5_f0.5",
    "calr_0.002_d0.8_h0.5_f0.25",
)
"""Added next (constant 1e-3 still led at p = 0.5 and 0.8, by 0.52 and 0.26 points
of mean dev): CALRs with a shallow cycle near that rate
(`recipe_study.SHALLOW_CALR`), run with `--compressions 0.5 0.8`."""
CURRENT = "calr_0.01_d0.8_h0.5"
"""`EmbeddingFactorization(learning_rate="calr")` at every budget before this study;
now `learning_rate="calr_peak_1e-2"`, and still `"calr"` for heavy splits."""
SELECTED_HEAVY = CURRENT
"""`learning_rate="calr"` when the factors keep at most 15% of the table (p >= 0.85)."""
SELECTED_LIGHT = "calr_0.002_d0.8_h0.5_f0.25"
"""`learning_rate="calr"` when they keep more: the shallow cycle with the best mean
dev over p = 0.5 and 0.8 (88.74%; the best CALR at p = 0.8, 0.06 points under the
best at p = 0.5). Before it, `calr_0.002_d0.8_h0.5` (now
`learning_rate="calr_peak_2e-3"`), the best of the first CALRs at p = 0.8."""
KEPT_THRESHOLD = 0.15


def rule(p: float) -> str:
    """The schedule `learning_rate="calr"` installs at compression `p`."""
    return SELECTED_HEAVY if 1.0 - p <= KEPT_THRESHOLD + 1e-9 else SELECTED_LIGHT


SHORT = harness.SHORT_NAMES


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=(0, 1, 2))
    parser.add_argument("--schedules", nargs="+", default=SCHEDULES)
    parser.add_argument("--compressions", nargs="+", type=float, default=COMPRESSIONS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", action="store_true", help="Only the report.")
    parser.add_argument(
        "--with-test",
        action="store_true",
        help="Also show the test accuracy of the selection (never used to select).",
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.report:
        run_args = [
            "--models",
            "dan",
            "--datasets",
            *args.datasets,
            "--seeds",
            *map(str, args.seeds),
            "--factorizations",
            "bands6",
            "--compressions",
            *map(str, args.compressions),
            "--schedules",
            *args.schedules,
            "--controls",
            "--output",
            str(args.output),
        ]
        if args.no_progress:
            run_args.append("--no-progress")
        code = recipe_study.main(run_args)
        if code:
            return code
    rows = [
        r
        for r in store.read_rows(args.output)
        if r.get("p") is not None and r.get("model") == "dan"
    ]
    report(rows, args.output.with_suffix(".md"), with_test=args.with_test)
    return 0


def _cells(rows: list[dict]) -> dict:
    """(p, dataset, schedule) -> {seed: row}."""
    cells: dict = defaultdict(dict)
    for row in rows:
        cells[(round(row["p"], 6), row["dataset"], row["method"])][row["seed"]] = row
    return cells


def _complete(cells: dict, p: float, datasets, schedules) -> dict:
    """dataset -> seeds finished by every schedule at `p` (pairs stay paired)."""
    out = {}
    for dataset in datasets:
        seeds = None
        for name in schedules:
            done = set(cells.get((p, dataset, name), {}))
            seeds = done if seeds is None else seeds & done
        if seeds:
            out[dataset] = sorted(seeds)
    return out


def summarize(rows: list[dict], field: str = "dev_accuracy") -> dict:
    """Per budget: each schedule's mean `field` per dataset and over datasets.

    Only datasets and seeds finished by every schedule at that budget count, so the
    comparison is paired. Returns {p: {"datasets": {dataset: seeds}, "scores":
    {schedule: {dataset: mean, "mean": mean over datasets}}}}.
    """
    cells = _cells(rows)
    out = {}
    for p in sorted({round(r["p"], 6) for r in rows}):
        schedules = sorted({r["method"] for r in rows if round(r["p"], 6) == p})
        datasets = [d for d in DATASETS if any(k[:2] == (p, d) for k in cells)]
        complete = _complete(cells, p, datasets, schedules)
        scores = {}
        for name in schedules:
            per = {
                d: stats.mean(cells[(p, d, name)][s][field] for s in seeds)
                for d, seeds in complete.items()
            }
            per["mean"] = stats.mean(per.values())
            scores[name] = per
        out[p] = {"datasets": complete, "scores": scores}
    return out


def select(summary: dict) -> dict:
    """Dev-only choices: per budget, and one schedule for every budget."""
    per_budget = {}
    for p, s in summary.items():
        ranked = sorted(s["scores"], key=lambda n: -s["scores"][n]["mean"])
        per_budget[p] = ranked
    names = set.intersection(*(set(s["scores"]) for s in summary.values()))
    overall = sorted(
        names,
        key=lambda n: -stats.mean(s["scores"][n]["mean"] for s in summary.values()),
    )
    return {"per_budget": per_budget, "overall": overall}


def report(rows: list[dict], path: Path, *, with_test: bool = False) -> None:
    if not rows:
        print(f"No rows in {path.with_suffix('.jsonl')}.")
        return
    summary = summarize(rows)
    choice = select(summary)
    step0 = summarize(rows, "dev_accuracy_with_step0")
    lines = [
        "# CALR's default per byte budget (`benchmarks/calr_budget.py`)",
        "",
        "DAN, GloVe 50-d, frequency-banded split (6 bands), 3 pretraining epochs "
        "shared by the schedules of a (dataset, seed), 5 retraining epochs, new Adam. "
        "Dev accuracy (Keras) at the best retrained epoch, %, mean over seeds "
        "(seeds finished by every schedule of that budget). Selection on dev only.",
        "",
    ]
    for p, s in summary.items():
        datasets = list(s["datasets"])
        seeds = ", ".join(f"{SHORT[d]} n={len(s['datasets'][d])}" for d in datasets)
        lines += [
            f"## p = {p:g} ({seeds})",
            "",
            "| schedule | "
            + " | ".join(SHORT[d] for d in datasets)
            + " | mean | with step 0 (mean) | Δ mean vs current |",
            "|---|" + "---|" * (len(datasets) + 3),
        ]
        current = s["scores"].get(CURRENT, {}).get("mean")
        for name in choice["per_budget"][p]:
            sc = s["scores"][name]
            mark = f"**{name}**" if name == choice["per_budget"][p][0] else name
            delta = (
                f"{100 * (sc['mean'] - current):+.2f}" if current is not None else "–"
            )
            lines.append(
                f"| {mark} | "
                + " | ".join(f"{100 * sc[d]:.2f}" for d in datasets)
                + f" | {100 * sc['mean']:.2f} | "
                f"{100 * step0[p]['scores'][name]['mean']:.2f} | {delta} |"
            )
        lines.append("")
    lines += ["## Step 0 (the model right after the split) in the selection", ""]
    lines += ["| p | dataset | runs where step 0 beats every retrained epoch |"]
    lines += ["|---|---|---|"]
    counts: dict = defaultdict(lambda: [0, 0])
    for row in rows:
        c = counts[(round(row["p"], 6), row["dataset"])]
        c[1] += 1
        c[0] += int(row.get("best_retrain_epoch_with_step0") == 0)
    for (p, d), (wins, total) in sorted(counts.items()):
        lines.append(f"| {p:g} | {SHORT[d]} | {wins} of {total} |")
    lines += ["", "## Selection (dev)", ""]
    lines += [
        "Only an annealed CALR can be the callback's default (the method); the "
        "alternatives are shown for comparison. Δ: mean dev over the datasets, "
        "points.",
        "",
        "| p | best CALR | best alternative | `calr` now | Δ vs before | "
        "Δ vs best alternative |",
        "|---|---|---|---|---|---|",
    ]
    for p, ranked in choice["per_budget"].items():
        scores = summary[p]["scores"]
        calr = [n for n in ranked if _eligible(n)]
        other = [n for n in ranked if not _eligible(n)]
        now = rule(p)
        mean = scores.get(now, {}).get("mean")
        if mean is None:
            continue
        vs_before = 100 * (mean - scores[CURRENT]["mean"]) if CURRENT in scores else 0
        vs_other = 100 * (mean - scores[other[0]]["mean"]) if other else float("nan")
        lines.append(
            f"| {p:g} | `{calr[0]}` | `{other[0] if other else '–'}` | `{now}` | "
            f"{vs_before:+.2f} | {vs_other:+.2f} |"
        )

    def over_budgets(name):
        return 100 * stats.mean(s["scores"][name]["mean"] for s in summary.values())

    overall = choice["overall"]
    calr_overall = [n for n in overall if _eligible(n)]
    if calr_overall:
        lines += [
            "",
            f"One CALR for every budget would be `{calr_overall[0]}` (mean dev over "
            f"the budgets {over_budgets(calr_overall[0]):.2f}%; the rule above: "
            + ", ".join(f"p = {p:g} `{rule(p)}`" for p in summary)
            + f"; best of all schedules: `{overall[0]}`, "
            f"{over_budgets(overall[0]):.2f}%).",
        ]
    if with_test:
        test = summarize(rows, "test_accuracy")
        lines += ["", "## Test accuracy of the selection (measured once)", ""]
        lines += ["| p | schedule | " + " | ".join(SHORT[d] for d in DATASETS) + " |"]
        lines += ["|---|---|" + "---|" * len(DATASETS)]
        for p, ranked in choice["per_budget"].items():
            for name in dict.fromkeys([ranked[0], CURRENT]):
                sc = test[p]["scores"].get(name, {})
                lines.append(
                    f"| {p:g} | {name} | "
                    + " | ".join(
                        f"{100 * sc[d]:.2f}" if d in sc else "–" for d in DATASETS
                    )
                    + " |"
                )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _plot(summary, path.with_suffix(".png"))
    print(path.read_text(encoding="utf-8"))


def _eligible(name: str) -> bool:
    return recipe_study.SCHEDULES[name].can_be_default


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = list(summary)
    names = sorted(set.union(*(set(s["scores"]) for s in summary.values())))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name in names:
        ys = [
            100 * summary[p]["scores"].get(name, {}).get("mean", float("nan"))
            for p in budgets
        ]
        ax.plot(budgets, ys, marker="o", label=name)
    ax.set_xlabel("compression p (fraction of table parameters removed)")
    ax.set_ylabel("mean dev accuracy over datasets (%)")
    ax.set_title("Retraining schedule after the split, per budget (DAN, bands6)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
