"""Measures the defaults of `EmbeddingFactorization` on real data.

Question 1 (schedule): which learning rate should the callback install after the
split when an epoch has a few dozen to a few hundred steps? The authors' CALR uses
a 1,000-step half cycle at about 1,500 steps per epoch.
Question 2 (split): `A = U_k, B = S_k V_k^T` (the paper) or the balanced
`A = U_k sqrt(S_k), B = sqrt(S_k) V_k^T`?

Protocol: Rotten Tomatoes snippets (`load_dataset("rotten_tomatoes")`, split by
movie, seed 0), the paper's DAN (`build_dan`, GloVe 6B 50-d initial table, masked
mean, Adam 1e-3, batch 50). Train 3 epochs on the full table, split at
`compression=0.9` (rank 4 at D = 50), train 5 more. Two regimes: the full training
set (about 200 steps per epoch) and a 2,000-text subset (40 steps per epoch). Each
configuration runs with several training seeds (the data split is fixed); the
tables report medians. Dev accuracy selects the epoch; test accuracy is reported at
the best post-split dev epoch.

Usage:
    .venv/bin/python -m benchmarks.split_defaults            # about 15 min on 2 cores
    .venv/bin/python -m benchmarks.split_defaults --seeds 0 --quick
    .venv/bin/python -m benchmarks.split_defaults --summarize   # the table only

Writes `benchmarks/results/split_defaults.json` and `split_defaults.md`.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

RESULTS = harness.RESULTS
SEQ_LEN = 40
BATCH_SIZE = 50
PRETRAIN_EPOCHS = 3
RETRAIN_EPOCHS = 5
COMPRESSION = 0.9
SMALL_TRAIN = 2000


def _schedule(name: str, steps_per_epoch: int):
    """Post-split learning rate of each candidate (None keeps Adam's 1e-3)."""
    from tflite_lowrank import CyclicalAnnealedLearningRate

    if name in ("calr_half_epoch", "calr_half_epoch_balanced"):
        return "calr"  # the callback's default: step_size = steps_per_epoch / 2
    if name == "calr_epoch":
        return CyclicalAnnealedLearningRate(
            step_size=steps_per_epoch, steps_per_epoch=steps_per_epoch
        )
    if name == "calr_authors":
        return CyclicalAnnealedLearningRate(steps_per_epoch=steps_per_epoch)
    if name in ("constant_1e-3",):
        return None
    if name in ("constant_1e-2", "constant_1e-2_balanced"):
        return 1e-2
    raise ValueError(name)


CANDIDATES = (
    "no_split",
    "no_retrain",
    "calr_half_epoch",
    "calr_epoch",
    "calr_authors",
    "constant_1e-3",
    "calr_half_epoch_balanced",
    "constant_1e-2",
    "constant_1e-2_balanced",
)


def _recorder(x_dev, y_dev, x_test, y_test, at_epoch):
    """Dev accuracy right after the split, and test accuracy after every epoch."""
    return _recorder_class()(x_dev, y_dev, x_test, y_test, at_epoch)


@functools.cache
def _recorder_class():
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self, x_dev, y_dev, x_test, y_test, at_epoch):
            super().__init__()
            self.dev = (x_dev, y_dev)
            self.test = (x_test, y_test)
            self.at_epoch = at_epoch
            self.test_accuracy = []
            self.after_split = None

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.at_epoch:
                loss, accuracy = self.model.evaluate(*self.dev, verbose=0)
                self.after_split = {"dev_loss": loss, "dev_accuracy": accuracy}

        def on_epoch_end(self, epoch, logs=None):
            _, accuracy = self.model.evaluate(*self.test, verbose=0)
            self.test_accuracy.append(accuracy)

    return Recorder


def run(candidate, regime, seed, data):
    import keras

    import tflite_lowrank as tl
    from tflite_lowrank.models import compile_for_classification, glove_embeddings

    x_train, y_train, x_dev, y_dev, x_test, y_test, vocabulary = data
    keras.utils.set_random_seed(seed)
    table = glove_embeddings(vocabulary, seed=seed)
    model = tl.build_dan(len(vocabulary), 2, seq_len=SEQ_LEN, embeddings=table)
    compile_for_classification(model, learning_rate=1e-3)
    steps = -(-len(x_train) // BATCH_SIZE)
    recorder = _recorder(x_dev, y_dev, x_test, y_test, PRETRAIN_EPOCHS)
    callbacks = []
    split = None
    epochs = PRETRAIN_EPOCHS + RETRAIN_EPOCHS
    if candidate == "no_retrain":
        epochs = PRETRAIN_EPOCHS + 1  # only to record the accuracy after the split
    if candidate != "no_split":
        split = tl.EmbeddingFactorization(
            "embedding",
            compression=COMPRESSION,
            at_epoch=PRETRAIN_EPOCHS,
            learning_rate=_schedule(
                "calr_half_epoch" if candidate == "no_retrain" else candidate, steps
            ),
            verbose=0,
            bands=1,
            balanced=candidate.endswith("_balanced"),
        )
        callbacks.append(split)
    callbacks.append(recorder)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_data=(x_dev, y_dev),
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    dev = history.history["val_accuracy"]
    row = {
        "candidate": candidate,
        "regime": regime,
        "seed": seed,
        "steps_per_epoch": steps,
        "dev_accuracy": dev,
        "test_accuracy": recorder.test_accuracy,
        "dev_accuracy_before_split": dev[PRETRAIN_EPOCHS - 1],
        "seconds": seconds,
    }
    if split is not None:
        row["rank"] = split.result.rank
        row["relative_error"] = split.result.relative_error
        row["dev_accuracy_after_split"] = recorder.after_split["dev_accuracy"]
    if candidate == "no_retrain":
        row["best_dev_accuracy"] = recorder.after_split["dev_accuracy"]
        row["test_at_best_dev"] = None
        return row
    post = (
        range(PRETRAIN_EPOCHS, len(dev)) if candidate != "no_split" else range(len(dev))
    )
    best = max(post, key=lambda e: dev[e])
    row["best_dev_accuracy"] = dev[best]
    row["test_at_best_dev"] = recorder.test_accuracy[best]
    row["final_dev_accuracy"] = dev[-1]
    if candidate != "no_split":
        row["dev_accuracy_first_post_epoch"] = dev[PRETRAIN_EPOCHS]
    return row


def load(regime):
    import tflite_lowrank as tl

    data = tl.load_dataset("rotten_tomatoes", seed=0)
    train_texts = list(data.train.texts)
    train_labels = data.train.labels
    if regime == "small":
        train_texts = train_texts[:SMALL_TRAIN]
        train_labels = train_labels[:SMALL_TRAIN]
    tokenizer = tl.Tokenizer.from_texts(train_texts, seq_len=SEQ_LEN)
    return (
        tokenizer.encode(train_texts),
        np.asarray(train_labels),
        tokenizer.encode(data.dev.texts),
        np.asarray(data.dev.labels),
        tokenizer.encode(data.test.texts),
        np.asarray(data.test.labels),
        tokenizer.vocabulary,
    )


def _median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def _range(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return ""
    return f"{100 * min(values):.1f}-{100 * max(values):.1f}"


def summarize(rows):
    lines = [
        "# Split defaults: post-split learning rate and balanced split",
        "",
        f"DAN on Rotten Tomatoes (GloVe 50-d, Adam 1e-3, batch {BATCH_SIZE}), "
        f"{PRETRAIN_EPOCHS} epochs full, split at compression {COMPRESSION}, "
        f"{RETRAIN_EPOCHS} epochs after. Medians over seeds "
        f"{sorted({r['seed'] for r in rows})}. Accuracy in %.",
        "",
        "| regime | steps/epoch | candidate | rank | dev before | dev right after "
        "split | dev after 1st post epoch | best post dev | test at best dev | "
        "(min-max) | final dev |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def pct(value):
        return "" if value is None else f"{100 * value:.1f}"

    for regime in ("full", "small"):
        for candidate in CANDIDATES:
            group = [
                r for r in rows if r["regime"] == regime and r["candidate"] == candidate
            ]
            if not group:
                continue
            lines.append(
                f"| {regime} | {group[0]['steps_per_epoch']} | {candidate} | "
                f"{group[0].get('rank', '')} | "
                f"{pct(_median(group, 'dev_accuracy_before_split'))} | "
                f"{pct(_median(group, 'dev_accuracy_after_split'))} | "
                f"{pct(_median(group, 'dev_accuracy_first_post_epoch'))} | "
                f"{pct(_median(group, 'best_dev_accuracy'))} | "
                f"{pct(_median(group, 'test_at_best_dev'))} | "
                f"{_range(group, 'test_at_best_dev')} | "
                f"{pct(_median(group, 'final_dev_accuracy'))} |"
            )
    lines += [
        "",
        "Candidates: `calr_half_epoch` is the callback's default (CALR, peak 1e-3, "
        "floor 1e-6, step_size = steps_per_epoch / 2); `calr_epoch` has "
        "step_size = steps_per_epoch; `calr_authors` step_size = 1000; `constant_*` "
        "a constant Adam rate; `*_balanced` splits sqrt(S) into both factors; "
        "`no_retrain` is the model right after the split; `no_split` trains the full "
        "table for all epochs (best dev over all epochs).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--regimes", nargs="+", default=["full", "small"])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--output", default=str(RESULTS / "split_defaults"))
    parser.add_argument(
        "--summarize", action="store_true", help="Rewrite the table from the JSON."
    )
    args = parser.parse_args(argv)
    harness.setup_logging(logging.WARNING)
    output = Path(args.output)
    if args.summarize:
        rows = json.loads(output.with_suffix(".json").read_text())["rows"]
        table = summarize(rows)
        output.with_suffix(".md").write_text(table)
        print(table)
        return 0
    cases = [
        (regime, candidate, seed)
        for regime in args.regimes
        for seed in args.seeds
        for candidate in args.candidates
    ]
    import keras

    rows = []
    data_cache = {}
    for regime, candidate, seed in harness.progress(cases, desc="split defaults"):
        if regime not in data_cache:
            data_cache[regime] = load(regime)
        rows.append(run(candidate, regime, seed, data_cache[regime]))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": "python -m benchmarks.split_defaults "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "keras": keras.__version__,
                "rows": rows,
            },
            indent=1,
        )
    )
    table = summarize(rows)
    output.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
