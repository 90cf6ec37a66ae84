"""The learning-rate study: is CALR better than other schedules after the split?

For each dataset and seed, the model is pretrained once (3 epochs, CALR, as in the
grid). From that same state, retraining runs for the same number of epochs (5) with
each schedule below, both after a split at `p = 0.9` (ours, `EmbeddingFactorization`)
and without a split (the uncompressed model). Every schedule peaks at the recipe's
peak learning rate (1e-2) unless its name says otherwise, with a fresh Adam.

| schedule | definition |
|---|---|
| `calr` | the paper's CALR: a triangle per epoch, peak x0.1 per epoch, restarts |
| `triangular` | plain triangular CLR (Smith 2017): the same triangle, no decay |
| `cosine_restarts` | `CosineDecayRestarts`: first period 1 epoch, t_mul 2, alpha 1e-3 |
| `constant` | Adam at 1e-3 (the Keras default and the paper's CALR peak) |
| `constant_peak` | Adam at the peak, 1e-2 |
| `calr_paper_peak` | CALR with the paper's retraining peak 1e-3 (floor 1e-6) |

Rows go to `--output` (JSON lines, `study = "lr"`, `method` = schedule, `p` = 0.9 or
null for the uncompressed model), with the dev accuracy after every epoch and the test
accuracy of the best dev epoch. Resumable like `reproduce.py`.

Usage:

```bash
.venv/bin/python -m benchmarks.lr_study                      # DAN, RT and R8, 3 seeds
.venv/bin/python -m benchmarks.lr_study --quick --output /tmp/lr.jsonl
```
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, reproduce, store

logger = logging.getLogger("lr_study")

DEFAULT_OUTPUT = harness.RESULTS / "lr_study.jsonl"
SCHEDULES = (
    "calr",
    "triangular",
    "cosine_restarts",
    "constant",
    "constant_peak",
    "calr_paper_peak",
)
COMPRESSION = 0.9
# Learning-rate samples stored per epoch, to draw the schedules.
_TRACE_POINTS_PER_EPOCH = 20


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="Smoke subset.")
    parser.add_argument("--datasets", nargs="+", choices=reproduce.DATASETS)
    parser.add_argument("--models", nargs="+", choices=reproduce.MODELS)
    parser.add_argument("--seeds", nargs="+", type=int)
    parser.add_argument("--schedules", nargs="+", choices=SCHEDULES)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--pretrain-epochs", type=int)
    parser.add_argument("--retrain-epochs", type=int)
    parser.add_argument("--peak-learning-rate", type=float, default=1e-2)
    parser.add_argument("--adam-epsilon", type=float, default=1e-7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick
    args.datasets = tuple(
        args.datasets or (("rotten_tomatoes",) if quick else reproduce.DATASETS)
    )
    args.models = tuple(args.models or ("dan",))
    args.seeds = tuple(args.seeds or ((0,) if quick else reproduce.SEEDS))
    args.schedules = tuple(
        args.schedules or (("calr", "constant") if quick else SCHEDULES)
    )
    args.pretrain_epochs = args.pretrain_epochs or (1 if quick else 3)
    args.retrain_epochs = args.retrain_epochs or (1 if quick else 5)
    return args


def make_schedule(name: str, data, recipe):
    """The learning rate (float or schedule) of one retraining schedule."""
    import keras

    from tflite_lowrank import CyclicalAnnealedLearningRate

    steps = data.steps_per_epoch(recipe.batch_size)
    peak = recipe.peak_learning_rate
    if name == "calr":
        return harness.calr(data, recipe, "retrain")
    if name == "triangular":
        return CyclicalAnnealedLearningRate(
            initial_learning_rate=peak,
            minimal_learning_rate=peak * 1e-3,
            step_size=steps / 2,
            decay=1.0,
            steps_per_epoch=steps,
        )
    if name == "cosine_restarts":
        return keras.optimizers.schedules.CosineDecayRestarts(
            initial_learning_rate=peak,
            first_decay_steps=steps,
            t_mul=2.0,
            m_mul=1.0,
            alpha=1e-3,
        )
    if name == "calr_paper_peak":
        return CyclicalAnnealedLearningRate(
            initial_learning_rate=1e-3,
            minimal_learning_rate=1e-6,
            step_size=steps / 2,
            decay=recipe.decay,
            steps_per_epoch=steps,
        )
    if name == "constant":
        return 1e-3
    if name == "constant_peak":
        return peak
    raise ValueError(
        f"Unknown schedule. Expected one of {SCHEDULES}. Received: {name!r}"
    )


def learning_rate_trace(rate, steps_per_epoch: int, epochs: int) -> list[float]:
    """The learning rate at `_TRACE_POINTS_PER_EPOCH` evenly spaced steps per epoch."""
    import keras

    total = steps_per_epoch * epochs
    points = np.linspace(0, total - 1, _TRACE_POINTS_PER_EPOCH * epochs).astype(int)
    if isinstance(rate, int | float):
        return [float(rate)] * len(points)
    return [float(keras.ops.convert_to_numpy(rate(int(step)))) for step in points]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    harness.limit_threads(args.threads)
    import keras

    plan = []
    for seed in args.seeds:
        for model in args.models:
            for dataset in args.datasets:
                keys = [
                    {
                        "study": "lr",
                        "dataset": dataset,
                        "model": model,
                        "dim": 50,
                        "method": schedule,
                        "p": p,
                        "seed": seed,
                    }
                    for schedule in args.schedules
                    for p in (COMPRESSION, None)
                ]
                plan.append(((dataset, model, seed), keys))
    done = store.finished_keys(args.output)
    todo = [(g, [k for k in keys if store.run_key(k) not in done]) for g, keys in plan]
    todo = [(g, keys) for g, keys in todo if keys]
    logger.info(
        "%d learning-rate runs to do (%s).",
        sum(len(k) for _, k in todo),
        args.output,
    )
    if not todo:
        return 0
    recipe = harness.Recipe(
        pretrain_epochs=args.pretrain_epochs,
        retrain_epochs=args.retrain_epochs,
        peak_learning_rate=args.peak_learning_rate,
        adam_epsilon=args.adam_epsilon,
    )
    with harness.progress(
        total=sum(len(k) for _, k in todo),
        unit="run",
        desc="lr_study",
        disable=args.no_progress,
    ) as bar:
        for (dataset, model_name, seed), keys in todo:
            start = harness.pretrained_start(
                dataset, model_name, seed, recipe, quick=args.quick
            )
            data = start.data
            for key in keys:
                rate = make_schedule(key["method"], data, recipe)
                if key["p"] is None:
                    model, result = harness.retrain_uncompressed(
                        model_name,
                        start,
                        seed=seed,
                        learning_rate=rate,
                    )
                    split = {}
                else:
                    model, result, split = harness.retrain_online(
                        model_name,
                        start,
                        seed=seed,
                        compression=key["p"],
                        learning_rate=rate,
                    )
                test = harness.accuracy(model, data.x_test, data.y_test)
                row = {
                    **key,
                    "rank": split.get("rank"),
                    "dev_accuracy": result.best_dev,
                    "test_accuracy": test,
                    "accuracy_source": "keras",
                    "best_epoch": result.best_epoch,
                    "dev_curve": result.dev_curve,
                    "step0_dev_accuracy": result.step0_dev,
                    "step0_test_accuracy": result.step0_test,
                    "train_seconds": result.train_seconds,
                    "learning_rate_trace": learning_rate_trace(
                        rate,
                        data.steps_per_epoch(recipe.batch_size),
                        recipe.retrain_epochs,
                    ),
                    "vocab_size": data.vocab_size,
                    "recipe": recipe.to_dict(),
                    "quick": bool(args.quick),
                    "finished_at": harness.timestamp(),
                }
                store.append_row(args.output, row)
                bar.update(1)
                logger.info(
                    "%s %s seed=%d %s p=%s: dev %.4f test %.4f (best epoch %d)",
                    dataset,
                    model_name,
                    seed,
                    key["method"],
                    key["p"],
                    result.best_dev,
                    test,
                    result.best_epoch,
                )
                del model
                keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
