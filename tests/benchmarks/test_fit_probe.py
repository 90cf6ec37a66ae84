"""`benchmarks/fit_probe.py`: its table, from constructed rows (no training)."""

from benchmarks import fit_probe


def test_the_table_names_the_best_dev_epoch_and_its_training_accuracy(tmp_path):
    rows = [
        {
            "dataset": "r8",
            "protocol": "user",
            "seed": 0,
            "split_epoch": 3,
            "history": {
                "accuracy": [0.7, 0.93, 0.99],
                "val_accuracy": [0.8, 0.95, 0.94],  # Best at epoch 2.
            },
        },
        {
            "dataset": "r8",
            "protocol": "bench",
            "seed": 0,
            "split_epoch": 2,
            "history": {"accuracy": [0.6, 0.9], "val_accuracy": [0.7, 0.7]},
        },
    ]
    output = tmp_path / "fit_probe.jsonl"
    fit_probe.report(rows, output)
    lines = (tmp_path / "fit_probe.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| r8")]
    # `bench` first (the protocols' order); a tie keeps the earlier epoch.
    assert table == [
        "| r8 | bench | 0 | 0.600, 0.900 | 1 | 0.600 |",
        "| r8 | user | 0 | 0.700, 0.930, 0.990 | 2 | 0.930 |",
    ]
