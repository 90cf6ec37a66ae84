"""The file helpers of `tflite_lowrank.utils.files`."""

import errno
import os

import pytest

from tflite_lowrank.utils import files
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


def test_write_atomically_writes_a_name_at_the_255_byte_limit(tmp_path):
    path = tmp_path / ("m" * (255 - len(".tflite")) + ".tflite")
    write_atomically(
        path, lambda temporary: open(temporary, "wb").close(), overwrite=True
    )
    assert os.listdir(tmp_path) == [path.name]


def test_write_atomically_removes_temporaries_of_a_killed_writer(tmp_path):
    import subprocess
    import sys

    # A writer killed (SIGKILL) in the middle of `write` leaves its temporary file.
    script = (
        "import os, signal, sys; from pathlib import Path; "
        "from tflite_lowrank.utils.files import write_atomically; "
        "write_atomically(Path(sys.argv[1]), "
        "lambda t: (open(t, 'wb').write(b'x'), os.kill(os.getpid(), 9)), "
        "overwrite=False)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "a.tflite")], check=False
    )
    assert completed.returncode != 0
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    write_atomically(
        tmp_path / "b.tflite", lambda t: open(t, "wb").close(), overwrite=False
    )
    assert os.listdir(tmp_path) == ["b.tflite"]


def test_check_output_file_refuses_an_unwritable_folder_before_any_work(
    tmp_path, monkeypatch
):
    # As root, chmod does not stop writes, so the folder's refusal (a read-only file
    # system or a folder without write permission) is simulated where it surfaces.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(
        PermissionError, match="folder of `path` is not writable"
    ) as info:
        files.check_output_file(
            tmp_path / "model.tflite", suffix=".tflite", name="path", overwrite=False
        )
    assert "Read-only file system" in str(info.value)
    assert f"Received: path={str(tmp_path / 'model.tflite')!r}" in str(info.value)


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EROFS, errno.EACCES], ids=["full", "ro", "denied"]
)
def test_write_atomically_names_the_output_not_the_temporary_on_a_write_error(
    tmp_path, code
):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")

    def fail(temporary):
        with open(temporary, "wb") as file:
            file.write(b"partial")
        raise OSError(code, os.strerror(code))

    with pytest.raises(OSError) as info:
        files.write_atomically(target, fail, overwrite=True)
    message = str(info.value)
    assert str(target) in message and os.strerror(code) in message
    assert ".tmp" not in message
    assert info.value.errno == code
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_write_atomically_keeps_other_errors_of_the_writer(tmp_path):
    def fail(temporary):
        raise FileNotFoundError(errno.ENOENT, "no such input", "input.keras")

    with pytest.raises(FileNotFoundError, match="no such input"):
        files.write_atomically(tmp_path / "out.tflite", fail, overwrite=False)
    assert not list(tmp_path.iterdir())
