"""Latency of compressed files by layout and storage, against what they replace.

Issue 31: smaller was supposed to come with faster. Five models, each compressed at
p = 0.9 (the single SVD's parameter budget, `rank * (V + D)`, shared by every
layout), converted with `convert_to_tflite`'s defaults (the projection folded where
it pays) and measured in LiteRT at 1 thread:

- `dan_demo`: the README demo's DAN, 17,079 x 50, `seq_len` 40;
- `dan_20k`: the same DAN at 20,000 x 50;
- `lstm_300`: the paper's LSTM (150 units) at 20,000 x 300, `seq_len` 40;
- `conv1d`: keras.io's text CNN (20,000 x 128, two `Conv1D(128, 7, strides=3)`,
  global max pooling, `Dense(128)`), `seq_len` 500;
- `transformer`: keras.io's Transformer classifier (20,000 x 32 token embedding plus
  a position embedding, one block: 2 heads, feed-forward 32), `seq_len` 200.

Layouts: `bands6` (the callback's default, 6 geometric bands), `bands2` (a head of
frequent words and one tail), `bands1` (the paper's single SVD, a
`LowRankEmbedding`) and `latency` (`tflite_lowrank.factorization.plan_layout`: at
most 2 lookups, a code at most `D` wide). Band ranks come from the rank rule's prior
spectrum (no trained table; latency does not depend on the weights' values, so the
tables are random). Storage modes: every mode of `QUANTIZATION_MODES` except the
calibrated `"int8"`, for the baseline as for each layout; the baseline in `"dynamic"`
is post-training dynamic-range int8, the fastest peer.

Timing: one child process (NumPy and LiteRT only) loads every file of a model and
runs `--rounds` rounds; each round visits the files in a new random order and runs
each at least `--runs` times and `--min-burst-ms` long (after `--warmup`). Ratios
are taken per round (each file's p50 against the float32 baseline's and the dynamic
baseline's of the same round), then the median over rounds, so slow phases of a
shared machine hit both sides.

Writes `results/latency_layouts.json` (per file: layout, mode, ranks, bytes, the
operators and lookup tables read with `inspect_model`, the fold decision, p50 per
round, ratios), `latency_layouts.md` and `latency_layouts.png`. Resumable: models
already in the JSON (same settings) are kept; `--fresh` starts over.

Usage:

```bash
.venv/bin/python -m benchmarks.latency_layouts            # ~25 min on 2 shared cores
.venv/bin/python -m benchmarks.latency_layouts --models dan_demo --rounds 3
.venv/bin/python -m benchmarks.latency_layouts --report   # tables and plot only
```
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness

logger = logging.getLogger("latency_layouts")

RESULTS = harness.RESULTS
OUTPUT = RESULTS / "latency_layouts.json"
COMPRESSION = 0.9
# name: (builder, vocabulary, width D, seq_len)
MODELS = {
    "dan_demo": ("dan", 17_079, 50, 40),
    "dan_20k": ("dan", 20_000, 50, 40),
    "lstm_300": ("lstm", 20_000, 300, 40),
    "conv1d": ("conv1d", 20_000, 128, 500),
    "transformer": ("transformer", 20_000, 32, 200),
}
LAYOUTS = ("bands6", "bands2", "bands1", "latency")
BASELINE, PEER = "baseline/float32", "baseline/dynamic"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--min-burst-ms",
        type=float,
        default=20.0,
        help="each file runs at least this long per round (more runs for fast files)",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    parser.add_argument("--report", action="store_true", help="tables and plot only")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def modes() -> tuple[str, ...]:
    """Every storage mode but the calibrated full-integer one."""
    from tflite_lowrank.export import QUANTIZATION_MODES

    return tuple(m for m in QUANTIZATION_MODES if m not in (None, "int8", "float16"))


def token_ids(vocab: int, seq_len: int, rows: int = 64, seed: int = 0) -> np.ndarray:
    """Rows with 5 to `seq_len` real tokens (Zipf-like ids), right-padded with 0."""
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, size=(rows, seq_len)), vocab - 1).astype(np.int32)
    for row, length in enumerate(rng.integers(5, seq_len + 1, size=rows)):
        ids[row, length:] = 0
    return ids


# ------------------------------------------------------------------------ models


def build(kind: str, vocab: int, dim: int, seq_len: int, embedding=None):
    """The model, with `embedding` (a layer named "embedding") or a plain one."""
    import keras

    import tflite_lowrank as tl

    if kind in ("dan", "lstm"):
        builder = tl.build_dan if kind == "dan" else tl.build_lstm
        model = builder(vocab, 2, seq_len=seq_len, embedding_dim=dim)
        if embedding is None:
            return model
        table = model.get_layer("embedding")
        return keras.models.clone_model(
            model,
            clone_function=lambda layer: (
                embedding
                if layer is table
                else layer.__class__.from_config(layer.get_config())
            ),
        )
    layers = keras.layers
    inputs = keras.Input((seq_len,), dtype="int32", name="token_ids")
    embedding = embedding or layers.Embedding(vocab, dim, name="embedding")
    x = embedding(inputs)
    if kind == "conv1d":  # keras.io: text classification from scratch
        x = layers.Dropout(0.5)(x)
        for _ in range(2):
            x = layers.Conv1D(128, 7, strides=3, activation="relu")(x)
        x = layers.GlobalMaxPooling1D()(x)
        x = layers.Dense(128, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    else:  # keras.io: text classification with Transformer
        x = _position_embedding_class()(seq_len, dim)(x)
        attention = layers.MultiHeadAttention(num_heads=2, key_dim=dim)(x, x)
        x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(attention))
        y = layers.Dense(32, activation="relu")(x)
        y = layers.Dense(dim)(y)
        x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(y))
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dropout(0.1)(x)
        x = layers.Dense(20, activation="relu")(x)
        x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=kind)


_POSITION_EMBEDDING = []


def _position_embedding_class():
    """keras.io's position embedding (defined once, when Keras is imported)."""
    if _POSITION_EMBEDDING:
        return _POSITION_EMBEDDING[0]
    import keras

    class PositionEmbedding(keras.layers.Layer):
        """Adds a learned embedding of the positions 0 .. seq_len - 1."""

        def __init__(self, seq_len, dim, **kwargs):
            super().__init__(**kwargs)
            self.seq_len, self.dim = seq_len, dim
            self.positions = keras.layers.Embedding(seq_len, dim)

        def call(self, x):
            return x + self.positions(keras.ops.arange(self.seq_len))

        def get_config(self):
            return {**super().get_config(), "seq_len": self.seq_len, "dim": self.dim}

    _POSITION_EMBEDDING.append(PositionEmbedding)
    return PositionEmbedding


def layout_of(layout: str, vocab: int, dim: int) -> tuple[tuple[int, ...], tuple]:
    """(boundaries, ranks) of a layout, within the single SVD's parameter budget."""
    import tflite_lowrank as tl
    from tflite_lowrank.factorization import plan_layout

    rank = tl.rank_for_compression(vocab, dim, COMPRESSION)
    budget = 1.0 - rank * (vocab + dim) / (vocab * dim)
    if layout == "bands1":
        return (), (rank,)
    if layout == "latency":
        plan = plan_layout(vocab, dim, budget, max_lookups=2)
        return plan.boundaries, plan.ranks
    bands = {"bands6": 6, "bands2": 2}[layout]
    allocation = tl.allocate_band_ranks(vocab, dim, budget, bands=bands)
    return allocation.boundaries, allocation.ranks


def compressed(baseline, kind, vocab, dim, seq_len, boundaries, ranks):
    """The baseline with its table replaced by factors of it (same other weights)."""
    import keras

    import tflite_lowrank as tl
    from tflite_lowrank.factorization import banded_svd

    table = keras.ops.convert_to_numpy(baseline.get_layer("embedding").embeddings)
    mask_zero = baseline.get_layer("embedding").mask_zero
    if boundaries:
        layer = tl.BandedLowRankEmbedding(
            vocab, dim, boundaries, ranks, mask_zero=mask_zero, name="embedding"
        )
        factors = banded_svd(table, boundaries, ranks)
    else:
        layer = tl.LowRankEmbedding(
            vocab, dim, ranks[0], mask_zero=mask_zero, name="embedding"
        )
        factors = [tl.truncated_svd(table, ranks[0])]
    model = build(kind, vocab, dim, seq_len, embedding=layer)
    for old, new in zip(baseline.layers, model.layers, strict=True):
        if new is layer:
            layer.set_factors(factors) if boundaries else layer.set_weights(factors[0])
        else:
            new.set_weights(old.get_weights())
    return model


def export(
    name: str, work: Path, layouts: Sequence[str]
) -> tuple[dict, dict, np.ndarray]:
    """Writes every file of one model; returns its description and the rows."""
    import keras

    import tflite_lowrank as tl
    from tflite_lowrank.litert import inspect_model

    kind, vocab, dim, seq_len = MODELS[name]
    keras.utils.set_random_seed(0)
    ids = token_ids(vocab, seq_len)
    baseline = build(kind, vocab, dim, seq_len)
    plans = [("baseline", (), (), baseline)]
    for layout in layouts:
        boundaries, ranks = layout_of(layout, vocab, dim)
        model = compressed(baseline, kind, vocab, dim, seq_len, boundaries, ranks)
        plans.append((layout, boundaries, ranks, model))
    files = {}
    steps = [(plan, mode) for plan in plans for mode in modes()]
    for (layout, boundaries, ranks, model), mode in harness.progress(
        steps, desc=f"{name}: convert", unit="file"
    ):
        path = work / f"{name}_{layout}_{mode}.tflite"
        result = tl.convert_to_tflite(
            model, path, quantization=mode, representative_data=ids, overwrite=True
        )
        info = inspect_model(path.read_bytes())
        files[f"{layout}/{mode}"] = {
            "file": path.name,
            "layout": layout,
            "mode": mode,
            "boundaries": list(boundaries),
            "ranks": list(ranks),
            "code_width": int(sum(ranks)) if ranks else dim,
            "size_bytes": result.size_bytes,
            "embedding_bytes": result.embedding_bytes,
            "ops": list(info.ops),
            "operators": info.num_operators,
            "lookup_tables": [t.to_dict() for t in info.embedding_tables],
            "lookup_scale_bytes": scale_bytes(path.read_bytes()),
            "folded_into": list(result.folded_into),
            "fold_results": [fold.to_dict() for fold in result.fold_results],
            "max_output_difference": result.max_output_difference,
        }
    return {"kind": kind, "vocab": vocab, "dim": dim, "seq_len": seq_len}, files, ids


def scale_bytes(content: bytes) -> int:
    """Bytes of the quantization scales (and zero points) of the gathered tables.

    `inspect_model` counts a table's codes only; a table with one scale per row
    (`"int8_rows"`: a float32 scale and an int64 zero point, `"int4_rows"`: a
    float16 scale tensor) also stores these.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k[0] != "_"}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    total = 0
    for graph in model.subgraphs:
        producers = {int(o): op for op in graph.operators for o in op.outputs}
        for op in graph.operators:
            name = names.get(codes[op.opcodeIndex])
            if name not in ("GATHER", "EMBEDDING_LOOKUP"):
                continue
            index = int(op.inputs[0 if name == "GATHER" else 1])
            source = producers.get(index)
            if source is not None and names.get(codes[source.opcodeIndex]) == (
                "DEQUANTIZE"
            ):
                index = int(source.inputs[0])
            quantization = graph.tensors[index].quantization
            if quantization is None:
                continue
            total += 4 * len(
                quantization.scale if quantization.scale is not None else []
            )
            total += 8 * len(
                quantization.zeroPoint if quantization.zeroPoint is not None else []
            )
            details = quantization.details
            if details is not None and hasattr(details, "scales"):
                data = model.buffers[graph.tensors[details.scales].buffer].data
                total += 0 if data is None else len(data)
    return int(total)


# ---------------------------------------------------------------------- timing


def measure(paths: dict[str, str], ids, args) -> dict[str, list[float]]:
    """p50 (seconds) per file and round, from one child process (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="latency_layouts_") as folder:
        folder = Path(folder)
        np.save(folder / "ids.npy", ids)
        request = {
            "paths": paths,
            "rounds": args.rounds,
            "runs": args.runs,
            "warmup": args.warmup,
            "min_burst_s": args.min_burst_ms / 1e3,
            "progress": not args.no_progress,
        }
        (folder / "request.json").write_text(json.dumps(request))
        command = [sys.executable, "-m", "benchmarks.latency_layouts"]
        subprocess.run(
            [*command, "--child", str(folder)], check=True, cwd=harness.HERE.parent
        )
        return json.loads((folder / "report.json").read_text())


def child(folder: Path) -> None:
    """The measuring process: NumPy and LiteRT only (the package's runner by path)."""
    from tqdm import tqdm

    source = harness.HERE.parent / "tflite_lowrank" / "litert" / "interpreter.py"
    spec = importlib.util.spec_from_file_location("_litert_interpreter", source)
    interpreter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(interpreter)
    request = json.loads((folder / "request.json").read_text())
    rows = [row[None, :] for row in np.load(folder / "ids.npy").astype(np.int32)]
    runners = {
        name: interpreter.Runner(interpreter.make_interpreter(model_path=path))
        for name, path in request["paths"].items()
    }
    for runner in runners.values():
        for index in range(request["warmup"]):
            runner.set_input(rows[index % len(rows)])
            runner.invoke()
    report = {name: [] for name in runners}
    order = np.random.default_rng(0)
    names = list(runners)
    total = request["rounds"] * len(names)
    with tqdm(total=total, desc="timing", disable=not request["progress"]) as bar:
        for _ in range(request["rounds"]):
            for index in order.permutation(len(names)):
                runner, times = runners[names[index]], []
                deadline = time.perf_counter() + request["min_burst_s"]
                while len(times) < request["runs"] or time.perf_counter() < deadline:
                    runner.set_input(rows[len(times) % len(rows)])
                    start = time.perf_counter()
                    runner.invoke()
                    times.append(time.perf_counter() - start)
                report[names[index]].append(float(np.median(times)))
                bar.update()
    (folder / "report.json").write_text(json.dumps(report))


def summarize(files: dict, p50: dict[str, list[float]]) -> None:
    """Adds p50 and the per-round median ratios to each file's entry."""
    reference, peer = np.asarray(p50[BASELINE]), np.asarray(p50[PEER])
    for name, entry in files.items():
        rounds = np.asarray(p50[name])
        entry["p50_us_rounds"] = [1e6 * value for value in rounds]
        entry["p50_us"] = float(1e6 * np.median(rounds))
        entry["ratio_to_float32"] = float(np.median(rounds / reference))
        entry["ratio_to_dynamic"] = float(np.median(rounds / peer))


# ---------------------------------------------------------------------- driver


def settings(args) -> dict:
    return {
        "compression": COMPRESSION,
        "threads": 1,
        "rounds": args.rounds,
        "runs": args.runs,
        "min_burst_ms": args.min_burst_ms,
        "warmup": args.warmup,
        "layouts": list(args.layouts),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    harness.setup_logging()
    report = {"settings": settings(args), "models": {}}
    if args.output.exists() and not args.fresh:
        earlier = json.loads(args.output.read_text(encoding="utf-8"))
        if earlier.get("settings") == report["settings"] or args.report:
            report = earlier
    if not args.report:
        work = Path(tempfile.mkdtemp(prefix="latency_layouts_files_"))
        for name in args.models:
            if name in report["models"]:
                logger.info("%s: kept from %s", name, args.output)
                continue
            description, files, ids = export(name, work, args.layouts)
            paths = {key: str(work / entry["file"]) for key, entry in files.items()}
            p50 = measure(paths, ids, args)
            summarize(files, p50)
            report["models"][name] = {**description, "files": files}
            report["finished_at"] = harness.timestamp()
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    write_markdown(report, args.output.with_suffix(".md"))
    write_plot(report, args.output.with_suffix(".png"))
    return 0


def _operators(entry: dict) -> str:
    """`"31: ADD CAST ..."`: the count (files measured before it was recorded
    give the types only)."""
    types = " ".join(entry["ops"])
    return f"{entry['operators']}: {types}" if "operators" in entry else types


def _cell(entry: dict) -> str:
    return f"{entry['ratio_to_float32']:.2f}x"


def write_markdown(report: dict, path: Path) -> None:
    s = report["settings"]
    lines = [
        f"# Latency by layout and storage (issue 31), LiteRT 1 thread, p = "
        f"{s['compression']}",
        "",
        f"Median over {s['rounds']} interleaved rounds of per-round p50 ratios "
        f"(at least {s['runs']} runs and {s.get('min_burst_ms', 0):g} ms per file "
        "and round). Cells: latency relative to the "
        "float32 baseline; in brackets, relative to post-training dynamic int8 of "
        "the baseline (the fastest peer). From "
        f"`{path.with_suffix('.json').name}`, which also holds each file's "
        "operators, lookup tables and fold decision.",
        "",
    ]
    for name, model in report["models"].items():
        files = model["files"]
        mode_names = list(dict.fromkeys(entry["mode"] for entry in files.values()))
        lines += [
            f"## {name}: V = {model['vocab']:,}, D = {model['dim']}, "
            f"seq_len = {model['seq_len']}",
            "",
            "| layout | ranks | code | folded | " + " | ".join(mode_names) + " |",
            "|---|---|---:|---|" + "---:|" * len(mode_names),
        ]
        for layout in dict.fromkeys(entry["layout"] for entry in files.values()):
            entries = [files[f"{layout}/{mode}"] for mode in mode_names]
            first = entries[0]
            cells = [f"{_cell(e)} ({e['ratio_to_dynamic']:.2f}x)" for e in entries]
            ranks = ",".join(str(k) for k in first["ranks"]) or "full"
            folded = "yes" if first["folded_into"] else "no"
            lines.append(
                f"| {layout} | {ranks} | {first['code_width']} | {folded} | "
                + " | ".join(cells)
                + " |"
            )
        lines += [
            "",
            "| file | bytes | embedding bytes | their scales | p50 (µs) | "
            "operators (count: types) |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for key, entry in files.items():
            lines.append(
                f"| {key} | {entry['size_bytes']:,} | {entry['embedding_bytes']:,} | "
                f"{entry.get('lookup_scale_bytes', 0):,} | {entry['p50_us']:.1f} | "
                f"{_operators(entry)} |"
            )
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def write_plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(report["models"].items())
    if not models:
        return
    figure, axes = plt.subplots(
        1, len(models), figsize=(4.2 * len(models), 4.2), squeeze=False
    )
    for axis, (name, model) in zip(axes[0], models, strict=True):
        files = model["files"]
        layouts = list(dict.fromkeys(e["layout"] for e in files.values()))
        mode_names = list(dict.fromkeys(e["mode"] for e in files.values()))
        width = 0.8 / len(mode_names)
        for position, mode in enumerate(mode_names):
            values = [
                files[f"{layout}/{mode}"]["ratio_to_float32"] for layout in layouts
            ]
            axis.bar(
                np.arange(len(layouts)) + position * width,
                values,
                width,
                label=mode,
            )
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks(np.arange(len(layouts)) + 0.4 - width / 2, layouts, rotation=30)
        axis.set_title(name)
        axis.set_ylabel("p50 / float32 baseline")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
