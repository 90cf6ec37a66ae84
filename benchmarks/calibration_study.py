"""Does the gradient-weighted split (`calibration_data=`) beat the plain one on dev?

`EmbeddingFactorization(calibration_data=...)` weights the truncated SVD by the
covariance of the loss gradient (`tflite_lowrank.factorization.weighting`): the model
right after the split is much closer to the trained one. This study asks whether that
survives retraining, and with which CALR: DAN, GloVe 50-d, 6 frequency bands, p = 0.9
(the issue's byte targets), each (dataset, seed) pretrained once (3 epochs) and
retrained 5 epochs per (layout, schedule); the calibration data is a random sample of
3,200 training examples (the callback's default 100 batches of 32). Rows are
`recipe_study.py` rows (`factorization` `bands6` or `bands6_calibrated`); the plain
rows of the schedules `calr_budget.py` already ran are copied from
`calr_budget.jsonl` (same code, seeds and pretraining), so every comparison is paired.
Selection on dev only; test is shown for the step-0 comparison and the selected pair.

```bash
.venv/bin/python -m benchmarks.calibration_study            # the runs, then the report
.venv/bin/python -m benchmarks.calibration_study --report   # the report only
```
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, recipe_study, stats, store

RESULTS = harness.RESULTS
OUTPUT = RESULTS / "calibration_study.jsonl"
DATASETS = harness.DATASETS
SEEDS = {
    "rotten_tomatoes": (0, 1, 2),
    "r8": (0, 1, 2),
    "bbc": (0, 1, 2),
    "20newsgroups": (0, 1),  # its runs take about a minute each
}
P = 0.9
LAYOUTS = ("bands6", "bands6_calibrated")
SCHEDULES = (
    "calr_0.01_d0.8_h0.5",
    "calr_0.003_d0.8_h0.5",
    "calr_0.001_d0.8_h0.5",
    "constant_0.001",
)
DEFAULT = ("bands6", "calr_0.01_d0.8_h0.5")
"""What the callback does at p = 0.9 without `calibration_data`."""
CALIBRATED_RULE = "calr_0.003_d0.8_h0.5"
"""What `learning_rate="calr"` installs for a calibrated split at p >= 0.85."""
SHORT = harness.SHORT_NAMES


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--schedules", nargs="+", default=SCHEDULES)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", action="store_true", help="Only the report.")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def _seed_copies(output: Path) -> None:
    """Copies the plain p = 0.9 rows `calr_budget.py` ran (once, if absent)."""
    done = {_key(r) for r in store.read_rows(output)}
    for row in store.read_rows(RESULTS / "calr_budget.jsonl"):
        if (
            row.get("p") == P
            and row.get("factorization") == "bands6"
            and row.get("method") in SCHEDULES
            and _key(row) not in done
        ):
            store.append_row(output, row)


def _key(row: dict) -> tuple:
    return (row["dataset"], row["seed"], row["factorization"], row["method"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.report:
        _seed_copies(args.output)
        for dataset in args.datasets:
            seeds = SEEDS[dataset]
            run_args = [
                "--models", "dan",
                "--datasets", dataset,
                "--seeds", *map(str, seeds),
                "--factorizations", *LAYOUTS,
                "--compressions", str(P),
                "--schedules", *args.schedules,
                "--controls",
                "--output", str(args.output),
                "--report-dir", tempfile.gettempdir(),
            ]  # fmt: skip
            if args.no_progress:
                run_args.append("--no-progress")
            code = recipe_study.main(run_args)
            if code:
                return code
    rows = [r for r in store.read_rows(args.output) if r.get("p") == P]
    report(rows, args.output.with_suffix(".md"))
    return 0


def _cells(rows):
    """(dataset, layout, schedule) -> {seed: row}."""
    cells = defaultdict(dict)
    for row in rows:
        cells[(row["dataset"], row["factorization"], row["method"])][row["seed"]] = row
    return cells


def _paired_seeds(cells, dataset, pairs) -> list[int]:
    seeds = None
    for layout, schedule in pairs:
        done = set(cells.get((dataset, layout, schedule), {}))
        seeds = done if seeds is None else seeds & done
    return sorted(seeds or ())


def _mean(values) -> float | None:
    """The mean in percent; None for no values (the tables print "–")."""
    values = list(values)
    return 100.0 * stats.mean(values) if values else None


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def summarize(rows: list[dict]) -> dict:
    """Mean dev per (layout, schedule) and dataset over the seeds every pair has."""
    cells = _cells(rows)
    pairs = [(layout, s) for layout in LAYOUTS for s in SCHEDULES]
    datasets = [d for d in DATASETS if _paired_seeds(cells, d, pairs)]
    table = {}
    for pair in pairs:
        per = {}
        for dataset in datasets:
            seeds = _paired_seeds(cells, dataset, pairs)
            chosen = cells[(dataset, *pair)]
            per[dataset] = {
                "dev": _mean(chosen[s]["dev_accuracy"] for s in seeds),
                "dev_with_step0": _mean(
                    chosen[s]["dev_accuracy_with_step0"] for s in seeds
                ),
                "test": _mean(chosen[s]["test_accuracy"] for s in seeds),
                "step0_dev": _mean(chosen[s]["step0_dev_accuracy"] for s in seeds),
                "step0_test": _mean(chosen[s]["step0_test_accuracy"] for s in seeds),
                "n": len(seeds),
            }
        table[pair] = per
    return {"datasets": datasets, "table": table}


def report(rows: list[dict], path: Path) -> None:
    summary = summarize(rows)
    datasets, table = summary["datasets"], summary["table"]
    if not datasets:
        return
    names = [SHORT[d] for d in datasets]

    def mean_over(pair, field):
        values = [table[pair][d][field] for d in datasets]
        return stats.mean(values) if None not in values else None

    lines = [
        "# The gradient-weighted split (`benchmarks/calibration_study.py`)",
        "",
        "DAN, GloVe 50-d, 6 frequency bands, p = 0.9, 3 pretraining epochs shared by "
        "every run of a (dataset, seed), 5 retraining epochs. `bands6_calibrated`: "
        "`calibration_data` = 3,200 random training examples (100 batches of 32). "
        "Keras accuracy, %, mean over seeds ("
        + ", ".join(
            f"{SHORT[d]} n={table[DEFAULT][d]['n']}" for d in datasets
        )
        + "). Selection on dev only.",
        "",
        "## Right after the split (step 0, before any retraining)",
        "",
        "| layout | " + " | ".join(f"{n} dev" for n in names) + " | "
        + " | ".join(f"{n} test" for n in names) + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]  # fmt: skip
    for layout in LAYOUTS:
        pair = (layout, SCHEDULES[0])
        lines.append(
            f"| {layout} | "
            + " | ".join(_fmt(table[pair][d]["step0_dev"]) for d in datasets)
            + " | "
            + " | ".join(_fmt(table[pair][d]["step0_test"]) for d in datasets)
            + " |"
        )
    lines += [
        "",
        "## After retraining: dev at the best retrained epoch",
        "",
        "| layout | schedule | " + " | ".join(names)
        + " | mean | with step 0 (mean) | Δ mean vs default |",
        "|---|---|" + "---|" * (len(names) + 3),
    ]  # fmt: skip
    default_mean = mean_over(DEFAULT, "dev")
    ranked = sorted(table, key=lambda p: -(mean_over(p, "dev") or -1.0))
    for pair in ranked:
        mean = mean_over(pair, "dev")
        bold = "**" if pair == ranked[0] else ""
        lines.append(
            f"| {bold}{pair[0]}{bold} | `{pair[1]}`"
            + ("" if pair != DEFAULT else " (default)")
            + " | "
            + " | ".join(_fmt(table[pair][d]["dev"]) for d in datasets)
            + f" | {_fmt(mean)} | {_fmt(mean_over(pair, 'dev_with_step0'))} | "
            + (
                "–"
                if mean is None or default_mean is None
                else f"{mean - default_mean:+.2f}"
            )
            + " |"
        )
    best = ranked[0]
    calibrated_calr = [
        p for p in ranked if p[0] == "bands6_calibrated" and p[1].startswith("calr_")
    ]
    if calibrated_calr:
        pick = calibrated_calr[0]
        lines += [
            "",
            "## Selection (dev)",
            "",
            f"- With `calibration_data`, the best CALR on mean dev is `{pick[1]}` "
            f"({_fmt(mean_over(pick, 'dev'))}%, against "
            f"{_fmt(mean_over(('bands6_calibrated', DEFAULT[1]), 'dev'))}% for the "
            'plain split\'s peak 1e-2): `learning_rate="calr"` uses it for a '
            f"calibrated split at p >= 0.85 (`{CALIBRATED_RULE}` in the callback).",
            f"- Against the plain default ({_fmt(default_mean)}%), the calibrated "
            f"split with it is {mean_over(pick, 'dev') - default_mean:+.2f} points on "
            "mean dev: `calibration_data` stays opt-in (it needs the user's data) "
            "and the plain split stays the default.",
        ]
    lines += [
        "",
        "## Test of the default, the best pair on dev and the calibrated rule "
        "(read once)",
        "",
        "| layout | schedule | " + " | ".join(names) + " | mean |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    shown = [DEFAULT, best, *calibrated_calr[:1]]
    for pair in dict.fromkeys(shown):
        lines.append(
            f"| {pair[0]} | `{pair[1]}` | "
            + " | ".join(_fmt(table[pair][d]["test"]) for d in datasets)
            + f" | {_fmt(mean_over(pair, 'test'))} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.with_suffix(".json").write_text(
        json.dumps(_jsonable(summary), indent=1) + "\n", encoding="utf-8"
    )
    _plot(summary, path.with_suffix(".png"))


def _plot(summary: dict, path: Path) -> None:
    """Dev accuracy minus the default's, per dataset: step 0 and each retrained pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets, table = summary["datasets"], summary["table"]
    pairs = [p for p in table if p != DEFAULT]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / (len(pairs) + 1)
    for i, pair in enumerate([("step 0", None), *pairs]):
        if pair[1] is None:
            values = [
                table[("bands6_calibrated", SCHEDULES[0])][d]["step0_dev"]
                - table[DEFAULT][d]["step0_dev"]
                for d in datasets
            ]
            label = "calibrated - plain, right after the split"
        else:
            values = [
                table[pair][d]["dev"] - table[DEFAULT][d]["dev"] for d in datasets
            ]
            label = f"{pair[0]} {pair[1]}"
        positions = [j + i * width for j in range(len(datasets))]
        ax.bar(positions, values, width, label=label)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(datasets))])
    ax.set_xticklabels([SHORT[d] for d in datasets])
    ax.set_ylabel("dev accuracy − default's (points)")
    ax.set_title("Gradient-weighted split, DAN p = 0.9 (default: bands6, CALR 1e-2)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(summary: dict) -> dict:
    return {
        "datasets": summary["datasets"],
        "table": [
            {"layout": layout, "schedule": schedule, **per}
            for (layout, schedule), per in summary["table"].items()
        ],
    }


if __name__ == "__main__":
    raise SystemExit(main())
