"""The defaults on a user model and data set the recipe study never saw (issue 29).

The model is keras.io's "Text classification from scratch" example as a user copies
it: a `TextVectorization` layer (20,000 tokens, 250 per text) mapped over a
`tf.data` pipeline, then `Embedding(20000, 128)`, `Dropout(0.5)`, two
`Conv1D(128, 7, strides=3)`, `GlobalMaxPooling1D`, `Dense(128)`, `Dropout(0.5)`; the
example's one sigmoid becomes a softmax over the classes. The data set is Reuters
R52 (52 classes; `tl.load_dataset("r52")`, 5,878 training texts), which no study of
the defaults used. Training as a user would: Adam at Keras' default rate, batch 32,
at most 12 epochs, `EarlyStopping(val_accuracy, patience=3,
restore_best_weights=True)` on the dev split.

Per seed, two runs from the same initial weights and batch order: `baseline` (no
split) and `default` (`tl.EmbeddingFactorization(compression=0.9, at_epoch=4,
coordinate_with=[stopping])`, every other argument at its default). Each model is
converted to a float32 and a dynamic int8 file (`tl.convert_to_tflite`), and each
file is scored on the test split in LiteRT (1 thread); Δ = the compressed int8
file's test accuracy minus the baseline float32 file's, paired by seed. Target:
within 1 point.

One JSON line per finished (recipe, seed) in `results/unseen_model.jsonl`; a
restart skips finished runs. `--report` rewrites `results/unseen_model.md`,
`.json` and `.png` from it.

Usage (from the repository root):

```bash
python -m benchmarks.unseen_model --seeds 0 1 2 3 4
python -m benchmarks.unseen_model --report
```
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, stats, store

logger = logging.getLogger("unseen_model")

OUTPUT = harness.RESULTS / "unseen_model.jsonl"
KEY = ("recipe", "seed")
RECIPES = ("baseline", "default")
DATASET = "r52"
MAX_TOKENS, SEQ_LEN, EMBEDDING_DIM = 20_000, 250, 128
EPOCHS, SPLIT_EPOCH, PATIENCE, BATCH = 12, 4, 3, 32
COMPRESSION = 0.9
TARGET = 1.0


def build(num_classes: int):
    """keras.io's "from scratch" model, softmax head."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(MAX_TOKENS, EMBEDDING_DIM, name="embedding")(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"]
    )
    return model


def vectorized(data):
    """The splits as token ids through an adapted `TextVectorization` (tf.data)."""
    import keras
    import tensorflow as tf

    vectorize = keras.layers.TextVectorization(
        max_tokens=MAX_TOKENS, output_mode="int", output_sequence_length=SEQ_LEN
    )
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(data.train.texts).batch(256))

    def ids(split):
        dataset = tf.data.Dataset.from_tensor_slices(split.texts).batch(256)
        return np.concatenate([vectorize(batch).numpy() for batch in dataset])

    return {
        name: (ids(getattr(data, name)), getattr(data, name).labels)
        for name in (
            "train",
            "dev",
            "test",
        )
    }


def run_one(
    recipe: str,
    seed: int,
    splits,
    num_classes: int,
    work: Path,
    split_epoch: int = SPLIT_EPOCH,
    fixed_basis_above: float | None = 0.95,
) -> dict:
    import keras
    import tensorflow as tf

    import tflite_lowrank as tl

    keras.utils.set_random_seed(seed)
    model = build(num_classes)
    (x_train, y_train), dev = splits["train"], splits["dev"]
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed)
        .batch(BATCH)
    )
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=PATIENCE, restore_best_weights=True
    )
    callbacks = [stopping]
    split = None
    if recipe == "default":
        recipe_value = tl.SplitRecipe(fixed_basis_above=fixed_basis_above)
        split = tl.EmbeddingFactorization(
            compression=COMPRESSION,
            at_epoch=split_epoch,
            recipe=recipe_value,
            coordinate_with=[stopping],
            verbose=0,
        )
        callbacks.append(split)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=EPOCHS,
        validation_data=tf.data.Dataset.from_tensor_slices(dev).batch(256),
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    files = {}
    x_test, y_test = splits["test"]
    for variant, mode in (("float32", "float32"), ("int8", "dynamic")):
        path = work / f"{recipe}_{seed}_{variant}.tflite"
        result = tl.convert_to_tflite(
            model, path, quantization=mode, seq_len=SEQ_LEN, overwrite=True
        )
        files[variant] = {
            "bytes": result.size_bytes,
            "embedding_bytes": result.embedding_bytes,
            "test_accuracy": harness.litert_accuracy(path, x_test, y_test),
        }
        path.unlink()
    return {
        "recipe": recipe,
        "seed": seed,
        "dataset": DATASET,
        "split_epoch": split_epoch,
        "fixed_basis_above": fixed_basis_above,
        "epochs_run": len(history.history["val_accuracy"]),
        "best_epoch": int(stopping.best_epoch) + 1,
        "dev_curve": [float(v) for v in history.history["val_accuracy"]],
        "split": None
        if split is None or split.result is None
        else (split.result.to_dict()),
        "train_seconds": seconds,
        "files": files,
        "tflite_lowrank": tl.__version__,
        "finished_at": harness.timestamp(),
    }


def summarize(rows: list[dict]) -> dict:
    by = {(r["recipe"], r["seed"]): r for r in rows}
    seeds = sorted(
        s for (recipe, s) in by if recipe == "default" and ("baseline", s) in by
    )
    base = [
        100 * by[("baseline", s)]["files"]["float32"]["test_accuracy"] for s in seeds
    ]
    deltas = {
        variant: [
            100 * by[("default", s)]["files"][variant]["test_accuracy"] - b
            for s, b in zip(seeds, base, strict=True)
        ]
        for variant in ("float32", "int8")
    }
    shares = [
        by[("default", s)]["files"]["int8"]["embedding_bytes"]
        / by[("baseline", s)]["files"]["float32"]["embedding_bytes"]
        for s in seeds
    ]
    int8 = deltas["int8"]
    return {
        "seeds": seeds,
        "baseline_test": base,
        "deltas": deltas,
        "int8_mean": stats.mean(int8) if int8 else None,
        "int8_se": stats.se(int8) if len(int8) > 1 else None,
        "share_median": float(np.median(shares)) if shares else None,
        "met": bool(int8) and stats.mean(int8) >= -TARGET,
    }


def report(rows: list[dict], output: Path = OUTPUT) -> None:
    if not rows:
        return
    summary = summarize(rows)
    folder, stem = output.parent, output.stem
    compressed = [r for r in rows if r["recipe"] == "default"]
    split_epoch = compressed[0].get("split_epoch", SPLIT_EPOCH) if compressed else None
    rule = (
        compressed[0].get("fixed_basis_above", "not recorded") if compressed else None
    )
    options = f"`at_epoch={split_epoch}`"
    if rule != "not recorded":
        options += f", `fixed_basis_above={rule}`"
    lines = [
        "# The defaults on a model and data set no study saw "
        "(`benchmarks/unseen_model.py`)",
        "",
        'keras.io\'s "Text classification from scratch" model (`TextVectorization` '
        f"{MAX_TOKENS:,} tokens x {SEQ_LEN} in a `tf.data` pipeline, `Embedding("
        f"{MAX_TOKENS}, {EMBEDDING_DIM})`, two `Conv1D(128, 7, strides=3)`, softmax) "
        "on Reuters R52 (52 classes), Adam at Keras' default rate, `EarlyStopping("
        "restore_best_weights=True)` named in `coordinate_with`, split with the "
        f"callback's defaults at `compression={COMPRESSION}`, "
        f"{options}. "
        "Test accuracy of each LiteRT file; Δ = compressed file minus the baseline "
        "float32 file of the same seed, in points.",
        "",
        "| seed | baseline float32 (%) | Δ compressed float32 | Δ compressed int8 |",
        "|---|---|---|---|",
    ]
    for i, seed in enumerate(summary["seeds"]):
        lines.append(
            f"| {seed} | {summary['baseline_test'][i]:.2f} | "
            f"{summary['deltas']['float32'][i]:+.2f} | "
            f"{summary['deltas']['int8'][i]:+.2f} |"
        )
    if summary["seeds"]:
        se = summary["int8_se"]
        lines += [
            "",
            f"Mean Δ int8 over {len(summary['seeds'])} seeds: "
            f"**{summary['int8_mean']:+.2f}**"
            + (f" ± {se:.2f} (standard error)" if se is not None else "")
            + f"; the int8 file's embedding is {100 * summary['share_median']:.2f}% of "
            f"the float32 table's bytes. Target (within {TARGET:g} point): "
            + ("**met**." if summary["met"] else "**not met**."),
        ]
    lines.append("")
    (folder / f"{stem}.md").write_text("\n".join(lines))
    (folder / f"{stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    try:
        _plot(summary, folder / f"{stem}.png")
    except ModuleNotFoundError as error:
        logger.warning("No plot: %s", error)


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.2))
    seeds = summary["seeds"]
    for offset, variant in ((-0.15, "float32"), (0.15, "int8")):
        axis.bar(
            [s + offset for s in seeds], summary["deltas"][variant], 0.3, label=variant
        )
    axis.axhline(-TARGET, color="gray", linestyle="--", label="target")
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel("seed")
    axis.set_ylabel("Δ test accuracy (points)")
    axis.set_title("keras.io Conv1D model on R52, defaults at p=0.9")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=(0, 1, 2, 3, 4))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--split-epoch",
        type=int,
        default=SPLIT_EPOCH,
        help="The compressed runs' `at_epoch` (a later split meets a model that "
        "fits its training data).",
    )
    parser.add_argument(
        "--no-fit-rule",
        action="store_true",
        help="The compressed runs with `SplitRecipe(fixed_basis_above=None)`.",
    )
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    harness.setup_logging()
    if args.report:
        report(store.read_rows(args.output), args.output)
        return 0
    harness.limit_threads(args.threads)
    import tflite_lowrank as tl

    data = tl.load_dataset(DATASET)
    splits = vectorized(data)
    done = store.finished_keys(args.output, KEY)
    keys = [
        (recipe, seed)
        for seed in args.seeds
        for recipe in RECIPES
        if store.run_key({"recipe": recipe, "seed": seed}, KEY) not in done
    ]
    work = Path(tempfile.mkdtemp(prefix="unseen_model_"))
    for recipe, seed in harness.progress(
        keys, desc="unseen model", disable=args.no_progress
    ):
        row = run_one(
            recipe,
            seed,
            splits,
            data.num_classes,
            work,
            split_epoch=args.split_epoch,
            fixed_basis_above=None if args.no_fit_rule else 0.95,
        )
        store.append_row(args.output, row)
        logger.info(
            "%s seed %d: int8 test %.4f, %d epochs, %.0f s",
            recipe,
            seed,
            row["files"]["int8"]["test_accuracy"],
            row["epochs_run"],
            row["train_seconds"],
        )
        report(store.read_rows(args.output), args.output)
    report(store.read_rows(args.output), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
