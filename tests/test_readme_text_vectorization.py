"""The README's Keras `TextVectorization` pipeline, run exactly as written.

The section's Python block (train with `TextVectorization` on a `tf.data` input, split
with `EmbeddingFactorization`, convert, export the vocabulary) and its bash block
(`tflite-lowrank compare` and `benchmark` with `--tokenizer text_vectorization`) run
in a fresh folder on a few dozen made-up sentences (integration tier).
"""

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Models trained with Keras `TextVectorization`"

GOOD = ["great", "moving", "brilliant", "funny", "gripping", "lovely"]
BAD = ["dull", "tiresome", "clumsy", "boring", "messy", "lifeless"]
THINGS = ["film", "plot", "cast", "script", "ending"]
TEST = (
    ("fresh", "NASA's Hubble-telescope isn't dead! A GREAT, moving film."),
    ("rotten", "“Dull” — a tiresome, clumsy mess…"),
    ("fresh", "Café\tbrilliant   script\nand a lovely cast 🎬"),
    ("rotten", "boring-boring plot; lifeless ending"),
    ("fresh", "funny"),
    ("rotten", "東京 messy"),
)


def readme_blocks() -> list[tuple[str, str]]:
    """The (language, code) blocks of the README's TextVectorization section."""
    text = (ROOT / "docs" / "text-vectorization-and-kerashub.md").read_text(
        encoding="utf-8"
    )
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _write_data(folder: Path) -> None:
    lines = []
    for (good, bad), thing in itertools.product(zip(GOOD, BAD, strict=True), THINGS):
        lines.append(f"fresh\tA {good} {thing}, really {good}!")
        lines.append(f"rotten\tThe {thing} is {bad}; so {bad}.")
    (folder / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Tabs and newlines inside a text would break the .tsv: they become spaces.
    test = "".join(
        f"{label}\t{text.replace(chr(9), ' ').replace(chr(10), ' ')}\n"
        for label, text in TEST
    )
    (folder / "test.tsv").write_text(test, encoding="utf-8")
    (folder / "labels.txt").write_text("rotten\nfresh\n", encoding="utf-8")


def test_readme_section_has_the_python_and_the_bash_block():
    blocks = readme_blocks()
    assert [language for language, _ in blocks] == ["python", "bash"]
    python, bash = (code for _, code in blocks)
    assert "Tokenizer.from_text_vectorization" in python
    assert "EmbeddingFactorization" in python and "tf.data" in python
    assert bash.count("--tokenizer text_vectorization") == 2


@pytest.mark.integration
def test_readme_text_vectorization_pipeline_runs_as_written(tmp_path):
    (_, python), (_, bash) = readme_blocks()
    _write_data(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    trained = subprocess.run(
        [sys.executable, "-c", python],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    vocab = (tmp_path / "vocab.txt").read_text(encoding="utf-8")
    assert vocab.startswith("\n[UNK]\n")
    assert {"baseline.tflite", "compressed.tflite"} <= {
        path.name for path in tmp_path.iterdir()
    }

    # `tflite-lowrank` is this interpreter's entry point, as the console script is.
    prelude = (
        "set -euo pipefail\n"
        f'tflite-lowrank() {{ "{sys.executable}" -m tflite_lowrank_cli "$@"; }}\n'
    )
    measured = subprocess.run(
        ["bash", "-c", prelude + bash],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert measured.returncode == 0, measured.stderr[-3000:]
    assert "baseline.tflite" in measured.stdout
    assert "compressed.tflite" in measured.stdout
