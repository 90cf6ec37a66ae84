"""The committed reports regenerate byte for byte from the committed rows.

Each case runs a script's report-only mode as a user does (`python -m
benchmarks.<script>` from the repository root, in a child process) on a copy of its
committed JSON lines and compares what it writes with `benchmarks/results/`.
Left out: `recipe_study.md` and the archived `frontier_*calr_peak*` files, which
earlier versions of their scripts wrote (their wording differs; the numbers do not).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"

CASES = {
    # id: (script, inputs copied, arguments, outputs compared)
    "frontier": (
        "frontier",
        ["frontier.jsonl"],
        ["--report", "--output", "{tmp}/frontier.jsonl"],
        ["frontier.md", "frontier_summary.json"],
    ),
    "frontier_lstm": (
        "frontier",
        ["frontier_lstm.jsonl"],
        ["--report", "--output", "{tmp}/frontier_lstm.jsonl"],
        ["frontier_lstm.md", "frontier_lstm_summary.json"],
    ),
    "peers": (
        "peers",
        ["peers.jsonl"],
        ["--report", "--output", "{tmp}/peers.jsonl"],
        ["peers.md", "peers_summary.json"],
    ),
    "calr_budget": (
        "calr_budget",
        ["calr_budget.jsonl"],
        ["--report", "--output", "{tmp}/calr_budget.jsonl"],
        ["calr_budget.md"],
    ),
    "calibration_study": (
        "calibration_study",
        ["calibration_study.jsonl"],
        ["--report", "--output", "{tmp}/calibration_study.jsonl"],
        ["calibration_study.md", "calibration_study.json"],
    ),
    "fit_probe": (
        "fit_probe",
        ["fit_probe.jsonl"],
        ["--report", "--output", "{tmp}/fit_probe.jsonl"],
        ["fit_probe.md"],
    ),
    "demo_seeds": (
        "demo_seeds",
        ["demo_seeds.jsonl"],
        ["--report", "--output", "{tmp}/demo_seeds.jsonl"],
        ["demo_seeds.md"],
    ),
    "demo_seeds_current": (
        "demo_seeds",
        ["demo_seeds_current.jsonl"],
        ["--report", "--output", "{tmp}/demo_seeds_current.jsonl"],
        ["demo_seeds_current.md"],
    ),
    "demo_seeds_split_last": (
        "demo_seeds",
        ["demo_seeds_split_last.jsonl"],
        ["--report", "--output", "{tmp}/demo_seeds_split_last.jsonl"],
        ["demo_seeds_split_last.md"],
    ),
    "split_probes": (
        "split_probes",
        ["split_probes.jsonl"],
        ["--report", "--output", "{tmp}/split_probes.jsonl"],
        ["split_probes.md"],
    ),
    "split_probes_lstm": (
        "split_probes",
        ["split_probes_lstm.jsonl"],
        ["--report", "--model", "lstm", "--output", "{tmp}/split_probes_lstm.jsonl"],
        ["split_probes_lstm.md"],
    ),
    "pipelines": (
        "pipelines",
        ["pipelines.jsonl"],
        ["--report", "--output", "{tmp}/pipelines.jsonl"],
        ["pipelines.md", "pipelines_summary.json"],
    ),
    "unseen_model": (
        "unseen_model",
        ["unseen_model.jsonl"],
        ["--report", "--output", "{tmp}/unseen_model.jsonl"],
        ["unseen_model.md", "unseen_model.json"],
    ),
    "unseen_model_current": (
        "unseen_model",
        ["unseen_model_current.jsonl"],
        ["--report", "--output", "{tmp}/unseen_model_current.jsonl"],
        ["unseen_model_current.md", "unseen_model_current.json"],
    ),
    "op_cost": (
        "op_cost",
        ["op_cost.json"],
        ["--report", "--output", "{tmp}/op_cost.json"],
        ["op_cost.md"],
    ),
    "split_defaults": (
        "split_defaults",
        ["split_defaults.json"],
        ["--summarize", "--output", "{tmp}/split_defaults"],
        ["split_defaults.md"],
    ),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(CASES))
def test_report_mode_regenerates_the_committed_files(case, tmp_path):
    script, inputs, arguments, outputs = CASES[case]
    for name in inputs:
        shutil.copy(RESULTS / name, tmp_path / name)
    command = [sys.executable, "-m", f"benchmarks.{script}"]
    command += [argument.format(tmp=tmp_path) for argument in arguments]
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    for name in outputs:
        assert (tmp_path / name).read_bytes() == (RESULTS / name).read_bytes(), name


@pytest.mark.integration
def test_report_py_regenerates_reproduce_md(tmp_path):
    for name in ("reproduce.jsonl", "lr_study.jsonl", "recipe_check.jsonl"):
        shutil.copy(RESULTS / name, tmp_path / name)
    command = [sys.executable, "-m", "benchmarks.report"]
    command += ["--grid", str(tmp_path / "reproduce.jsonl")]
    command += ["--lr", str(tmp_path / "lr_study.jsonl"), "--out-dir", str(tmp_path)]
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    expected = (RESULTS / "reproduce.md").read_bytes()
    assert (tmp_path / "reproduce.md").read_bytes() == expected
