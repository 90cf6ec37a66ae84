"""How well each pipeline's model fits its training data at the split (issue 29).

`SplitRecipe.fixed_basis_above` reads the training accuracy that `fit()` logs for the
epoch whose weights are split. This probe trains each pipeline's uncompressed DAN of
`benchmarks/pipelines.py` (the same protocols, data and seeds) up to the split epoch,
with the dev split as `validation_data`, and records every epoch's logged training
and validation accuracy and loss. One JSON line per finished (dataset, protocol, seed)
in `results/fit_probe.jsonl` (a restart skips finished keys); `results/fit_probe.md`
is the table.

Usage:
    .venv/bin/python -m benchmarks.fit_probe            # ~5 min on 2 cores
    .venv/bin/python -m benchmarks.fit_probe --report
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, pipelines, store

OUTPUT = harness.RESULTS / "fit_probe.jsonl"
KEY = ("dataset", "protocol", "seed")
logger = logging.getLogger("fit_probe")


def run_one(dataset: str, protocol_name: str, seed: int) -> dict:
    """The baseline of one pipeline trained to its split epoch; its logs per epoch."""
    import keras

    protocol = pipelines.PROTOCOL_BUILDERS[protocol_name](dataset, False)
    data = protocol.data
    keras.utils.set_random_seed(seed)
    model = pipelines.build_model("dan", data, protocol.table(seed))
    pipelines.compile_for(model, protocol)
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=protocol.batch_size,
        epochs=protocol.split_epoch,
        validation_data=(data.x_dev, data.y_dev),
        shuffle=True,
        verbose=0,
    )
    return {
        "dataset": dataset,
        "protocol": protocol_name,
        "seed": seed,
        "split_epoch": protocol.split_epoch,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }


def report(rows: list[dict], output: Path = OUTPUT) -> None:
    """Writes `<stem>.md`: per pipeline and seed, the logged training accuracy of each
    pre-split epoch and the epoch with the best `val_accuracy`."""
    if not rows:
        return
    lines = [
        "# Training accuracy at the split (`benchmarks/fit_probe.py`)",
        "",
        "The uncompressed DAN of each pipeline of `pipelines.py`, trained to its split "
        "epoch with the dev split as `validation_data`: the training accuracy `fit()` "
        "logged for each epoch (the mean over the epoch's batches), and the epoch with "
        'the best `val_accuracy` (the one `split_from="best"` splits). '
        "`fixed_basis_above=0.95` takes the fixed basis when the split epoch's value "
        "reaches 0.95.",
        "",
        "| dataset | protocol | seed | training accuracy per epoch | best dev epoch | "
        "its training accuracy |",
        "|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(pipelines.PROTOCOLS)}
    for row in sorted(
        rows, key=lambda r: (order[r["protocol"]], r["dataset"], r["seed"])
    ):
        accuracy = row["history"]["accuracy"]
        dev = row["history"]["val_accuracy"]
        best = max(range(len(dev)), key=lambda i: (dev[i], -i))
        lines.append(
            f"| {row['dataset']} | {row['protocol']} | {row['seed']} | "
            + ", ".join(f"{a:.3f}" for a in accuracy)
            + f" | {best + 1} | {accuracy[best]:.3f} |"
        )
    path = output.with_suffix(".md")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=pipelines.DATASETS, default=pipelines.DATASETS
    )
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=pipelines.PROTOCOLS,
        default=pipelines.PROTOCOLS,
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=(0, 1))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not args.report:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        done = store.finished_keys(args.output, KEY)
        keys = [
            (d, p, s)
            for s in args.seeds
            for p in args.protocols
            for d in args.datasets
            if store.run_key({"dataset": d, "protocol": p, "seed": s}, KEY) not in done
        ]
        for dataset, protocol, seed in harness.progress(
            keys, desc="fit probe", disable=args.no_progress
        ):
            row = run_one(dataset, protocol, seed)
            store.append_row(args.output, row)
            logger.info("%s %s seed %d done", dataset, protocol, seed)
    report(store.read_rows(args.output), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
