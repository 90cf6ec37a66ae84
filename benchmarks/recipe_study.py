"""The retraining-recipe study (issue 13, lever 1): CALR's default after the split.

`EmbeddingFactorization` attaches CALR to the fresh optimizer after the split. Which
peak, annealing factor and cycle length should that default have? The learning-rate
study (`lr_study.py`) found a constant Adam 1e-3 after the split at least as good as
the grid's CALR on dev in all four cases it ran. This study selects CALR's default on
dev across four datasets, and checks it against the alternative schedules.

For each (dataset, model, seed) the model is pretrained once (3 epochs, CALR at peak
1e-2, batch 50, as in the grid). From that same state it is split at `p = 0.9` (rank 4
at D = 50) and retrained for 5 epochs with each schedule below, with a fresh Adam:

| schedule | definition |
|---|---|
| `calr_<peak>_d<decay>_h<half>` | CALR: peak x decay per epoch, half cycle in epochs |
| `triangular_<peak>` | CALR with decay 1 (triangular CLR), half cycle 0.5 epoch |
| `cosine_restarts_<peak>` | `CosineDecayRestarts`: 1 epoch, t_mul 2, alpha 1e-3 |
| `constant_<peak>` | Adam at a constant rate (1e-3: the current best alternative) |

CALR grid: peak in {1e-3, 3e-3, 1e-2}, decay in {0.1, 0.5}, half cycle in {0.5, 1}
epoch, plus decay 0.8 with half cycle 0.5 (15 configs; decay 0.8 was added after the
first DAN group, without the 1-epoch half cycle). Floor peak x 1e-3 and restart floor
peak x decay^5, as the grid's retraining CALR. Alternatives: constant {1e-3, 3e-3},
triangular and cosine restarts at each of the three peaks (8 schedules).

`calr_0.001_d0.1_h0.5` is exactly what `EmbeddingFactorization(learning_rate="calr")`
installed before this study (now `learning_rate="calr_paper"`), and the selected
`calr_0.01_d0.8_h0.5` is what `learning_rate="calr"` installs now;
`calr_0.01_d0.1_h0.5` is the grid's retraining schedule (and
`triangular_0.01`, `cosine_restarts_0.01`, `constant_0.001` are `lr_study.py`'s). Only
CALR configs with decay < 1 can become the default (decay 1 does not anneal: it is
the triangular alternative). The uncompressed control (no split, the grid's
`retrain_uncompressed`, best dev epoch over all 8) is run per group with the grid's
CALR and with constant 1e-3, so that test drops are paired by seed.

Per run the row holds the dev accuracy after every epoch, the dev and test accuracy
right after the split (step 0), the best retrained epoch on dev and the test accuracy
there, the same with step 0 allowed in the selection (chosen only if strictly better
on dev than every retrained epoch), and the seconds. Accuracy is Keras'.

Rows go to `--output` (JSON lines, `study = "recipe"`), keyed by (study, dataset,
model, dim, method, p, seed, factorization); `factorization` is the split's
factorization (`"svd"`; None for the uncompressed control), and rows without the
field count as `"svd"`, so a new factorization adds rows without touching these.
Resumable: kill it at any time, it skips finished runs when started again.

Sequence lengths: 40 (RT) and 100 (R8) as in the grid; 200 for BBC News (median
376 tokens) and 150 for 20 Newsgroups (median 162), to keep each epoch cheap.

Usage:

```bash
.venv/bin/python -m benchmarks.recipe_study --quick --output /tmp/recipe.jsonl
.venv/bin/python -m benchmarks.recipe_study --models dan          # 4 datasets x 5 seeds
.venv/bin/python -m benchmarks.recipe_study --models lstm --top-calr 3 --seeds 0 1 2
.venv/bin/python -m benchmarks.recipe_study --report              # .md and .png
```
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks import harness, stats, store

logger = logging.getLogger("recipe_study")

DEFAULT_OUTPUT = harness.RESULTS / "recipe_study.jsonl"
STUDY = "recipe"
DATASETS = harness.DATASETS
MODELS = ("dan", "lstm")
SEEDS = (0, 1, 2, 3, 4)
DIM = harness.DIM
COMPRESSION = 0.9

KEY_FIELDS = (*store.KEY_FIELDS, "factorization")
FACTORIZATIONS: dict[str, dict] = {
    "svd": {"bands": 1},
    "bands4": {"bands": 4},
    "bands6": {"bands": 6},
    "bands6_calibrated": {"bands": 6, "calibration": True},
}
"""Factorization name -> extra `EmbeddingFactorization` arguments: the paper's single
SVD, or frequency bands (`bands=4`/`6`, the same parameter budget as rank 4);
`*_calibrated` also passes `calibration_data` (`harness.calibration_sample`), the
gradient-weighted split (`calibration_study.py`)."""

PEAKS = (1e-3, 3e-3, 1e-2)
DECAYS = (0.1, 0.5)
HALF_CYCLES = (0.5, 1.0)
FLOOR_RATIO = 1e-3
"""Retraining floor relative to the peak, as `harness.calr(..., "retrain")`."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One retraining learning rate, defined relative to the epoch length.

    Args:
        kind: `"calr"`, `"triangular"`, `"cosine_restarts"` or `"constant"`.
        peak: Float. Peak (or constant) learning rate.
        decay: Float. CALR's factor on the peak per epoch (CALR only).
        half_cycle: Float. Half cycle in epochs (CALR and triangular).
        floor_ratio: Float. The cycle's floor relative to the peak (CALR and
            triangular); names show it when it is not `FLOOR_RATIO`.
    """

    kind: str
    peak: float
    decay: float | None = None
    half_cycle: float | None = None
    floor_ratio: float = FLOOR_RATIO

    @property
    def name(self) -> str:
        if self.kind == "calr":
            name = f"calr_{self.peak:g}_d{self.decay:g}_h{self.half_cycle:g}"
            if self.floor_ratio != FLOOR_RATIO:
                name += f"_f{self.floor_ratio:g}"
            return name
        return f"{self.kind}_{self.peak:g}"

    @property
    def can_be_default(self) -> bool:
        """An annealed CALR: what `EmbeddingFactorization` may attach by default."""
        return self.kind == "calr" and self.decay < 1.0

    def learning_rate(self, steps_per_epoch: int):
        """A float or a Keras schedule for `steps_per_epoch` steps per epoch."""
        import keras

        from tflite_lowrank import CyclicalAnnealedLearningRate

        if self.kind == "constant":
            return self.peak
        if self.kind == "cosine_restarts":
            return keras.optimizers.schedules.CosineDecayRestarts(
                initial_learning_rate=self.peak,
                first_decay_steps=steps_per_epoch,
                t_mul=2.0,
                m_mul=1.0,
                alpha=1e-3,
            )
        return CyclicalAnnealedLearningRate(
            initial_learning_rate=self.peak,
            minimal_learning_rate=self.peak * self.floor_ratio,
            step_size=steps_per_epoch * self.half_cycle,
            decay=self.decay,
            steps_per_epoch=steps_per_epoch,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _triangular(peak: float) -> Schedule:
    return Schedule("triangular", peak, decay=1.0, half_cycle=0.5)


SLOW_DECAY = 0.8
"""A slowly annealed CALR, added after the first group (R8 wanted more learning in
5 epochs, RT less); half cycle 0.5 epoch only, to keep the grid small."""
CALR_GRID = (
    *(
        Schedule("calr", peak, decay, half)
        for peak, decay, half in itertools.product(PEAKS, DECAYS, HALF_CYCLES)
    ),
    *(Schedule("calr", peak, SLOW_DECAY, 0.5) for peak in PEAKS),
)
ALTERNATIVES = (
    Schedule("constant", 1e-3),
    Schedule("constant", 3e-3),
    *(_triangular(peak) for peak in PEAKS),
    *(Schedule("cosine_restarts", peak) for peak in PEAKS),
)
BUDGET_EXTRA = (Schedule("calr", 2e-3, SLOW_DECAY, 0.5),)
"""Run by `calr_budget.py` only: a CALR whose mean rate in the first epoch is about
constant 1e-3's (the best alternative at p < 0.9)."""
SHALLOW_CALR = (
    Schedule("calr", 1e-3, 0.9, 0.5, floor_ratio=0.5),
    Schedule("calr", 1.5e-3, 0.9, 0.5, floor_ratio=0.5),
    Schedule("calr", 2e-3, 0.8, 0.5, floor_ratio=0.25),
)
"""Run by `calr_budget.py` at p = 0.5 and 0.8 only: CALRs with a shallow cycle (floor
a quarter or half of the peak) and slow annealing, whose mean rate stays near
constant 1e-3 (the best alternative there) for the 5 retraining epochs. With these
floors no restart happens within 5 epochs."""
SCHEDULES = {
    s.name: s for s in (*CALR_GRID, *ALTERNATIVES, *BUDGET_EXTRA, *SHALLOW_CALR)
}
CURRENT_DEFAULT = "calr_0.001_d0.1_h0.5"
"""What `EmbeddingFactorization(learning_rate="calr")` attached before this study; now
`learning_rate="calr_paper"`."""
SELECTED_DEFAULT = "calr_0.01_d0.8_h0.5"
"""The study's pick, now `EmbeddingFactorization(learning_rate="calr")`."""
GRID_CALR = "calr_0.01_d0.1_h0.5"
"""The grid's retraining CALR (`harness.calr`)."""
REFERENCE = "constant_0.001"
"""The best alternative of the learning-rate study; paired differences use it."""
CONTROLS = (GRID_CALR, REFERENCE)
"""Schedules of the uncompressed control (no split)."""
QUICK_SCHEDULES = (CURRENT_DEFAULT, REFERENCE)
QUICK_CONTROLS = (GRID_CALR,)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="Smoke subset.")
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument(
        "--with-test",
        action="store_true",
        help="With --report: also show the selected default's test accuracy (once "
        "the selection is final; the selection itself never reads test).",
    )
    parser.add_argument("--datasets", nargs="+", choices=DATASETS)
    parser.add_argument("--models", nargs="+", choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int)
    parser.add_argument("--schedules", nargs="+", choices=sorted(SCHEDULES))
    parser.add_argument(
        "--top-calr",
        type=int,
        help="Instead of --schedules: the N best CALR configs by mean DAN dev "
        "accuracy in --output, each alternative family at its best DAN peak, "
        "and the current default (for the LSTM).",
    )
    parser.add_argument(
        "--controls",
        nargs="*",
        choices=sorted(SCHEDULES),
        help="Schedules of the uncompressed control (no split).",
    )
    parser.add_argument(
        "--factorizations",
        nargs="+",
        choices=sorted(FACTORIZATIONS),
        default=["svd"],
        help="Split layouts to run for every schedule (pretraining is shared).",
    )
    parser.add_argument(
        "--compressions",
        nargs="+",
        type=float,
        default=[COMPRESSION],
        help="Split compressions to run for every schedule (pretraining is shared); "
        "`calr_budget.py` runs several.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--report-dir", type=Path, help="Defaults to --output's folder."
    )
    parser.add_argument("--pretrain-epochs", type=int)
    parser.add_argument("--retrain-epochs", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick
    args.datasets = tuple(
        args.datasets or (("rotten_tomatoes",) if quick else DATASETS)
    )
    args.models = tuple(args.models or ("dan",))
    args.seeds = tuple(args.seeds or ((0,) if quick else SEEDS))
    if args.top_calr is not None and args.schedules:
        parser.error("Give --schedules or --top-calr, not both.")
    if args.top_calr is not None and args.top_calr < 1:
        parser.error(f"--top-calr must be >= 1. Received: {args.top_calr}")
    every = tuple(s.name for s in (*CALR_GRID, *ALTERNATIVES))
    default_schedules = QUICK_SCHEDULES if quick else every
    args.schedules = tuple(args.schedules or default_schedules)
    if args.controls is None:
        args.controls = QUICK_CONTROLS if quick else CONTROLS
    args.controls = tuple(args.controls)
    args.pretrain_epochs = args.pretrain_epochs or (1 if quick else 3)
    args.retrain_epochs = args.retrain_epochs or (1 if quick else 5)
    args.report_dir = args.report_dir or args.output.parent
    return args


# ------------------------------------------------------------------------ the runs


def run_key(row: dict) -> tuple:
    """The identity of a run; `factorization` is None without a split, else "svd"."""
    split = row.get("p") is not None
    factorization = (row.get("factorization") or "svd") if split else None
    return store.run_key({**row, "factorization": factorization}, KEY_FIELDS)


def planned_runs(args: argparse.Namespace, schedules: Sequence[str]) -> list:
    """Every run as ((dataset, model, seed), [key dicts]), seeds outermost."""
    plan = []
    for seed in args.seeds:
        for model in args.models:
            for dataset in args.datasets:
                base = {
                    "study": STUDY,
                    "dataset": dataset,
                    "model": model,
                    "dim": DIM,
                    "seed": seed,
                }
                keys = [
                    {
                        **base,
                        "method": name,
                        "p": compression,
                        "factorization": factorization,
                    }
                    for compression in args.compressions
                    for factorization in args.factorizations
                    for name in schedules
                ]
                keys += [
                    {**base, "method": name, "p": None, "factorization": None}
                    for name in args.controls
                ]
                plan.append(((dataset, model, seed), keys))
    return plan


def retrain_split(
    model_name,
    start,
    *,
    seed,
    learning_rate,
    factorization,
    compression=COMPRESSION,
):
    """Ours from the pretrained state: `harness.retrain_online` with the layout.

    `FACTORIZATIONS[factorization]` gives the callback's `bands`. Returns the model at
    its best retrained dev epoch, the `PhaseResult`, the split's result and the
    retraining seconds.
    """
    model, result, split = harness.retrain_online(
        model_name,
        start,
        seed=seed,
        compression=compression,
        learning_rate=learning_rate,
        bands=FACTORIZATIONS[factorization]["bands"],
        calibration=FACTORIZATIONS[factorization].get("calibration", False),
    )
    return model, result, split, result.train_seconds - start.pretrained.seconds


def run_one(key: dict, start: harness.Start) -> dict:
    """Trains one run of a group from its pretrained state and returns its row."""
    data, recipe, _, pretrained = start
    schedule = SCHEDULES[key["method"]]
    steps = data.steps_per_epoch(recipe.batch_size)
    rate = schedule.learning_rate(steps)
    began = time.perf_counter()
    if key["p"] is None:
        model, result = harness.retrain_uncompressed(
            key["model"], start, seed=key["seed"], learning_rate=rate
        )
        split = {}
    else:
        model, result, split, _ = retrain_split(
            key["model"],
            start,
            seed=key["seed"],
            learning_rate=rate,
            factorization=key["factorization"],
            compression=key["p"],
        )
    seconds = time.perf_counter() - began
    test = harness.accuracy(model, data.x_test, data.y_test)
    # Step 0 joins the selection only if strictly better than every retrained epoch.
    step0_wins = result.step0_dev is not None and result.step0_dev > result.best_dev
    # 1-based retraining epoch of the selection (None for the control, which may
    # keep a pretraining epoch); 0 means step 0, right after the split.
    retrain_epoch = None
    if key["p"] is not None:
        retrain_epoch = result.best_epoch - recipe.pretrain_epochs
    return {
        **key,
        "schedule": schedule.to_dict(),
        "rank": split.get("rank"),
        "dev_accuracy": result.best_dev,
        "test_accuracy": test,
        "best_epoch": result.best_epoch,
        "best_retrain_epoch": retrain_epoch,
        "dev_curve": result.dev_curve,
        "step0_dev_accuracy": result.step0_dev,
        "step0_test_accuracy": result.step0_test,
        "dev_accuracy_with_step0": result.step0_dev if step0_wins else result.best_dev,
        "test_accuracy_with_step0": result.step0_test if step0_wins else test,
        "best_retrain_epoch_with_step0": 0 if step0_wins else retrain_epoch,
        "accuracy_source": "keras",
        "run_seconds": seconds,
        "pretrain_seconds": pretrained.seconds,
        "steps_per_epoch": steps,
        "seq_len": data.seq_len,
        "vocab_size": data.vocab_size,
        "recipe": recipe.to_dict(),
        "quick": False,
        "finished_at": harness.timestamp(),
    }


def top_schedules(rows: list[dict], top_calr: int) -> list[str]:
    """The N best CALR configs on mean DAN dev, the alternatives, the current default.

    Each alternative family (constant, triangular, cosine restarts) comes at its peak
    with the best mean DAN dev accuracy; constant 1e-3 is always kept.
    """
    summary = summarize([r for r in rows if r["model"] == "dan"])
    if not summary.ranking:
        raise ValueError(
            "--top-calr needs the DAN rows of this study in --output. Run "
            "`recipe_study.py --models dan` first."
        )
    ranked = [name for name, _ in summary.ranking]
    calr = [n for n in ranked if SCHEDULES[_base(n)].can_be_default][:top_calr]
    families = {}
    for name in ranked:  # Best first: the first of each family wins.
        families.setdefault(SCHEDULES[_base(name)].kind, name)
    alternatives = [families[k] for k in ("triangular", "cosine_restarts", "constant")]
    chosen = [*calr, CURRENT_DEFAULT, REFERENCE, *alternatives]
    return [name for name in dict.fromkeys(chosen) if name in ranked]


def run(args: argparse.Namespace) -> int:
    schedules = args.schedules
    if args.top_calr is not None:
        schedules = top_schedules(store.read_rows(args.output), args.top_calr)
        logger.info("Schedules from the DAN ranking: %s", ", ".join(schedules))
    plan = planned_runs(args, schedules)
    done = {run_key(row) for row in store.read_rows(args.output)}
    todo = [(g, [k for k in keys if run_key(k) not in done]) for g, keys in plan]
    todo = [(g, keys) for g, keys in todo if keys]
    total = sum(len(keys) for _, keys in todo)
    logger.info("%d recipe runs to do (%s).", total, args.output)
    if not todo:
        return 0
    harness.limit_threads(args.threads)
    import keras

    recipe = harness.Recipe(
        pretrain_epochs=args.pretrain_epochs, retrain_epochs=args.retrain_epochs
    )
    with harness.progress(
        total=total, unit="run", desc="recipe_study", disable=args.no_progress
    ) as bar:
        for (dataset, model_name, seed), keys in todo:
            start = harness.pretrained_start(
                dataset, model_name, seed, recipe, quick=args.quick, dim=DIM
            )
            for key in keys:
                bar.set_postfix_str(f"{dataset} {model_name} s{seed} {key['method']}")
                row = run_one(key, start)
                row["quick"] = bool(args.quick)
                store.append_row(args.output, row)
                bar.update(1)
                logger.info(
                    "%s %s seed=%d %s p=%s: dev %.4f (step 0 %s) best epoch %d, %.0f s",
                    dataset,
                    model_name,
                    seed,
                    key["method"],
                    key["p"],
                    row["dev_accuracy"],
                    _fmt(row["step0_dev_accuracy"]),
                    row["best_epoch"],
                    row["run_seconds"],
                )
                keras.backend.clear_session()
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------------- the report


@dataclasses.dataclass
class Summary:
    """Dev accuracy of the split runs of one model (or of all), per schedule.

    `dev[(model, dataset)][name][seed]` is the dev accuracy; `cells` are the (model,
    dataset) pairs; `ranking` lists (name, score) best first, where the score is the
    mean over cells of the mean over seeds, on seeds that every ranked schedule has.
    """

    dev: dict
    cells: list
    ranking: list
    seeds: dict


def run_name(row: dict) -> str:
    """The schedule's name, with the split layout appended unless it is the SVD."""
    factorization = row.get("factorization") or "svd"
    if factorization == "svd":
        return row["method"]
    return f"{row['method']} [{factorization}]"


FINALISTS = ("calr_0.01_d0.8_h0.5", "constant_0.001", "calr_0.001_d0.1_h0.5")
"""Stage 2: the seed-0 screening's best CALR, the best alternative and the old
default, each with the three split layouts, over every seed."""


def _base(name: str) -> str:
    """The schedule of a run name (without its split layout)."""
    return name.split(" [")[0]


def finalist_names() -> list[str]:
    return [
        name + suffix for name in FINALISTS for suffix in ("", " [bands4]", " [bands6]")
    ]


def summarize(
    rows: list[dict], *, field: str = "dev_accuracy", names: Iterable[str] | None = None
) -> Summary:
    """Ranks the split schedules by mean dev accuracy over (model, dataset) cells.

    Only schedules present in every cell are ranked, and within a cell only the seeds
    that every one of them has (a group cut by a kill is left out until complete).
    """
    dev = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        if row.get("p") is None or row.get(field) is None:
            continue
        dev[(row["model"], row["dataset"])][run_name(row)][row["seed"]] = row[field]
    cells = sorted(dev)
    if not cells:
        return Summary({}, [], [], {})
    common = set.intersection(*(set(dev[cell]) for cell in cells))
    if names is not None:
        common &= set(names)
    seeds = {
        cell: sorted(set.intersection(*(set(dev[cell][n]) for n in common)))
        if common
        else []
        for cell in cells
    }
    scores = {}
    for name in common:
        means = [
            stats.mean(dev[cell][name][s] for s in seeds[cell])
            for cell in cells
            if seeds[cell]
        ]
        if len(means) == len(cells):
            scores[name] = stats.mean(means)
    ranking = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return Summary(dev, cells, ranking, seeds)


def _mean_sd(values: Sequence[float], scale: float = 100.0) -> str:
    if not values:
        return "–"
    return f"{stats.mean(values) * scale:.2f} ± {stats.sd(values) * scale:.2f}"


def _paired(summary: Summary, name: str, reference: str) -> tuple[list, list]:
    """Per-cell paired differences, and per-seed averages over the cells."""
    per_cell = []
    by_seed = defaultdict(list)
    for cell in summary.cells:
        diffs = {
            s: summary.dev[cell][name][s] - summary.dev[cell][reference][s]
            for s in summary.seeds[cell]
        }
        per_cell.append(list(diffs.values()))
        for seed, diff in diffs.items():
            by_seed[seed].append(diff)
    complete = [stats.mean(v) for v in by_seed.values() if len(v) == len(summary.cells)]
    return per_cell, complete


def _label(cell: tuple) -> str:
    return f"{cell[0].upper()} {harness.SHORT_NAMES.get(cell[1], cell[1])}"


def _ranking_table(summary: Summary, title: str, field_name: str) -> list[str]:
    if not summary.ranking:
        return [f"### {title}", "", "No complete cells yet.", ""]
    cells = summary.cells
    header = (
        "| # | schedule | "
        + " | ".join(f"{_label(c)} (n={len(summary.seeds[c])})" for c in cells)
        + f" | mean | Δ vs {REFERENCE} (paired) |"
    )
    lines = [
        f"### {title}",
        "",
        f"{field_name}, % (mean ± sd over seeds). `mean` averages the cells; Δ is "
        "the paired difference in points, mean over cells ± sd over seeds of the "
        "per-seed average over cells. **Bold**: can be the default (annealed CALR).",
        "",
        header,
        "|" + "---|" * (len(cells) + 4),
    ]
    has_reference = REFERENCE in dict(summary.ranking)
    for number, (name, score) in enumerate(summary.ranking, start=1):
        values = [
            _mean_sd([summary.dev[c][name][s] for s in summary.seeds[c]]) for c in cells
        ]
        delta = "–"
        if has_reference and name != REFERENCE:
            per_cell, per_seed = _paired(summary, name, REFERENCE)
            mean = stats.mean(stats.mean(v) for v in per_cell) * 100
            delta = f"{mean:+.2f} ± {stats.sd(per_seed) * 100:.2f}"
        shown = f"**{name}**" if SCHEDULES[_base(name)].can_be_default else name
        lines.append(
            f"| {number} | {shown} | " + " | ".join(values) + f" | {score * 100:.2f} "
            f"| {delta} |"
        )
    return [*lines, ""]


def select_default(summary: Summary) -> tuple[str | None, str | None, float | None]:
    """The best annealed CALR, the best alternative and the margin (points)."""
    ranking = dict(summary.ranking)
    calr = [n for n, _ in summary.ranking if SCHEDULES[_base(n)].can_be_default]
    alternatives = [
        n for n, _ in summary.ranking if not SCHEDULES[_base(n)].can_be_default
    ]
    if not calr:
        return None, None, None
    best_alternative = alternatives[0] if alternatives else None
    margin = (
        (ranking[calr[0]] - ranking[best_alternative]) * 100
        if best_alternative
        else None
    )
    return calr[0], best_alternative, margin


def _test_table(rows: list[dict], chosen: str, cells: list) -> list[str]:
    """Test accuracy of the chosen default and paired drops vs the controls."""
    by = defaultdict(dict)
    for row in rows:
        by[
            (
                row["model"],
                row["dataset"],
                run_name(row) if row["p"] is not None else row["method"],
                row["p"],
            )
        ][row["seed"]] = row
    controls = sorted({r["method"] for r in rows if r.get("p") is None})
    lines = [
        "| cell | n | test, % | test with step 0, % | "
        + " | ".join(f"drop vs control {c}" for c in controls)
        + " | "
        + " | ".join(f"drop with step 0 vs control {c}" for c in controls)
        + " |",
        "|" + "---|" * (4 + 2 * len(controls)),
    ]
    for model, dataset in cells:
        ours = by[(model, dataset, chosen, COMPRESSION)]
        seeds = sorted(ours)
        drops, drops0 = [], []
        for control in controls:
            base = by[(model, dataset, control, None)]
            reference = {s: run["test_accuracy"] for s, run in base.items()}
            for field, out in (
                ("test_accuracy", drops),
                ("test_accuracy_with_step0", drops0),
            ):
                values = {s: ours[s][field] for s in seeds if s in base}
                out.append(_mean_sd(stats.paired_deltas(values, reference)))
        lines.append(
            f"| {_label((model, dataset))} | {len(seeds)} | "
            f"{_mean_sd([ours[s]['test_accuracy'] for s in seeds])} | "
            f"{_mean_sd([ours[s]['test_accuracy_with_step0'] for s in seeds])} | "
            + " | ".join(drops)
            + " | "
            + " | ".join(drops0)
            + " |"
        )
    return lines


def _step0_table(rows: list[dict]) -> list[str]:
    counts = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.get("p") is None or row.get("step0_dev_accuracy") is None:
            continue
        cell = counts[(row["model"], row["dataset"])]
        cell[0] += row["best_retrain_epoch_with_step0"] == 0
        cell[1] += 1
    lines = [
        "| cell | runs where step 0 beats every retrained epoch on dev |",
        "|---|---|",
    ]
    for cell in sorted(counts):
        won, total = counts[cell]
        lines.append(f"| {_label(cell)} | {won} of {total} |")
    return lines


def _other_picks(rows: list[dict], models: list[str], per_model: dict) -> list[str]:
    """The pick per model, and with step 0 allowed in the dev selection."""
    lines = ["Other views of the same selection (dev only):", ""]
    views = [(f"{m.upper()} only", per_model[m]) for m in models]
    views.append(
        ("all cells, step 0 allowed", summarize(rows, field="dev_accuracy_with_step0"))
    )
    for label, summary in views:
        chosen, alternative, margin = select_default(summary)
        if chosen is None:
            lines.append(f"- {label}: no complete CALR config yet.")
            continue
        lines.append(
            f"- {label} ({len(summary.cells)} cells): `{chosen}`, "
            f"{margin:+.2f} points against the best alternative `{alternative}`."
        )
    return [*lines, ""]


def _control_table(rows: list[dict]) -> list[str]:
    """Dev accuracy of the uncompressed control, and seconds per run, per cell."""
    dev = defaultdict(list)
    seconds = defaultdict(list)
    for row in rows:
        cell = (row["model"], row["dataset"])
        seconds[cell].append(row["run_seconds"])
        if row.get("p") is None:
            dev[(cell, run_name(row))].append(row["dev_accuracy"])
    controls = sorted({method for _, method in dev})
    lines = [
        "| cell | "
        + " | ".join(f"control dev, {c}, %" for c in controls)
        + " | runs | seconds per run (median) |",
        "|" + "---|" * (3 + len(controls)),
    ]
    for cell in sorted(seconds):
        values = [_mean_sd(dev[(cell, c)]) for c in controls]
        lines.append(
            f"| {_label(cell)} | "
            + " | ".join(values)
            + f" | {len(seconds[cell])} | {statistics.median(seconds[cell]):.0f} |"
        )
    return lines


def write_report(
    rows: list[dict], out_dir: Path, stem: str, *, with_test: bool = False
) -> Path:
    """Writes `<stem>.md` and `<stem>.png` from the rows; returns the .md path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = "/".join(
        str(n) for n in sorted({r["recipe"]["retrain_epochs"] for r in rows})
    )
    lines = [
        "# Retraining-recipe study (issue 13, lever 1)",
        "",
        "Generated by `benchmarks/recipe_study.py --report` from "
        f"`{stem}.jsonl`: split at p = {COMPRESSION} (D = {DIM}), {epochs} "
        "retraining epochs per schedule from the same pretrained state, Keras "
        "accuracy. "
        "Selection on dev only; test is shown for the selected default only.",
        "",
    ]
    models = sorted({r["model"] for r in rows})
    if not models:
        path = out_dir / f"{stem}.md"
        path.write_text("\n".join([*lines, "No rows yet.", ""]), encoding="utf-8")
        return path
    screening = [
        r for r in rows if r["seed"] == 0 and (r.get("factorization") or "svd") == "svd"
    ]
    for model in models:
        lines += _ranking_table(
            summarize([r for r in screening if r["model"] == model]),
            f"Stage 1 ({model.upper()}, seed 0, single-band SVD): every schedule",
            "Dev accuracy",
        )
    names = finalist_names()
    per_model = {
        m: summarize([r for r in rows if r["model"] == m], names=names) for m in models
    }
    for model in models:
        lines += _ranking_table(
            per_model[model],
            f"Stage 2 ({model.upper()}, every seed): the finalists with the single "
            "SVD and with 4 or 6 frequency bands",
            "Dev accuracy",
        )
        lines += _ranking_table(
            summarize(
                [r for r in rows if r["model"] == model],
                field="dev_accuracy_with_step0",
                names=names,
            ),
            f"{model.upper()}: dev accuracy with step 0 allowed in the selection",
            "Dev accuracy (best of step 0 and the retrained epochs)",
        )
    both = summarize(rows, names=names) if len(models) > 1 else per_model.get(models[0])
    scope = "DAN and LSTM" if len(models) > 1 else f"{models[0].upper()} only"
    chosen, alternative, margin = select_default(both)
    lines += ["## Selected default", ""]
    if chosen is None:
        lines += ["No CALR config is complete in every cell yet.", ""]
    else:
        verdict = "at least as good as" if margin >= 0 else "worse than"
        lines += [
            f"Selected on mean dev accuracy over {len(both.cells)} cells ({scope}): "
            f"**`{chosen}`** ({SCHEDULES[_base(chosen)].to_dict()}). It is "
            f"{verdict} the "
            f"best alternative, `{alternative}`, by {margin:+.2f} points "
            "(mean dev over the cells).",
            "",
        ]
        if with_test:
            lines += [
                "Test accuracy of the selected default, measured once, and its "
                "paired drop (points) against the uncompressed control (no split, "
                "best dev epoch of 8) retrained with each control schedule:",
                "",
                *_test_table(rows, chosen, both.cells),
                "",
            ]
        else:
            lines += [
                "Test accuracy is not shown while the study runs (`--report "
                "--with-test` shows it for the selected default, once).",
                "",
            ]
    lines += _other_picks(rows, models, per_model)
    lines += ["## Step 0 in the selection", "", *_step0_table(rows), ""]
    lines += ["## Uncompressed control and run times", "", *_control_table(rows), ""]
    path = out_dir / f"{stem}.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    _plot(per_model, chosen, out_dir / f"{stem}.png")
    return path


def _plot(per_model: dict, chosen: str | None, path: Path) -> None:
    """Dev accuracy per schedule (mean ± sd over seeds), one panel per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [m for m in per_model if per_model[m].ranking]
    if not rows:
        return
    columns = max(len(per_model[m].cells) for m in rows)
    height = max(3.0, 0.22 * max(len(per_model[m].ranking) for m in rows) + 1.2)
    figure, axes = plt.subplots(
        len(rows),
        columns,
        figsize=(3.6 * columns + 1.8, height * len(rows)),
        squeeze=False,
    )
    for i, model in enumerate(rows):
        summary = per_model[model]
        names = [name for name, _ in summary.ranking]
        for j in range(columns):
            ax = axes[i][j]
            if j >= len(summary.cells):
                ax.axis("off")
                continue
            cell = summary.cells[j]
            seeds = summary.seeds[cell]
            for y, name in enumerate(names):
                values = [summary.dev[cell][name][s] * 100 for s in seeds]
                mean, sd = stats.mean(values), stats.sd(values)
                color = (
                    "tab:red"
                    if name == chosen
                    else "tab:blue"
                    if SCHEDULES[_base(name)].can_be_default
                    else "tab:gray"
                )
                ax.errorbar(mean, y, xerr=sd, fmt="o", color=color, ms=4, capsize=2)
            if REFERENCE in names:
                reference = stats.mean(
                    summary.dev[cell][REFERENCE][s] * 100 for s in seeds
                )
                ax.axvline(reference, color="tab:gray", ls=":", lw=1)
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names if j == 0 else [], fontsize=7)
            ax.invert_yaxis()
            ax.set_title(f"{_label(cell)} (n={len(seeds)})", fontsize=9)
            ax.set_xlabel("dev accuracy, %", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(axis="x", alpha=0.3)
    figure.suptitle(
        "Dev accuracy after the split (p = 0.9), mean ± sd over seeds; red: selected "
        "default, blue: CALR, gray: alternatives, dotted: constant 1e-3",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    if args.report:
        rows = [
            r
            for r in store.read_rows(args.output)
            if r.get("study") == STUDY and bool(r.get("quick")) == args.quick
        ]
        path = write_report(
            rows, args.report_dir, args.output.stem, with_test=args.with_test
        )
        logger.info("Wrote %s (%d rows).", path, len(rows))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
