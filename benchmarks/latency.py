"""Latency of folded low-rank models against the float baseline, side by side.

The paper's shapes at D = 300: vocabulary 20,000, `seq_len` 40, the LSTM (150 units,
masked mean, softmax) and the DAN (masked mean, 30, 25), p = 0.9 (rank 26). Latency does
not depend on the weights' values, so the models are not trained (random tables).

Variants per model: `baseline` (full table, float32), `baseline_int8` (dynamic-range),
`lowrank` (factors, projection not folded), `folded` (float32), `folded_int8`
(dynamic-range) and `folded_int4` (4-bit table, float32 elsewhere): the paper's
single SVD (`bands=1`); and `banded*`, the same four for the callback's default
frequency bands (`bands="auto"`, the same parameter budget). Every file is
benchmarked in LiteRT with 1 thread in its own process; the variants are interleaved
over `--rounds` rounds and the ratio to the baseline is the median over rounds of the
per-round ratio of medians (so slow phases of a shared machine hit both sides).

Writes `results/latency.json` and `results/latency.md`.

Usage:

```bash
.venv/bin/python -m benchmarks.latency              # ~5 min on 2 cores
```
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness

logger = logging.getLogger("latency")

RESULTS = harness.RESULTS
VOCAB, DIM, SEQ_LEN, COMPRESSION = 20_000, 300, 40, 0.9
VARIANTS = (
    "baseline",
    "baseline_int8",
    "lowrank",
    "folded",
    "folded_int8",
    "folded_int4",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lstm", "dan"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-runs", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS / "latency.json")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def token_ids(rows: int = 64, seed: int = 0) -> np.ndarray:
    """Rows with 5 to 40 real tokens (Zipf-like ids), right-padded with 0."""
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, size=(rows, SEQ_LEN)), VOCAB - 1) + 1
    ids = np.minimum(ids, VOCAB - 1).astype(np.int32)
    for row, length in enumerate(rng.integers(5, SEQ_LEN + 1, size=rows)):
        ids[row, length:] = 0
    return ids


def build_models(model_name: str):
    """(baseline, low-rank, banded, rank) with the same non-embedding weights."""
    import keras

    import tflite_lowrank as tl
    from tflite_lowrank.factorization import DEFAULT_NUM_BANDS, banded_svd

    keras.utils.set_random_seed(0)
    builder = {"dan": tl.build_dan, "lstm": tl.build_lstm}[model_name]
    baseline = builder(VOCAB, 2, seq_len=SEQ_LEN, embedding_dim=DIM)
    rank = tl.rank_for_compression(VOCAB, DIM, COMPRESSION)
    table = keras.ops.convert_to_numpy(baseline.get_layer("embedding").embeddings)
    factor_a, factor_b = tl.truncated_svd(table, rank)
    embedding = baseline.get_layer("embedding")

    def clone(layer):
        if layer is embedding:
            return tl.LowRankEmbedding(
                VOCAB, DIM, rank, mask_zero=True, name="embedding"
            )
        return layer.__class__.from_config(layer.get_config())

    lowrank = keras.models.clone_model(baseline, clone_function=clone)
    for old, new in zip(baseline.layers, lowrank.layers, strict=True):
        new.set_weights([factor_a, factor_b] if old is embedding else old.get_weights())

    # The callback's `bands="auto"` split of this table (6 bands at this size) with
    # the single SVD's parameter budget, `rank * (V + D)`.
    allocation = tl.allocate_band_ranks(
        VOCAB,
        DIM,
        1.0 - rank * (VOCAB + DIM) / (VOCAB * DIM),
        bands=DEFAULT_NUM_BANDS,
        table=table,
    )
    pairs = banded_svd(table, allocation.boundaries, allocation.ranks)
    ranks = [a.shape[1] for a, _ in pairs]

    def clone_banded(layer):
        if layer is embedding:
            return tl.BandedLowRankEmbedding(
                VOCAB,
                DIM,
                allocation.boundaries,
                ranks,
                mask_zero=True,
                name="embedding",
            )
        return layer.__class__.from_config(layer.get_config())

    banded = keras.models.clone_model(baseline, clone_function=clone_banded)
    for old, new in zip(baseline.layers, banded.layers, strict=True):
        if old is embedding:
            new.set_factors(pairs)
        else:
            new.set_weights(old.get_weights())
    return baseline, lowrank, banded, rank


def macs_per_token(model_name: str, rank: int) -> dict:
    """Multiply-adds per token of the embedding-side work (analytic)."""
    units = 150
    if model_name == "lstm":
        recurrent = units * 4 * units
        return {
            "baseline": DIM * 4 * units + recurrent,
            "lowrank": rank * DIM + DIM * 4 * units + recurrent,
            "folded": rank * 4 * units + recurrent,
        }
    # DAN: the mean is taken per token (D or k adds), the first Dense once per text.
    return {"baseline": DIM, "lowrank": rank * DIM, "folded": rank}


def export(model_name: str, work: Path) -> tuple[dict[str, Path], dict]:
    from tflite_lowrank.export import fold_projection, quantize_gather_tables_int4

    baseline, lowrank, banded, rank = build_models(model_name)
    folded = fold_projection(lowrank)
    banded_folded = fold_projection(banded)
    plan = {
        "baseline": (baseline, None),
        "baseline_int8": (baseline, "dynamic"),
        "lowrank": (lowrank, None),
        "folded": (folded, None),
        "folded_int8": (folded, "dynamic"),
        "banded": (banded, None),
        "banded_folded": (banded_folded, None),
        "banded_folded_int8": (banded_folded, "dynamic"),
    }
    paths, info = (
        {},
        {"rank": rank, "band_ranks": [int(k) for k in banded_ranks(banded)]},
    )
    for name, (model, quantization) in plan.items():
        path = work / f"{model_name}_{name}.tflite"
        result = harness.convert(model, path, quantization)
        paths[name] = path
        info[name] = {
            "size_bytes": result.size_bytes,
            "embedding_bytes": result.embedding_bytes,
            "num_op_kinds": len(result.ops),
        }
    for stem in ("folded", "banded_folded"):
        content, tables = quantize_gather_tables_int4(paths[stem].read_bytes())
        paths[f"{stem}_int4"] = work / f"{model_name}_{stem}_int4.tflite"
        paths[f"{stem}_int4"].write_bytes(content)
        info[f"{stem}_int4"] = {
            "size_bytes": len(content),
            "embedding_bytes": sum(t.num_bytes for t in tables),
        }
    return paths, info


def banded_ranks(model) -> list[int]:
    layer = model.get_layer("embedding")
    return [int(a.shape[1]) for a in layer.embeddings_a]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    import tflite_lowrank as tl

    ids = token_ids()
    work = Path(tempfile.mkdtemp(prefix="latency_"))
    report = {
        "vocab_size": VOCAB,
        "dim": DIM,
        "seq_len": SEQ_LEN,
        "compression": COMPRESSION,
        "threads": 1,
        "rounds": args.rounds,
        "num_runs": args.num_runs,
        "models": {},
    }
    for model_name in args.models:
        paths, info = export(model_name, work)
        latencies = {name: [] for name in paths}
        loads = {name: [] for name in paths}
        steps = [(r, name) for r in range(args.rounds) for name in paths]
        for _, name in harness.progress(
            steps, desc=model_name, disable=args.no_progress
        ):
            result = tl.benchmark_tflite(
                paths[name],
                token_ids=ids,
                warmup_runs=20,
                num_runs=args.num_runs,
                progress=False,
            )
            latencies[name].append(result.latency_p50_ms)
            loads[name].append(result.load_time_ms)
        ratios = {
            name: float(
                np.median(
                    np.asarray(latencies[name]) / np.asarray(latencies["baseline"])
                )
            )
            for name in paths
        }
        report["models"][model_name] = {
            "files": info,
            "latency_p50_ms": {k: float(np.median(v)) for k, v in latencies.items()},
            "latency_p50_ms_rounds": latencies,
            "load_time_ms": {k: float(np.median(v)) for k, v in loads.items()},
            "latency_ratio_to_baseline": ratios,
            "macs_per_token": macs_per_token(model_name, info["rank"]),
        }
        logger.info("%s: %s", model_name, ratios)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")
    write_markdown(report, args.output.with_suffix(".md"))
    return 0


def write_markdown(report: dict, path: Path) -> None:
    lines = [
        f"# Latency, LiteRT 1 thread, V = {report['vocab_size']:,}, "
        f"D = {report['dim']}, seq_len = {report['seq_len']}, "
        f"p = {report['compression']} (median of {report['rounds']} interleaved "
        f"rounds x {report['num_runs']} runs)",
        "",
        "| model | variant | file (bytes) | embedding (bytes) | p50 (ms) | "
        "ratio to baseline | load (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for model_name, entry in report["models"].items():
        for name, ratio in entry["latency_ratio_to_baseline"].items():
            files = entry["files"][name]
            lines.append(
                f"| {model_name} | {name} | {files['size_bytes']:,} | "
                f"{files['embedding_bytes']:,} | "
                f"{entry['latency_p50_ms'][name]:.4f} | {ratio:.3f}x | "
                f"{entry['load_time_ms'][name]:.2f} |"
            )
    lines += ["", "Multiply-adds per token (embedding side, analytic):", ""]
    for model_name, entry in report["models"].items():
        lines.append(f"- {model_name}: {entry['macs_per_token']}")
        if "band_ranks" in entry["files"]:
            lines.append(
                f"- {model_name}, `banded*`: band ranks {entry['files']['band_ranks']} "
                f"(the single SVD: rank {entry['files']['rank']})"
            )
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
