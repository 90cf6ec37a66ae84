"""Tests for `benchmarks/split_probes.py`: the form rescaling and the paired report."""

import keras
import numpy as np
import pytest

from benchmarks import split_probes as probes
from tflite_lowrank import EmbeddingFactorization


def _model(rng, vocab=300, dim=8):
    inputs = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(vocab, dim, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x_data = rng.integers(0, vocab, size=(64, 5)).astype("int32")
    y_data = rng.integers(0, 2, size=(64,)).astype("int32")
    return model, x_data, y_data


def _factors(model):
    layer = model.get_layer("embedding")
    a_vars, b_vars = layer.embeddings_a, layer.embeddings_b
    if not isinstance(a_vars, list):
        a_vars, b_vars = [a_vars], [b_vars]
    return [(np.asarray(a), np.asarray(b)) for a, b in zip(a_vars, b_vars, strict=True)]


class _Capture(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch, self.factors = at_epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            self.factors = _factors(self.model)


@pytest.mark.integration  # trains a tiny model through the split
@pytest.mark.parametrize("bands", [1, 3])
@pytest.mark.parametrize("form", ["balanced", "table_scale"])
def test_rescaling_keeps_each_product_and_moves_the_singular_values(bands, form, rng):
    model, x, y = _model(rng)
    split = EmbeddingFactorization(
        "embedding", compression=0.5, at_epoch=1, bands=bands, verbose=0
    )
    before = _Capture(1)
    after = _Capture(1)
    rescale = probes._rescale_callback(1, probes.FORMS[form])
    # Epoch 1 begins: split, capture the paper's factors, rescale, capture again.
    model.fit(x, y, epochs=2, verbose=0, callbacks=[split, before, rescale, after])
    assert len(before.factors) == bands
    power = probes.FORMS[form]
    for (a0, b0), (a1, b1) in zip(before.factors, after.factors, strict=True):
        np.testing.assert_allclose(a1 @ b1, a0 @ b0, rtol=1e-4, atol=1e-5)
        s = np.linalg.norm(b0, axis=1)
        np.testing.assert_allclose(
            np.linalg.norm(b1, axis=1), s ** (1 - power), rtol=1e-4
        )


def _row(dataset, seed, method, dev, test, step0=None):
    return {
        "dataset": dataset,
        "seed": seed,
        "method": method,
        "dev_accuracy": dev,
        "test_accuracy": test,
        "step0_dev_accuracy": step0,
    }


def test_report_pairs_by_seed_with_the_baseline(tmp_path):
    rows = [
        _row("r8", 0, "baseline", 0.90, 0.91),
        _row("r8", 1, "baseline", 0.80, 0.81),
        _row("r8", 0, "form:paper", 0.89, 0.90, 0.70),
        _row("r8", 1, "form:paper", 0.77, 0.80, 0.72),
        _row("r8", 0, "form:balanced", 0.92, 0.90),  # seed 1 unfinished
    ]
    path = tmp_path / "split_probes.md"
    probes.report(rows, path)
    lines = {line.split("|")[2].strip(): line for line in path.read_text().splitlines()
             if line.startswith("| R8")}  # fmt: skip
    # paper: dev deltas -1, -3 -> mean -2.00, standard error 1.00.
    assert "| 2 | 71.0 | -2.00 ± 1.00 |" in lines["`form:paper`"]
    # balanced: only seed 0 is paired.
    assert "| 1 | - | +2.00 |" in lines["`form:balanced`"]
    assert "85.00 (abs.)" in lines["`baseline`"]
    selection = path.read_text().split("## Selection")[1]
    # Better on dev (+2 > -2) but on one seed of two: not a candidate, so the
    # default is the pick; test is shown for the pick ((-1 - 1) / 2) only.
    assert "| `form:paper` (dev pick) | 2 | -2.00 | -1.00 |" in selection
    assert "| `form:balanced` | 1 | +2.00 | - |" in selection


def test_each_method_runs_once_per_budget_and_the_baseline_once():
    assert probes._planned("baseline", (0.5, 0.8)) == [("baseline", None)]
    assert probes._planned("form:paper", (0.5, 0.8)) == [
        ("form:paper", 0.5),
        ("form:paper", 0.8),
    ]
    # The key tells budgets apart; rows from before `p` was recorded keep theirs.
    row = _row("r8", 0, "form:paper", 0.9, 0.9)
    assert probes._key({**row, "p": 0.5}) != probes._key({**row, "p": 0.9})
    assert probes._budget(row) == probes.P
    assert probes._budget(_row("r8", 0, "baseline", 0.9, 0.9)) is None


def test_report_has_one_section_per_budget_against_the_same_baseline(tmp_path):
    rows = [
        _row("r8", 0, "baseline", 0.90, 0.91),
        {**_row("r8", 0, "form:paper", 0.89, 0.90), "p": 0.9},
        {**_row("r8", 0, "form:paper", 0.93, 0.92), "p": 0.5},
        {**_row("r8", 0, "form:balanced", 0.95, 0.90), "p": 0.5},
    ]
    path = tmp_path / "split_probes.md"
    probes.report(rows, path)
    text = path.read_text()
    first, second = text.split("## Δ dev at `compression=")[1:]
    assert first.startswith("0.9`") and second.startswith("0.5`")  # default first
    assert "| R8 | `form:paper` | 1 | - | -1.00 |" in first
    assert "form:balanced" not in first
    assert "| R8 | `form:paper` | 1 | - | +3.00 |" in second
    assert "| `form:balanced` (dev pick) | 1 | +5.00 | -1.00 |" in second


def test_selection_lists_every_method_on_dev_and_test_only_for_two(tmp_path):
    rows = [
        _row("r8", 0, "baseline", 0.90, 0.91),
        _row("r8", 0, "form:paper", 0.89, 0.90),
        _row("r8", 0, "basis:fixed", 0.92, 0.95),
        _row("r8", 0, "form:balanced", 0.91, 0.99),
    ]
    path = tmp_path / "split_probes.md"
    probes.report(rows, path)
    selection = path.read_text().split("## Selection")[1].splitlines()
    table = [line for line in selection if line.startswith("| `")]
    # Sorted by dev; test read for the pick and the default only.
    assert table == [
        "| `basis:fixed` (dev pick) | 1 | +2.00 | +4.00 |",
        "| `form:balanced` | 1 | +1.00 | - |",
        "| `form:paper` | 1 | -1.00 | -1.00 |",
    ]


@pytest.mark.parametrize(
    ("method", "parsed"),
    [
        ("form:balanced", ("form", "balanced", "")),
        ("basis:fixed+baseline_calr", ("basis", "fixed", "baseline_calr")),
        ("form:paper+calr_3e-3", ("form", "paper", "calr_3e-3")),
        # The "+" of the split epoch is the offset's sign, not a schedule.
        ("split_epoch:+1", ("split_epoch", "+1", "")),
    ],
)
def test_method_names_parse_into_probe_variant_and_schedule(method, parsed):
    assert probes.parse_method(method) == parsed
    assert method in probes.METHODS
