"""The README's demo over several seeds: the defaults against the opt-in recipes.

The demo (`tflite-lowrank demo`, Rotten Tomatoes, DAN, p = 0.9) is one seed, and on
1,265 test snippets one accuracy has a standard error of about 1.2 points. This
script runs the same command, as a user would (one `tflite-lowrank demo ... --json`
process per run), for `--seeds` and each configuration:

- `default`: no option, the callback's defaults;
- `consumer_fixed`: `--weighting consumer --fixed-basis`, the data-free opt-in for
  models that have nearly stopped improving at the split (`split_probes.md`);
- `calibrated_fixed`: `--calibrate --fixed-basis`, the same with calibration data;
- `lstm_default`: `--model lstm`, the LSTM demo with the callback's defaults (at
  p = 0.9 the recurrent recipe: weighted by the LSTM's input kernel, fixed basis);
- `lstm_plain`: `--model lstm --weighting none`, the same with the plain split (the
  LSTM's default before `weighting="auto"`).

Δ: the LiteRT test accuracy of a file minus that of the float32 baseline of the same
run, in points (both trained from the same initial weights). Rows go to
`results/demo_seeds.jsonl` (resumable: finished runs are skipped) and the summary to
`results/demo_seeds.md`.

```bash
.venv/bin/python -m benchmarks.demo_seeds                 # 25 runs, ~50 min on 2 cores
.venv/bin/python -m benchmarks.demo_seeds --configs lstm_default lstm_plain
.venv/bin/python -m benchmarks.demo_seeds --configs default consumer_fixed --seeds 0 1
.venv/bin/python -m benchmarks.demo_seeds --report
```
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness, stats, store

logger = logging.getLogger("demo_seeds")

OUTPUT = harness.RESULTS / "demo_seeds.jsonl"
CONFIGS = {
    "default": (),
    "consumer_fixed": ("--weighting", "consumer", "--fixed-basis"),
    "calibrated_fixed": ("--calibrate", "--fixed-basis"),
    "lstm_default": ("--model", "lstm"),
    "lstm_plain": ("--model", "lstm", "--weighting", "none"),
}
FILES = ("baseline_dynamic", "compressed_float32", "compressed_dynamic")
KEY = ("study", "config", "seed")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def _command() -> list[str]:
    """`tflite-lowrank` of this interpreter's environment."""
    script = Path(sys.executable).with_name("tflite-lowrank")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tflite_lowrank_cli"]


def run_one(config: str, seed: int) -> dict:
    """One demo run in its own process; returns its row (the run folder is dropped)."""
    work = Path(tempfile.mkdtemp(prefix="demo_seeds_"))
    try:
        completed = subprocess.run(
            [
                *_command(),
                "demo",
                "--seed",
                str(seed),
                *CONFIGS[config],
                "--output-dir",
                str(work / "run"),
                "--no-progress",
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if completed.returncode != 0:
        raise RuntimeError(
            f"demo {config} seed {seed} failed ({completed.returncode}): "
            f"{completed.stderr[-2000:]}"
        )
    results = json.loads(completed.stdout)
    models = results["models"]
    reference = models["baseline_float32"]["accuracy"]
    return {
        "study": "demo_seeds",
        "config": config,
        "seed": seed,
        "baseline_accuracy": reference,
        **{f"{name}_accuracy": models[name]["accuracy"] for name in FILES},
        **{
            f"{name}_delta_points": 100 * (models[name]["accuracy"] - reference)
            for name in FILES
        },
        "compressed_dynamic_bytes": models["compressed_dynamic"]["size_bytes"],
        "factorization": results["training"]["compressed"]["factorization"],
        "seconds": results["stage_seconds"]["total"],
    }


def run(args: argparse.Namespace) -> None:
    wanted = [("demo_seeds", c, s) for s in args.seeds for c in args.configs]
    plan = store.missing(wanted, store.finished_keys(args.output, KEY))
    logger.info("%d runs to do (%s).", len(plan), args.output)
    with harness.progress(
        total=len(plan), unit="run", desc="demo_seeds", disable=args.no_progress
    ) as bar:
        for _, config, seed in plan:
            bar.set_postfix_str(f"{config} seed {seed}")
            row = run_one(config, seed)
            store.append_row(args.output, row)
            logger.info(
                "%s seed %d: int8 file %+.2f points",
                config,
                seed,
                row["compressed_dynamic_delta_points"],
            )
            bar.update()


def summarize(rows: list[dict]) -> list[dict]:
    """Per config: mean and standard error of each file's Δ over the seeds."""
    summary = []
    for config in CONFIGS:
        members = sorted(
            (r for r in rows if r["config"] == config), key=lambda r: r["seed"]
        )
        if not members:
            continue
        entry = {"config": config, "seeds": [r["seed"] for r in members]}
        for name in FILES:
            deltas = [r[f"{name}_delta_points"] for r in members]
            entry[name] = (
                stats.mean(deltas),
                stats.se(deltas),
                min(deltas),
                max(deltas),
            )
        summary.append(entry)
    return summary


def report(rows: list[dict], path: Path) -> None:
    lines = [
        "# The demo over seeds (`benchmarks/demo_seeds.py`)",
        "",
        "`tflite-lowrank demo --seed s [options]`: Rotten Tomatoes, p = 0.9, the DAN "
        "(the LSTM with `--model lstm`), "
        "LiteRT on the 1,265 test snippets. Δ: the file's accuracy minus the float32 "
        "baseline's of the same run, points, mean ± standard error over the seeds "
        "(range in brackets).",
        "",
        "| config | options | seeds | baseline int8 Δ | compressed float32 Δ "
        "| compressed int8 Δ |",
        "|---|---|---|---|---|---|",
    ]

    def cell(values) -> str:
        mean, se, low, high = values
        return f"{mean:+.2f} ± {se:.2f} [{low:+.2f}, {high:+.2f}]"

    for entry in summarize(rows):
        options = " ".join(CONFIGS[entry["config"]]) or "(defaults)"
        lines.append(
            f"| {entry['config']} | `{options}` | {len(entry['seeds'])} | "
            + " | ".join(cell(entry[name]) for name in FILES)
            + " |"
        )
    lines += ["", "Per seed, compressed int8 Δ (points):", ""]
    seeds = sorted({r["seed"] for r in rows})
    lines.append("| config | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    lines.append("|---|" + "---|" * len(seeds))
    for config in CONFIGS:
        by_seed = {
            r["seed"]: r["compressed_dynamic_delta_points"]
            for r in rows
            if r["config"] == config
        }
        if by_seed:
            lines.append(
                f"| {config} | "
                + " | ".join(
                    f"{by_seed[s]:+.2f}" if s in by_seed else "-" for s in seeds
                )
                + " |"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.info("Wrote %s.", path)


def main(argv: Sequence[str] | None = None) -> int:
    harness.setup_logging()
    args = parse_args(argv)
    if not args.report:
        run(args)
    report(store.read_rows(args.output), args.output.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
