"""What a small LiteRT file's latency is made of: a cost per operator.

Issue 31 asks the default split's files to be no slower than the float32 baseline.
`latency_layouts.py` measures whole models; this script measures the parts, to say
which layouts can meet that target at all. Every case is a tiny graph on one row
of `T` token ids (a 17,079-row vocabulary, the README demo's), converted with the
TensorFlow Lite converter and timed in LiteRT at 1 thread:

- `gathers_g` (g = 1, 2, 4, 6, 8): `g` GATHERs of 17,079 x 5 float32 tables at the
  raw ids, concatenated, summed over the tokens: the cost of one more lookup;
- `clamps_e` (e = 2, 4, 8): one GATHER after `e` int32 `MAXIMUM`/`MINIMUM` ops with
  scalar bounds (the id arithmetic of a band): the cost of one more small operator;
- `bands1`, `bands2`, `bands6`, `latency`: the banded inference lookup itself
  (`tflite_lowrank.layers.lookup.lookup_codes`) with the layouts of
  `latency_layouts.py` at p = 0.9, then the same sum.

Each case is timed at `T` = 40 (the demo's length) and 256. A least-squares fit per
`T` of p50 against the file's operator count gives the cost of one operator and the
fixed cost of a call. Timing as in `latency_layouts.py` (one child process, rounds
in random order, medians); the fit uses the median over rounds.

Writes `results/op_cost.json` and `results/op_cost.md`. `--report` rewrites the
Markdown from the JSON.

Usage:

```bash
.venv/bin/python -m benchmarks.op_cost              # ~3 min
.venv/bin/python -m benchmarks.op_cost --report
```
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import harness, latency_layouts

logger = logging.getLogger("op_cost")

OUTPUT = harness.RESULTS / "op_cost.json"
VOCAB, DIM = 17_079, 50
LENGTHS = (40, 256)
GATHERS = (1, 2, 4, 6, 8)
CLAMPS = (2, 4, 8)
LAYOUTS = ("bands1", "bands2", "bands6", "latency")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--min-burst-ms", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", action="store_true", help="Markdown only")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def cases() -> dict[str, dict]:
    """Case name -> what it holds (gathers, clamps or a layout)."""
    described = {f"gathers_{g}": {"gathers": g, "clamps": 0} for g in GATHERS}
    described |= {f"clamps_{e}": {"gathers": 1, "clamps": e} for e in CLAMPS}
    for layout in LAYOUTS:
        boundaries, ranks = latency_layouts.layout_of(layout, VOCAB, DIM)
        described[layout] = {
            "layout": layout,
            "boundaries": [int(b) for b in boundaries],
            "ranks": [int(r) for r in ranks],
        }
    return described


def graph(case: dict, length: int):
    """The case as a `tf.function` of int32 ids `(1, length)`."""
    import tensorflow as tf

    from tflite_lowrank.factorization.bands import band_slices
    from tflite_lowrank.layers.lookup import lookup_codes

    rng = np.random.default_rng(0)
    spec = [tf.TensorSpec((1, length), tf.int32)]
    if "layout" in case:
        # `lookup_codes` pads the band tables itself: give it the unpadded ones.
        bands = band_slices(VOCAB, case["boundaries"])
        tables = [
            rng.standard_normal((band.stop - band.start, k)).astype("float32")
            for band, k in zip(bands, case["ranks"], strict=True)
        ]

        @tf.function(input_signature=spec)
        def banded(ids):
            codes = lookup_codes(
                ids, VOCAB, case["boundaries"], case["ranks"], tables, "float32"
            )
            return tf.reduce_sum(codes, axis=1)

        return banded
    tables = [
        rng.standard_normal((VOCAB, 5)).astype("float32")
        for _ in range(case["gathers"])
    ]

    @tf.function(input_signature=spec)
    def plain(ids):
        rows = ids
        for index in range(case["clamps"]):
            if index % 2:
                rows = tf.minimum(rows, VOCAB - 1 - index)
            else:
                rows = tf.maximum(rows, index)
        codes = [tf.gather(table, rows) for table in tables]
        codes = codes[0] if len(codes) == 1 else tf.concat(codes, axis=-1)
        return tf.reduce_sum(codes, axis=1)

    return plain


def convert(function) -> bytes:
    """The function as a `.tflite` file with a `serving_default` signature."""
    import tensorflow as tf

    module = tf.Module()
    module.call = function
    with tempfile.TemporaryDirectory(prefix="op_cost_saved_") as folder:
        tf.saved_model.save(module, folder, signatures={"serving_default": function})
        return tf.lite.TFLiteConverter.from_saved_model(folder).convert()


def fit(points: list[tuple[int, float]]) -> dict[str, float]:
    """Least squares `p50 = call + per_operator * operators` (microseconds).

    >>> fit([(1, 1.0), (3, 2.0), (5, 3.0)])
    {'call_us': 0.5, 'per_operator_us': 0.5}
    """
    operators = np.array([p[0] for p in points], dtype=float)
    p50 = np.array([p[1] for p in points], dtype=float)
    design = np.stack([np.ones_like(operators), operators], axis=1)
    (call, per_operator), *_ = np.linalg.lstsq(design, p50, rcond=None)
    return {
        "call_us": round(float(call), 4),
        "per_operator_us": round(float(per_operator), 4),
    }


def run(args) -> dict:
    from tflite_lowrank.litert.flatbuffer import inspect_model

    described = cases()
    report = {
        "settings": {
            "vocab": VOCAB,
            "rounds": args.rounds,
            "runs": args.runs,
            "min_burst_ms": args.min_burst_ms,
            "threads": 1,
        },
        "lengths": {},
    }
    with tempfile.TemporaryDirectory(prefix="op_cost_") as folder:
        for length in LENGTHS:
            paths, entries = {}, {}
            for name, case in described.items():
                content = convert(graph(case, length))
                path = Path(folder) / f"{name}_{length}.tflite"
                path.write_bytes(content)
                info = inspect_model(content)
                paths[name] = str(path)
                entries[name] = {
                    **case,
                    "operators": info.num_operators,
                    "op_counts": dict(info.op_counts),
                    "bytes": len(content),
                }
            ids = latency_layouts.token_ids(VOCAB, length)
            p50 = latency_layouts.measure(paths, ids, args)
            for name, rounds in p50.items():
                entries[name]["p50_us_rounds"] = [1e6 * v for v in rounds]
                entries[name]["p50_us"] = float(1e6 * np.median(rounds))
            report["lengths"][str(length)] = {
                "cases": entries,
                "fit": fit([(e["operators"], e["p50_us"]) for e in entries.values()]),
            }
    report["finished_at"] = harness.timestamp()
    return report


def write_markdown(report: dict, path: Path) -> None:
    settings = report["settings"]
    lines = [
        "# What a small LiteRT file's latency is made of (`benchmarks/op_cost.py`)",
        "",
        f"Tiny graphs on one row of token ids (vocabulary {settings['vocab']:,}), "
        f"LiteRT at {settings['threads']} thread, p50 in µs (median over "
        f"{settings['rounds']} rounds in random order, at least {settings['runs']} "
        "runs per round). `gathers_g`: g GATHERs of 5-wide float32 tables at the raw "
        "ids; `clamps_e`: one GATHER after e int32 MAXIMUM/MINIMUM ops; `bands*`, "
        "`latency`: the banded inference lookup (`lookup_codes`) with the layouts of "
        "`latency_layouts.py`; every case then sums over the tokens. Fit: least "
        "squares of p50 on the operator count.",
        "",
        "| case | ranks | operators | "
        + " | ".join(f"p50 at T = {length} (µs)" for length in report["lengths"])
        + " |",
        "|---|---|---:|" + "---:|" * len(report["lengths"]),
    ]
    first = next(iter(report["lengths"].values()))["cases"]
    for name, entry in first.items():
        cells = [
            f"{report['lengths'][length]['cases'][name]['p50_us']:.2f}"
            for length in report["lengths"]
        ]
        ranks = ",".join(map(str, entry.get("ranks", []))) or "–"
        lines.append(
            f"| {name} | {ranks} | {entry['operators']} | " + " | ".join(cells) + " |"
        )
    lines += ["", "| T | fixed cost of a call (µs) | cost per operator (µs) |"]
    lines.append("|---:|---:|---:|")
    for length, entry in report["lengths"].items():
        lines.append(
            f"| {length} | {entry['fit']['call_us']:.2f} | "
            f"{entry['fit']['per_operator_us']:.2f} |"
        )
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_logging()
    if not args.report:
        report = run(args)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    report = json.loads(args.output.read_text(encoding="utf-8"))
    write_markdown(report, args.output.with_suffix(".md"))
    logger.info("wrote %s", args.output.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
