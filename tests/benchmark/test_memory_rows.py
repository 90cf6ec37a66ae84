"""The memory `benchmark_tflite` reports belongs to the model, not to the data rows.

Issue 30: the LiteRT child split its rows into one array per row (and collected one
prediction array per row) after it had read its memory baseline, so
`model_memory_bytes` and the peak grew by hundreds of bytes per row.
"""

import numpy as np
import pytest

from tflite_lowrank.benchmark.api import benchmark_tflite

FAST = {"warmup_runs": 1, "num_runs": 5, "progress": False}


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(2, 50, size=(20_000, 5)).astype(np.int32)
    return token_ids, rng.integers(0, 2, size=20_000)


def test_model_memory_does_not_depend_on_the_number_of_rows(tiny_dan_files, rows):
    token_ids, labels = rows
    path = tiny_dan_files / "dan.tflite"
    few = benchmark_tflite(path, token_ids=token_ids[:100], labels=labels[:100], **FAST)
    many = benchmark_tflite(path, token_ids=token_ids, labels=labels, **FAST)
    assert many.num_samples == 20_000 and many.predictions.shape == (20_000,)
    # Before the fix: about 10 MiB more for 20,000 rows (some 500 bytes a row).
    tolerance = 512 * 1024
    assert abs(many.model_memory_bytes - few.model_memory_bytes) < tolerance, (
        few.model_memory_bytes,
        many.model_memory_bytes,
    )
    # The peak holds the rows themselves (400 kB of ids, 160 kB of predictions).
    data_bytes = token_ids.nbytes + 8 * len(token_ids)
    assert many.peak_memory_bytes - few.peak_memory_bytes < data_bytes + tolerance
