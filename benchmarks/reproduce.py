"""Reproduce Acharya et al. (AAAI 2019) with this toolkit: the compression grid.

For each dataset x model x embedding width x seed, every method is trained with the
same recipe and scored at equal embedding budgets:

| method | what it is |
|---|---|
| `uncompressed` | the full table, pretrain + retrain with a fresh optimizer, no split |
| `uncompressed_int8` | the same model as a dynamic-range int8 `.tflite` |
| `quant8`, `quant4`, `quant2` | post-training per-row uniform quantization |
| `svd_no_retrain` | truncated SVD of the trained table at rank k, no retraining |
| `online_svd` | ours: `EmbeddingFactorization` splits after pretraining, retrain |
| `online_svd_int8` | ours, converted with int8 (dynamic-range) factors |
| `online_default` | ours with the callback's defaults: frequency bands, its CALR |
| `online_default_int8` | the same, converted with int8 (dynamic-range) factors |
| `online_recurrent` | ours, recurrent recipe: consumer-weighted, fixed basis |
| `online_recurrent_int8` | the same, converted with int8 (dynamic-range) factors |
| `offline_svd_us` | GloVe reduced to k' = (1-p) D dims by SVD (U_k S_k), trained |
| `offline_svd_u` | the same with U_k only, as the authors' code |

Each finished run is appended to `--output` as one JSON line keyed by (study,
dataset, model, dim, method, p, seed); on a restart, finished runs are skipped, so
the grid can be completed over several sessions. Accuracy is measured in LiteRT on
the converted `.tflite` file for `uncompressed`, `uncompressed_int8` and the
`online_*` methods, and in Keras for the others (no `.tflite` file for 2-4 bit
tables). Model selection uses the dev split only; test is scored once per run.

Usage:

```bash
.venv/bin/python -m benchmarks.reproduce --quick --output /tmp/quick.jsonl
.venv/bin/python -m benchmarks.reproduce --datasets rotten_tomatoes r8 --models dan
.venv/bin/python -m benchmarks.reproduce --models dan --dims 300
```
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, store

logger = logging.getLogger("reproduce")

DEFAULT_OUTPUT = harness.RESULTS / "reproduce.jsonl"
DATASETS = ("rotten_tomatoes", "r8")
MODELS = ("dan", "lstm")
COMPRESSIONS = (0.5, 0.7, 0.8, 0.9, 0.95)
SEEDS = (0, 1, 2)
METHODS = (
    "uncompressed",
    "uncompressed_int8",
    "quant8",
    "quant4",
    "quant2",
    "svd_no_retrain",
    "online_svd",
    "online_svd_int8",
    "online_default",
    "online_default_int8",
    "online_recurrent",
    "online_recurrent_int8",
    "offline_svd_us",
    "offline_svd_u",
)
ONLINE = {
    "online_svd": {},
    "online_default": {"bands": "auto", "split_learning_rate": "calr"},
    "online_recurrent": {
        "bands": "auto",
        "split_learning_rate": "calr",
        "weighting": "consumer",
        "train_basis": False,
    },
}
"""Ours: method name -> `harness.retrain_online` arguments. `online_svd` is the
paper's single SVD retrained with the grid's CALR; `online_default` is what
`EmbeddingFactorization` does with its defaults for the DAN (the plain SVD, frequency
bands and its CALR), `online_recurrent` what it does for the LSTM at p >= 0.85
(`weighting="auto"`: weighted by the LSTM's input kernel, fixed basis), spelled out
so that the rows keep their meaning if the defaults change again."""
ONLINE_METHODS = (*ONLINE, *(f"{name}_int8" for name in ONLINE))
# Methods computed from the trained uncompressed model, and those with one run per p.
_BASE_METHODS = ("uncompressed", "uncompressed_int8", "quant8", "quant4", "quant2")
_PER_P_METHODS = tuple(m for m in METHODS if m not in _BASE_METHODS)
_QUANT_BITS = {"quant8": 8, "quant4": 4, "quant2": 2}
QUICK = {
    "datasets": ("rotten_tomatoes",),
    "models": ("dan",),
    "dims": (50,),
    "compressions": (0.9,),
    "seeds": (0,),
    "methods": ("uncompressed", "quant4", "svd_no_retrain", "online_svd"),
}


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs that share a dataset, model, embedding width and seed."""

    dataset: str
    model: str
    dim: int
    seed: int


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "Smoke subset for CI: a slice of Rotten Tomatoes, DAN, p = 0.9, one seed, "
            "one epoch per phase, a few methods (explicit flags still override)."
        ),
    )
    parser.add_argument("--datasets", nargs="+", choices=DATASETS)
    parser.add_argument("--models", nargs="+", choices=MODELS)
    parser.add_argument(
        "--dims", nargs="+", type=int, help="Embedding widths: 50, 300."
    )
    parser.add_argument("--compressions", nargs="+", type=float, help="Values of p.")
    parser.add_argument("--seeds", nargs="+", type=int)
    parser.add_argument("--methods", nargs="+", choices=METHODS)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--pretrain-epochs", type=int, help="Default 3 (1 with --quick)."
    )
    parser.add_argument(
        "--retrain-epochs", type=int, help="Default 5 (1 with --quick)."
    )
    parser.add_argument("--peak-learning-rate", type=float, default=1e-2)
    parser.add_argument("--adam-epsilon", type=float, default=1e-7)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument(
        "--no-litert",
        action="store_true",
        help="Score every method in Keras; convert nothing (faster smoke runs).",
    )
    args = parser.parse_args(argv)
    defaults = (
        QUICK
        if args.quick
        else {
            "datasets": DATASETS,
            "models": ("dan",),
            "dims": (50,),
            "compressions": COMPRESSIONS,
            "seeds": SEEDS,
            "methods": METHODS,
        }
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, tuple(value))
    epochs = 1 if args.quick else None
    args.pretrain_epochs = args.pretrain_epochs or epochs or 3
    args.retrain_epochs = args.retrain_epochs or epochs or 5
    args.litert = not args.no_litert
    for p in args.compressions:
        if not 0.0 < p < 1.0:
            parser.error(f"--compressions must be in (0, 1). Received: {p}")
    return args


def planned_runs(args: argparse.Namespace) -> list[tuple[Group, list[dict]]]:
    """Every run of the grid as (group, [key dicts]), seeds outermost."""
    plan = []
    for seed in args.seeds:
        for dim in args.dims:
            for model in args.models:
                for dataset in args.datasets:
                    group = Group(dataset, model, dim, seed)
                    keys = []
                    for method in args.methods:
                        if method in _PER_P_METHODS:
                            keys += [_key(group, method, p) for p in args.compressions]
                        else:
                            keys.append(_key(group, method, _nominal_p(method)))
                    plan.append((group, keys))
    return plan


def _nominal_p(method: str) -> float | None:
    if method in _QUANT_BITS:
        return 1.0 - _QUANT_BITS[method] / 32
    if method == "uncompressed_int8":
        return 0.75
    return None


def _key(group: Group, method: str, p: float | None) -> dict:
    return {
        "study": "grid",
        "dataset": group.dataset,
        "model": group.model,
        "dim": group.dim,
        "method": method,
        "p": p,
        "seed": group.seed,
    }


def run_cost(key: dict, args: argparse.Namespace) -> float:
    """Estimated cost of a run in training epochs (for the progress bar's ETA)."""
    epochs = args.pretrain_epochs + args.retrain_epochs
    scale = 6.0 if key["model"] == "lstm" else 1.0
    if key["method"] in (
        "online_svd",
        "online_default",
        "online_recurrent",
        "offline_svd_us",
        "offline_svd_u",
    ):
        return epochs * scale
    if key["method"] == "uncompressed":
        return epochs * scale
    return 0.5 * scale  # Conversions and evaluations.


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    harness.limit_threads(args.threads)
    plan = planned_runs(args)
    done = store.finished_keys(args.output)
    todo = []
    for group, keys in plan:
        missing = [k for k in keys if store.run_key(k) not in done]
        if missing:
            todo.append((group, missing))
    num_runs = sum(len(keys) for _, keys in plan)
    num_missing = sum(len(keys) for _, keys in todo)
    logger.info(
        "%d runs planned, %d already in %s, %d to do.",
        num_runs,
        num_runs - num_missing,
        args.output,
        num_missing,
    )
    if not todo:
        return 0
    total = sum(run_cost(k, args) for _, keys in todo for k in keys)
    with harness.progress(
        total=round(total, 1),
        unit="epoch",
        desc="reproduce",
        disable=args.no_progress,
    ) as bar:
        for group, keys in todo:
            bar.set_postfix_str(
                f"{group.dataset}/{group.model}/D{group.dim}/s{group.seed}"
            )
            for row in run_group(group, keys, args):
                store.append_row(args.output, row)
                bar.update(run_cost(row, args))
                logger.info(
                    "%s %s D=%d seed=%d %s p=%s: dev %.4f test %.4f",
                    row["dataset"],
                    row["model"],
                    row["dim"],
                    row["seed"],
                    row["method"],
                    row["p"],
                    row["dev_accuracy"],
                    row["test_accuracy"],
                )
    return 0


def run_group(group: Group, keys: list[dict], args: argparse.Namespace):
    """Runs the missing `keys` of one group, yielding one finished row at a time."""
    import keras

    import tflite_lowrank as tl
    from benchmarks.baselines import (
        offline_dim_for_compression,
        offline_svd_table,
        quantize_rows,
    )

    recipe = harness.Recipe(
        pretrain_epochs=args.pretrain_epochs,
        retrain_epochs=args.retrain_epochs,
        peak_learning_rate=args.peak_learning_rate,
        adam_epsilon=args.adam_epsilon,
    )
    data = harness.prepare_data(group.dataset, quick=args.quick)
    vocab, dim = data.vocab_size, group.dim
    full_bytes = vocab * dim * 4
    wanted = {(k["method"], k["p"]) for k in keys}
    methods = {m for m, _ in wanted}
    common = {
        "study": "grid",
        "dataset": group.dataset,
        "model": group.model,
        "dim": dim,
        "seed": group.seed,
        "vocab_size": vocab,
        "seq_len": data.seq_len,
        "num_train": len(data.x_train),
        "num_dev": len(data.x_dev),
        "num_test": len(data.x_test),
        "recipe": recipe.to_dict(),
        "quick": bool(args.quick),
        "versions": _versions(),
    }

    def row(method, p, **fields):
        embedding_bytes = fields["embedding_bytes"]
        return {
            **common,
            "method": method,
            "p": p,
            "compression_bytes": 1.0 - embedding_bytes / full_bytes,
            "finished_at": harness.timestamp(),
            **fields,
        }

    table0 = harness.initial_table(data, dim, group.seed)
    workdir = Path(tempfile.mkdtemp(prefix="reproduce_"))
    needs_pretrain = bool(methods & (set(_BASE_METHODS) | {"svd_no_retrain"})) or any(
        m in methods for m in ONLINE_METHODS
    )
    start = (
        harness.Start(
            data,
            recipe,
            table0,
            harness.pretrain(group.model, data, table0, recipe, group.seed),
        )
        if needs_pretrain
        else None
    )

    # --- The uncompressed model and everything derived from its trained table.
    if methods & (set(_BASE_METHODS) | {"svd_no_retrain"}):
        model, result = harness.retrain_uncompressed(
            group.model, start, seed=group.seed
        )
        base = {
            "dev_accuracy": result.best_dev,
            "test_accuracy_keras": harness.accuracy(model, data.x_test, data.y_test),
            "best_epoch": result.best_epoch,
            "dev_curve": result.dev_curve,
            "train_seconds": result.train_seconds,
        }
        if ("uncompressed", None) in wanted:
            lite = litert(
                model, data, workdir / "uncompressed.tflite", None, args.litert
            )
            yield row(
                "uncompressed",
                None,
                rank=None,
                embedding_params=vocab * dim,
                embedding_bytes=full_bytes,
                **{**base, **lite},
            )
        if ("uncompressed_int8", 0.75) in wanted:
            lite = litert(
                model,
                data,
                workdir / "uncompressed_int8.tflite",
                "dynamic",
                args.litert,
            )
            yield row(
                "uncompressed_int8",
                0.75,
                rank=None,
                bits=8,
                embedding_params=vocab * dim,
                embedding_bytes=lite.get("tflite_embedding_bytes") or vocab * dim,
                **{**base, **lite},
            )
        table = harness.embedding_table(model)
        for method, bits in _QUANT_BITS.items():
            p = _nominal_p(method)
            if (method, p) not in wanted:
                continue
            quantized = quantize_rows(table, bits)
            harness.set_embedding_table(model, quantized.dequantize())
            yield row(
                method,
                p,
                rank=None,
                bits=bits,
                embedding_params=vocab * dim,
                embedding_bytes=quantized.num_bytes,
                dev_accuracy=harness.accuracy(model, data.x_dev, data.y_dev),
                **_keras_test(harness.accuracy(model, data.x_test, data.y_test)),
                max_abs_error=float(np.abs(quantized.dequantize() - table).max()),
                train_seconds=result.train_seconds,
            )
            harness.set_embedding_table(model, table)
        for p in args.compressions:
            if ("svd_no_retrain", p) not in wanted:
                continue
            rank = tl.rank_for_compression(vocab, dim, p)
            a, b = tl.truncated_svd(table, rank)
            harness.set_embedding_table(model, a @ b)
            yield row(
                "svd_no_retrain",
                p,
                rank=rank,
                embedding_params=rank * (vocab + dim),
                embedding_bytes=rank * (vocab + dim) * 4,
                dev_accuracy=harness.accuracy(model, data.x_dev, data.y_dev),
                **_keras_test(harness.accuracy(model, data.x_test, data.y_test)),
                relative_error=float(
                    np.linalg.norm(table - a @ b) / np.linalg.norm(table)
                ),
                train_seconds=result.train_seconds,
            )
            harness.set_embedding_table(model, table)
        del model
        keras.backend.clear_session()

    # --- Ours (from the shared pretraining) and the offline baseline, per p.
    for p, (name, settings) in itertools.product(args.compressions, ONLINE.items()):
        want_float = (name, p) in wanted
        want_int8 = (f"{name}_int8", p) in wanted
        if want_float or want_int8:
            model, result, split = harness.retrain_online(
                group.model,
                start,
                seed=group.seed,
                compression=p,
                **settings,
            )
            rank = split["rank"]
            params = split["params_after"]
            fields = {
                "rank": rank,
                "band_ranks": split.get("band_ranks"),
                "embedding_params": params,
                "dev_accuracy": result.best_dev,
                "test_accuracy_keras": harness.accuracy(
                    model, data.x_test, data.y_test
                ),
                "best_epoch": result.best_epoch,
                "dev_curve": result.dev_curve,
                "step0_dev_accuracy": result.step0_dev,
                "step0_test_accuracy": result.step0_test,
                "relative_error": split["relative_error"],
                "train_seconds": result.train_seconds,
            }
            if want_float:
                lite = litert(
                    model, data, workdir / f"{name}_{p}.tflite", None, args.litert
                )
                yield row(
                    name,
                    p,
                    embedding_bytes=params * 4,
                    **{**fields, **lite},
                )
            if want_int8:
                lite = litert(
                    model,
                    data,
                    workdir / f"{name}_{p}_int8.tflite",
                    "dynamic",
                    args.litert,
                )
                yield row(
                    f"{name}_int8",
                    p,
                    bits=8,
                    embedding_bytes=lite.get("tflite_embedding_bytes") or params,
                    **{**fields, **lite},
                )
            del model
            keras.backend.clear_session()
        for method, scaling in (("offline_svd_us", "us"), ("offline_svd_u", "u")):
            if (method, p) not in wanted:
                continue
            width = offline_dim_for_compression(dim, p)
            model, result = harness.train_from_scratch(
                group.model,
                data,
                offline_svd_table(table0, width, scaling),
                recipe,
                group.seed,
            )
            yield row(
                method,
                p,
                rank=width,
                embedding_params=vocab * width,
                embedding_bytes=vocab * width * 4,
                dev_accuracy=result.best_dev,
                **_keras_test(harness.accuracy(model, data.x_test, data.y_test)),
                best_epoch=result.best_epoch,
                dev_curve=result.dev_curve,
                train_seconds=result.train_seconds,
            )
            del model
            keras.backend.clear_session()


def _keras_test(test_accuracy: float) -> dict:
    return {
        "test_accuracy": test_accuracy,
        "test_accuracy_keras": test_accuracy,
        "accuracy_source": "keras",
    }


def litert(model, data, path: Path, quantization: str | None, enabled=True) -> dict:
    """Converts `model`, scores the file on test in LiteRT; returns row fields."""
    if not enabled:
        if quantization is not None:
            raise ValueError(
                "An int8 `.tflite` method needs LiteRT; drop `--no-litert` or the "
                f"method. Received: quantization={quantization!r}"
            )
        return _keras_test(harness.accuracy(model, data.x_test, data.y_test))
    import tflite_lowrank as tl

    # The default `fold_projection=True`: the split's projection is folded here.
    conversion = tl.convert_to_tflite(
        model, path, quantization=quantization, overwrite=True
    )
    bench = tl.benchmark_tflite(
        path,
        token_ids=data.x_test,
        labels=data.y_test,
        warmup_runs=2,
        num_runs=50,
        progress=False,
    )
    accuracy = float(bench.accuracy)
    return {
        "test_accuracy": accuracy,
        "test_accuracy_litert": accuracy,
        "accuracy_source": "litert",
        "tflite_file_bytes": int(conversion.size_bytes),
        "tflite_embedding_bytes": int(conversion.embedding_bytes),
        "tflite_embedding_tensors": [t.to_dict() for t in conversion.embedding_tensors],
        "tflite_quantization": conversion.quantization,
        "tflite_max_output_difference": float(conversion.max_output_difference),
        "latency_p50_ms": float(bench.latency_p50_ms),
    }


def _versions() -> dict:
    import importlib.metadata as metadata

    out = {}
    for dist in ("tflite-lowrank", "tensorflow-cpu", "keras", "ai-edge-litert"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
