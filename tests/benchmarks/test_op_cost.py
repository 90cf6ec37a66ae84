"""Tests for the pure pieces of `benchmarks/op_cost.py` (nothing is timed)."""

import pytest

from benchmarks import op_cost


def test_fit_recovers_a_line():
    points = [(ops, 0.25 + 0.3 * ops) for ops in (2, 4, 6, 10, 23)]
    fitted = op_cost.fit(points)
    assert fitted["call_us"] == pytest.approx(0.25, abs=1e-9)
    assert fitted["per_operator_us"] == pytest.approx(0.3, abs=1e-9)


def test_cases_cover_gathers_clamps_and_the_layouts():
    cases = op_cost.cases()
    assert [f"gathers_{g}" for g in op_cost.GATHERS] == [
        name for name in cases if name.startswith("gathers_")
    ]
    assert all(cases[f"clamps_{e}"]["clamps"] == e for e in op_cost.CLAMPS)
    for layout in op_cost.LAYOUTS:
        assert len(cases[layout]["ranks"]) == len(cases[layout]["boundaries"]) + 1


def test_the_banded_case_is_the_package_lookup():
    import numpy as np

    case = op_cost.cases()["bands2"]
    function = op_cost.graph(case, 7)
    ids = np.array([[0, 1, case["boundaries"][0], op_cost.VOCAB - 1, 3, 4, 5]], "int32")
    assert tuple(function(ids).shape) == (1, sum(case["ranks"]))


def test_markdown_has_a_row_per_case_and_a_fit_per_length(tmp_path):
    entry = {"operators": 3, "p50_us": 1.0}
    report = {
        "settings": {"vocab": 10, "rounds": 2, "runs": 5, "threads": 1},
        "lengths": {
            str(length): {
                "cases": {"gathers_1": entry, "bands2": {**entry, "ranks": [4, 2]}},
                "fit": {"call_us": 0.1, "per_operator_us": 0.3},
            }
            for length in (40, 256)
        },
    }
    path = tmp_path / "op_cost.md"
    op_cost.write_markdown(report, path)
    text = path.read_text()
    assert "| bands2 | 4,2 | 3 | 1.00 | 1.00 |" in text
    assert "| 256 | 0.10 | 0.30 |" in text
