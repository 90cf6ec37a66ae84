"""`tflite-lowrank convert`: the last input checks of issue 30, in process (`cli`).

- a `--vocab` whose size differs from the model's token table is refused, as
  `benchmark` and `compare` refuse it (one check: `inputs._load_data(tables=...)`);
- a module given to `--import` that calls `sys.exit()` or raises while it is imported
  is one error line naming the module and the flag, exit 2.
"""

import shutil
import sys

import pytest

TINY_VOCAB = 50  # tests/conftest.py: tiny_dan_files

WORDS = [f"w{index}" for index in range(TINY_VOCAB - 2)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tiny_dan_files):
    folder = tmp_path_factory.mktemp("convert_checks")
    shutil.copy(tiny_dan_files / "dan.keras", folder / "dan.keras")
    words = ["<pad>", "<unk>", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    (folder / "small_vocab.txt").write_text("\n".join(words[:-5]) + "\n")
    (folder / "large_vocab.txt").write_text("\n".join([*words, "extra"]) + "\n")
    (folder / "data.tsv").write_text("1\tw1 w2 w3\n0\tw7 unknown w9\n1\tw10\n")
    return folder


def error_line(completed) -> str:
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    return completed.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("vocab", "size"),
    [("small_vocab.txt", TINY_VOCAB - 5), ("large_vocab.txt", TINY_VOCAB + 1)],
)
@pytest.mark.parametrize("flag", ["--check-data", "--representative-data"])
def test_convert_refuses_a_vocab_of_another_size(
    folder, tmp_path, cli, vocab, size, flag
):
    output = tmp_path / "never.tflite"
    completed = cli(
        "convert", folder / "dan.keras", output, flag, folder / "data.tsv",
        "--vocab", folder / vocab,
    )  # fmt: skip
    line = error_line(completed)
    for text in ("--vocab", f"{size} tokens", f"{TINY_VOCAB} rows", vocab, "dan.keras"):
        assert text in line, line
    assert not output.exists()


def test_convert_accepts_the_vocab_of_the_model(folder, tmp_path, cli):
    output = tmp_path / "dan.tflite"
    completed = cli(
        "convert", folder / "dan.keras", output, "--check-data", folder / "data.tsv",
        "--vocab", folder / "vocab.txt",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert output.is_file()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("import sys\nsys.exit()\n", "SystemExit"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("import sys\nsys.exit('no GPU here')\n", "no GPU here"),
        ("raise RuntimeError('missing setting')\n", "RuntimeError: missing setting"),
        ("raise KeyError('API_KEY')\n", "KeyError: 'API_KEY'"),
        ("def broken(:\n", "SyntaxError"),
    ],
    ids=["exit", "exit-code", "exit-message", "raises", "key-error", "syntax"],
)
def test_convert_import_of_a_module_that_exits_or_raises(
    folder, tmp_path, cli, body, expected
):
    module = "tflite_lowrank_test_hostile_import"
    (tmp_path / f"{module}.py").write_text(body)
    output = tmp_path / "never.tflite"
    try:
        completed = cli(
            "convert", folder / "dan.keras", output, "--import", module, cwd=tmp_path
        )
    finally:
        sys.modules.pop(module, None)
    line = error_line(completed)
    assert f"importing {module} (--import) failed" in line, line
    assert expected in line, line
    assert f"Received: --import='{module}'" in line, line
    assert not output.exists()
