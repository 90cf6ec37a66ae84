"""The shared argument checks of `tflite_lowrank.utils.checks`."""

import numpy as np
import pytest

from tflite_lowrank.utils.checks import (
    check_compression,
    check_energy,
    check_fraction,
    check_int,
)


@pytest.mark.parametrize(
    "value", [0.9, np.float32(0.9), np.float64(0.9), 0.5, np.float16(0.5)]
)
def test_check_compression_accepts_python_and_numpy_floats(value):
    result = check_compression(value)
    assert type(result) is float
    assert result == pytest.approx(float(value))


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (1.0, ValueError, r"must be in \(0, 1\): the fraction of the embedding's "),
        (0, ValueError, r"Received: compression=0$"),
        (np.float32(1.5), ValueError, r"Received: compression=1\.5$"),
        (float("nan"), ValueError, r"Received: compression=nan$"),
        (True, TypeError, r"Received: compression=True \(of type bool\)"),
        (np.bool_(True), TypeError, r"\(of type bool"),
        ("0.9", TypeError, r"must be a float in \(0, 1\). Received: compression='0.9'"),
        (None, TypeError, r"Received: compression=None"),
    ],
)
def test_check_compression_rejects_with_the_received_value(value, error, match):
    with pytest.raises(error, match=match):
        check_compression(value)


def test_check_fraction_closed_interval_includes_one():
    assert check_energy(1.0) == 1.0
    assert check_energy(np.float32(0.25)) == 0.25
    with pytest.raises(ValueError, match=r"`energy` must be in \(0, 1\]: "):
        check_energy(0.0)
    with pytest.raises(ValueError, match=r"`p` must be in \(0, 1\)\. Received: p=1"):
        check_fraction("p", 1)


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_int_accepts_numpy_integers_and_returns_int(value):
    result = check_int("epochs", value, minimum=2)
    assert type(result) is int and result == 3


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (1, ValueError, r"`epochs` must be >= 2\. Received: epochs=1"),
        (2.0, TypeError, r"Received: epochs=2\.0 \(of type float\)"),
        (True, TypeError, r"Received: epochs=True"),
        (np.bool_(True), TypeError, r"must be an integer"),
    ],
)
def test_check_int_rejects(value, error, match):
    with pytest.raises(error, match=match):
        check_int("epochs", value, minimum=2)
