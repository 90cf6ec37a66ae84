"""Two split-time levers on dev (issue 13): the factors' form, and splitting later.

Both ask whether something chosen at the split closes the DAN's gap to the float32
baseline at `p = 0.9` (Rotten Tomatoes loses 1.3 points of test accuracy there,
`frontier.md`) and, with `--compressions 0.5 0.8`, at the light budgets, where RT
loses more than at `p = 0.9` (-2.2 at `p = 0.5`), so rank is not what it lacks.
Everything else is the callback's default (`bands="auto"`, which is 6 bands here,
and `learning_rate="calr"`, whose CALR depends on the budget: peak 1e-2 at
`p = 0.9`, the shallow peak 2e-3 / floor 5e-4 at `p = 0.5` and 0.8).

1. **Form** (`form:<name>`). The product `A B` is the same; how the singular values
   are shared between the factors changes what Adam's per-coordinate steps do to it.
   With `s` the row norms of the paper's `B = diag(S) V^T` (the singular values of
   each band), the split's factors become `A s^t` and `diag(s^-t) B`:
   `paper` t = 0 (the callback's form, `A = U_k`), `balanced` t = 1/2
   (`sqrt(S)` in both), `table_scale` t = 1 (`A = U_k S_k`, rows on the scale of the
   table's rows, `B = V_k^T` orthonormal). The rescaling runs right after the split,
   before any retraining step. In the paper's form `A`'s entries are about
   `1/sqrt(V)` while Adam moves each by about the learning rate per step, so
   relative to its scale `A` moves far faster than the table did; the table-scale
   form removes that, and the probe measures whether it matters.
2. **Split epoch** (`split_epoch:+<n>`). The shared pretraining (3 epochs) ends with a
   nearly spent CALR; the baseline's retraining restarts Adam at peak 1e-2 and gains
   most in its first epoch. `+1` trains that first retraining epoch on the full table,
   exactly as the baseline does, and splits one epoch later (4 retraining epochs
   after the split; 8 epochs in all, as every method). `+0` is the default study
   protocol.
3. **Fixed basis** (`basis:fixed`, the callback's `train_basis=False`). Training
   both factors changes the table much faster than training the table did, even at
   full rank (a scratch control at rank 49 of 50, one band, lost 1.4 points of RT
   dev with the CALR and 2.4 with the baseline's own schedule). With `A = U_k S_k`
   trained and the orthonormal basis `B = V_k^T` fixed, each word retrains like a
   row of the table restricted to k directions. `basis:fixed` is the callback's
   default CALR for a fixed basis (peak 1e-2 decayed by 0.8 per epoch);
   `basis:fixed+baseline_calr` the full-table baseline's own retraining CALR
   (peak 1e-2, tenfold decay per epoch: the same first epoch after the split, less
   training after it). The other methods pass `train_basis=True`.
4. **Calibrated** (`calibrated:<trained|fixed>`): the split weighted by the loss
   (`calibration_data=`, 3,200 random training examples, as `calibration_study.py`),
   whose bases are the directions the model reads, with both factors trained (the
   callback's calibrated CALR, peak 3e-3 at p >= 0.85) or the basis fixed.
5. **Consumer-weighted** (`weighting:consumer`, the callback's `weighting=`): the
   same weighting without data, by the input kernel `K` of the layer that reads the
   vectors (the DAN's first `Dense` after the mean, the LSTM's input kernel):
   `C = K K^T`. It retrains with the weighted CALR (peak 3e-3 at p >= 0.85);
   `weighting:consumer+calr_1e-2` with the plain split's peak 1e-2, and
   `form:paper+calr_3e-3` is the plain split with peak 3e-3: the two controls that
   separate the weighting from the schedule. Every other method has
   `weighting="none"` (the plain SVD, spelled out: the callback's default
   `"auto"` is the recurrent recipe, method 6, for the LSTM at p >= 0.85).
6. **Consumer-weighted, fixed basis** (`fixed:consumer`: `weighting="consumer"`
   with `train_basis=False`): the data-free counterpart of `calibrated:fixed`, the
   opt-in that meets the RT targets; it retrains with the fixed basis' CALR.

`--model lstm` runs the same probes on the paper's LSTM (default output
`results/split_probes_lstm.jsonl`).

Protocol as `recipe_study.py`: GloVe 50-d DAN, batch 50, one pretraining per
(dataset, seed) shared by the baseline and every variant, dev selection over the
retrained epochs (step 0 included for the split-epoch probe, where it is the model
right after the later split), test scored once in Keras at the selected epoch. The
baseline is `harness.retrain_uncompressed` (the grid's CALR), as in `frontier.py`.

Rows go to `results/split_probes.jsonl` (resumable: finished runs are skipped; the
baseline, which has no budget, is shared by every `p`); `--report` writes
`results/split_probes.md`, one table per budget.

```bash
.venv/bin/python -m benchmarks.split_probes --datasets rotten_tomatoes r8 --seeds 0 1 2
.venv/bin/python -m benchmarks.split_probes --compressions 0.5 0.8
.venv/bin/python -m benchmarks.split_probes --methods weighting:consumer \
    --compressions 0.8 0.9
.venv/bin/python -m benchmarks.split_probes --model lstm --datasets rotten_tomatoes r8 \
    --methods baseline form:paper weighting:consumer
.venv/bin/python -m benchmarks.split_probes --report
```
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, stats, store

logger = logging.getLogger("split_probes")

OUTPUT = harness.RESULTS / "split_probes.jsonl"
STUDY = "split_probes"
DATASETS = harness.DATASETS
SHORT = harness.SHORT_NAMES
P = 0.9
"""The default budget (the issue's 2.5% target)."""
DIM = harness.DIM
FORMS = {"paper": 0.0, "balanced": 0.5, "table_scale": 1.0}
"""Form name -> the power t of the singular values moved from `B` into `A`."""
LATER_SPLITS = (1,)
"""Epochs the split comes after its default point (`split_epoch:+0` is `form:paper`,
the same run)."""
METHODS = (
    "baseline",
    *(f"form:{name}" for name in FORMS),
    *(f"split_epoch:+{n}" for n in LATER_SPLITS),
    "basis:fixed",
    "basis:fixed+baseline_calr",
    "calibrated:trained",
    "calibrated:fixed",
    "weighting:consumer",
    "weighting:consumer+calr_1e-2",
    "form:paper+calr_3e-3",
    "fixed:consumer",
)
OUTPUTS = {"dan": OUTPUT, "lstm": harness.RESULTS / "split_probes_lstm.jsonl"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=(0, 1, 2))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument(
        "--compressions",
        nargs="+",
        type=float,
        default=(P,),
        help=f"Budgets p of the split methods (default: {P}).",
    )
    parser.add_argument("--model", choices=tuple(OUTPUTS), default="dan")
    parser.add_argument(
        "--output", type=Path, default=None, help="Default: by --model."
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="Only the report.")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = OUTPUTS[args.model]
    return args


def _key(row: dict) -> tuple:
    """(dataset, seed, method, p); the baseline has `p = None` (no budget)."""
    return (row["dataset"], row["seed"], row["method"], _budget(row))


def _planned(method: str, compressions) -> list[tuple[str, float | None]]:
    """`(method, p)` for each budget; the baseline once, with `p = None`."""
    if method == "baseline":
        return [(method, None)]
    return [(method, float(p)) for p in compressions]


def _rescale_callback(at_epoch: int, power: float):
    """A callback that moves `s^power` of each band's `B` into its `A` at the split.

    Put it after `EmbeddingFactorization` (which splits when `at_epoch` begins).
    """
    import keras
    import numpy as np

    class RescaleFactors(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch != at_epoch or power == 0.0:
                return
            layer = self.model.get_layer("embedding")
            a_vars, b_vars = layer.embeddings_a, layer.embeddings_b
            if not isinstance(a_vars, list):
                a_vars, b_vars = [a_vars], [b_vars]
            for a_var, b_var in zip(a_vars, b_vars, strict=True):
                a = keras.ops.convert_to_numpy(a_var)
                b = keras.ops.convert_to_numpy(b_var)
                scale = np.linalg.norm(b, axis=1) ** power
                a_var.assign(a * scale[None, :])
                b_var.assign(b / scale[:, None])

    return RescaleFactors()


def run_split(
    start,
    *,
    seed: int,
    method: str,
    p: float = P,
    model_name: str = "dan",
) -> dict:
    """One compressed run from the shared pretrained state; returns its fields."""
    import tflite_lowrank as tl

    data, recipe, _, pretrained = start
    probe, variant, schedule = parse_method(method)
    # `+baseline_calr`: the full-table baseline's own retraining CALR.
    learning_rate = {
        "baseline_calr": lambda: harness.calr(data, recipe, "retrain"),
        "calr_1e-2": lambda: "calr_peak_1e-2",
        "calr_3e-3": lambda: _calr(data, recipe, 3e-3),
        "": lambda: "calr",
    }[schedule]()
    offset = int(variant) if probe == "split_epoch" else 0
    power = FORMS[variant] if probe == "form" else 0.0
    model, _ = harness.retraining_start(model_name, start, seed)
    at_epoch = recipe.pretrain_epochs + offset
    # `basis:fixed`, `calibrated:fixed` and `fixed:consumer` keep the bases fixed;
    # every other method trains both factors (the paper's retraining).
    fixed = probe in ("basis", "fixed") or (probe, variant) == ("calibrated", "fixed")
    calibrated = probe == "calibrated"
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=p,
        at_epoch=at_epoch,
        verbose=0,
        train_basis=not fixed,
        learning_rate=learning_rate,
        calibration_data=harness.calibration_sample(data, seed) if calibrated else None,
        weighting=_weighting(probe, variant),
    )
    selection = harness.DevSelection(
        data, select_from=at_epoch, step0_at=at_epoch, start=pretrained.selection
    )
    rescale = _rescale_callback(at_epoch, power)
    result = harness.retrain(model, start, selection, callbacks=[split, rescale])
    # Step 0 joins the selection only when strictly better than every later epoch.
    step0_wins = result.step0_dev is not None and result.step0_dev > result.best_dev
    test = harness.accuracy(model, data.x_test, data.y_test)
    return {
        "dev_accuracy": result.step0_dev if step0_wins else result.best_dev,
        "test_accuracy": result.step0_test if step0_wins else test,
        "step0_dev_accuracy": result.step0_dev,
        "best_epoch": 0 if step0_wins else result.best_epoch,
        "dev_curve": result.dev_curve,
        "at_epoch": at_epoch,
        "band_ranks": list(split.result.band_ranks or ()),
    }


def parse_method(method: str) -> tuple[str, str, str]:
    """`(probe, variant, schedule)` of a method name; schedule "" by default.

    >>> parse_method("weighting:consumer+calr_1e-2")
    ('weighting', 'consumer', 'calr_1e-2')
    >>> parse_method("split_epoch:+1")
    ('split_epoch', '+1', '')
    """
    probe, _, variant = method.partition(":")
    schedule = ""
    if probe != "split_epoch":  # There "+" is the offset's sign, not a schedule.
        variant, _, schedule = variant.partition("+")
    return probe, variant, schedule


def _weighting(probe: str, variant: str) -> str:
    """The callback's `weighting` of an uncalibrated method."""
    return variant if probe in ("weighting", "fixed") else "none"


def _calr(data, recipe, peak: float):
    """The callback's heavy CALR shape (floor peak / 1000, peak x 0.8 per epoch)."""
    from tflite_lowrank import CyclicalAnnealedLearningRate

    steps = data.steps_per_epoch(recipe.batch_size)
    return CyclicalAnnealedLearningRate(
        initial_learning_rate=peak,
        minimal_learning_rate=peak / 1000,
        step_size=steps / 2,
        decay=0.8,
        steps_per_epoch=steps,
    )


def run(args: argparse.Namespace) -> int:
    done = {_key(row) for row in store.read_rows(args.output)}
    plan = [
        (
            dataset,
            seed,
            [
                (m, p)
                for method in args.methods
                for m, p in _planned(method, args.compressions)
                if (dataset, seed, m, p) not in done
            ],
        )
        for dataset in args.datasets
        for seed in args.seeds
    ]
    plan = [(d, s, methods) for d, s, methods in plan if methods]
    total = sum(len(methods) for *_, methods in plan)
    logger.info("%d runs to do (%s).", total, args.output)
    if not plan:
        return 0
    harness.limit_threads(args.threads)
    import keras

    recipe = harness.Recipe()
    with harness.progress(
        total=total, unit="run", desc="split_probes", disable=args.no_progress
    ) as bar:
        for dataset, seed, methods in plan:
            start = harness.pretrained_start(dataset, args.model, seed, recipe, dim=DIM)
            data = start.data
            for method, p in methods:
                bar.set_postfix_str(f"{SHORT[dataset]} s{seed} {method} p={p}")
                began = time.perf_counter()
                if method == "baseline":
                    model, result = harness.retrain_uncompressed(
                        args.model, start, seed=seed
                    )
                    fields = {
                        "dev_accuracy": result.best_dev,
                        "test_accuracy": harness.accuracy(
                            model, data.x_test, data.y_test
                        ),
                        "best_epoch": result.best_epoch,
                        "dev_curve": result.dev_curve,
                    }
                else:
                    fields = run_split(
                        start,
                        seed=seed,
                        method=method,
                        p=p,
                        model_name=args.model,
                    )
                store.append_row(
                    args.output,
                    {
                        "study": STUDY,
                        "dataset": dataset,
                        "model": args.model,
                        "dim": DIM,
                        "p": p,
                        "seed": seed,
                        "method": method,
                        **fields,
                        "run_seconds": time.perf_counter() - began,
                        "finished_at": harness.timestamp(),
                    },
                )
                keras.backend.clear_session()
                bar.update(1)
    return 0


def _mean_se(values: Sequence[float]) -> str:
    if not values:
        return "-"
    mean = stats.mean(values)
    if len(values) < 2:  # No spread to show for one seed.
        return f"{mean:+.2f}"
    return f"{mean:+.2f} ± {stats.se(values):.2f}"


def _deltas(runs: dict, base: dict, seeds, field: str) -> list[float]:
    return stats.paired_deltas(
        {s: runs[s][field] for s in seeds},
        {s: base[s][field] for s in seeds},
        scale=100,
    )


def _absolute(base: dict, seeds, field: str) -> str:
    return f"{100 * stats.mean(base[s][field] for s in seeds):.2f} (abs.)"


def _mean_delta(cells, datasets, method, field: str) -> float | None:
    """Mean over datasets of the per-dataset mean paired delta (None if missing)."""
    per = []
    for dataset in datasets:
        base = cells[(dataset, "baseline")]
        runs = cells.get((dataset, method), {})
        seeds = sorted(set(runs) & set(base))
        if not seeds:
            return None
        per.append(stats.mean(_deltas(runs, base, seeds, field)))
    return stats.mean(per) if per else None


def _seed_count(cells, datasets, method) -> int:
    """The fewest seeds `method` has with a baseline on any dataset."""
    return min(
        len(set(cells.get((d, method), {})) & set(cells[(d, "baseline")]))
        for d in datasets
    )


def _budget(row: dict) -> float | None:
    """The row's `p`: None for the baseline, `P` for rows written before `p` was."""
    if row["method"] == "baseline":
        return None
    return row.get("p", P)


def report(rows: list[dict], path: Path) -> None:
    """Dev against the baseline of the same seed; test once for the dev pick.

    One table and one selection per budget, the default `P` first.
    """
    budgets = sorted(
        {_budget(row) for row in rows} - {None}, key=lambda p: (p != P, -p)
    )
    model = rows[0].get("model", "dan").upper() if rows else "DAN"
    lines = [
        "# Split-time probes: the factors' form and the split epoch "
        "(`benchmarks/split_probes.py`)",
        "",
        f"{model}, GloVe 50-d, the callback's defaults otherwise (6 bands, "
        '`learning_rate="calr"`: peak 1e-2 at p = 0.9, peak 2e-3 with floor 5e-4 '
        "below p = 0.85). Δ dev: the variant's best dev accuracy minus the float32 "
        "baseline's (the same baseline at every budget), same seed, mean ± "
        "standard error over seeds, points. `split_epoch:+0` is `form:paper`, the "
        "default.",
    ]
    for p in budgets:
        lines += _budget_section(rows, p, several=len(budgets) > 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.info("Wrote %s.", path)


def _budget_section(rows: list[dict], p: float, *, several: bool) -> list[str]:
    cells = defaultdict(dict)
    for row in rows:
        if _budget(row) in (None, p):
            cells[(row["dataset"], row["method"])][row["seed"]] = row
    datasets = [d for d in DATASETS if (d, "baseline") in cells]
    at = f" at `compression={p:g}`" if several else ""
    lines = [
        "",
        f"## Δ dev{at}" if several else f"`compression={p:g}`.",
        "",
        "| dataset | method | seeds | step 0 dev (%) | Δ dev |",
        "|---|---|---|---|---|",
    ]
    for dataset in datasets:
        base = cells[(dataset, "baseline")]
        for method in METHODS:
            runs = cells.get((dataset, method), {})
            seeds = sorted(set(runs) & set(base))
            if not seeds:
                continue
            step0 = [runs[s].get("step0_dev_accuracy") for s in seeds]
            step0 = [v for v in step0 if v is not None]
            step0_text = f"{100 * stats.mean(step0):.1f}" if step0 else "-"
            if method == "baseline":
                dev_text = _absolute(base, seeds, "dev_accuracy")
            else:
                dev_text = _mean_se(_deltas(runs, base, seeds, "dev_accuracy"))
            lines.append(
                f"| {SHORT[dataset]} | `{method}` | {len(seeds)} | {step0_text} "
                f"| {dev_text} |"
            )
    means = {
        m: _mean_delta(cells, datasets, m, "dev_accuracy")
        for m in METHODS
        if m != "baseline"
    }
    means = {m: v for m, v in means.items() if v is not None}
    if means:
        # Dev picks among the methods run on the most seeds (on every dataset): a
        # method run on fewer could win or lose on the seeds it skipped.
        counts = {m: _seed_count(cells, datasets, m) for m in means}
        most = max(counts.values())
        pick = max((m for m in means if counts[m] == most), key=means.get)
        lines += [
            "",
            f"## Selection (dev){at}, test read once",
            "",
            "Dev picks among the methods run on the most seeds; the others are "
            "listed with theirs.",
            "",
            "| method | seeds | mean Δ dev over the datasets | mean Δ test |",
            "|---|---|---|---|",
        ]
        # Every method's dev; test only for the pick and the default.
        for method in sorted(means, key=lambda m: (-counts[m], -means[m])):
            test = (
                f"{_mean_delta(cells, datasets, method, 'test_accuracy'):+.2f}"
                if method in (pick, "form:paper")
                else "-"
            )
            lines.append(
                f"| `{method}`{' (dev pick)' if method == pick else ''} "
                f"| {counts[method]} | {means[method]:+.2f} | {test} |"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    harness.setup_logging()
    args = parse_args(argv)
    if not args.report:
        code = run(args)
        if code:
            return code
    report(store.read_rows(args.output), args.output.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
