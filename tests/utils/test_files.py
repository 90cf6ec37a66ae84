"""The file helpers of `tflite_lowrank.utils.files`."""

import os

import pytest

from tflite_lowrank.utils.files import (
    check_input_file,
    check_output_file,
    write_atomically,
    write_tsv,
)


def test_write_tsv_keeps_one_line_per_row(tmp_path):
    path = tmp_path / "test.tsv"
    count = write_tsv(path, [("fresh", "a\tb\r\nc"), ("rotten", "plain")])
    assert count == 2
    assert path.read_bytes() == b"fresh\ta b  c\nrotten\tplain\n"


def test_check_input_file(tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(b"x")
    assert check_input_file(str(model), suffix=".keras", name="model") == model
    with pytest.raises(FileNotFoundError, match=r"existing `\.keras` file.*model="):
        check_input_file(tmp_path / "missing.keras", suffix=".keras", name="model")
    other = tmp_path / "model.h5"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"`model` must be a `\.keras` file \(v3\)"):
        check_input_file(other, suffix=".keras", name="model", hint=" (v3)")
    with pytest.raises(TypeError, match="Received: model=3"):
        check_input_file(3, suffix=".keras", name="model")


def test_check_output_file_and_write_atomically(tmp_path):
    path = check_output_file(
        tmp_path / "out.png", suffix=".png", name="path", overwrite=False
    )
    write_atomically(
        path, lambda temporary: open(temporary, "w").close(), overwrite=False
    )
    assert sorted(os.listdir(tmp_path)) == ["out.png"]
    with pytest.raises(FileExistsError, match="overwrite=False"):
        check_output_file(path, suffix=".png", name="path", overwrite=False)
    with pytest.raises(ValueError, match=r"must end in `\.png`"):
        check_output_file(
            tmp_path / "x.jpg", suffix=".png", name="path", overwrite=True
        )
