"""The `vocab.txt` and `labels.txt` files: one entry per line, line index = id.

The format is fixed in `docs/contracts.md` ("Files"): UTF-8, `\\n` line ends, no blank
lines, no `\\r`; one exception: the vocabulary of `keras.layers.TextVectorization`
(`get_vocabulary()`), whose line 0 is empty (padding, id 0) when line 1 is `[UNK]`.
`Tokenizer.save` and `Tokenizer.load` write and read `vocab.txt` through `write_vocab`
and `read_vocab`; `save_labels` and `load_labels` handle `labels.txt`. `read_utf8`
reads any such text file (also a `.tsv`) and names the file, the line and the byte
offset of an invalid UTF-8 sequence.

Example:

```python
from tflite_lowrank.data.vocab_files import load_labels, save_labels

save_labels(["rotten", "fresh"], "export/")  # export/labels.txt
load_labels("export/")  # ['rotten', 'fresh']
```
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

VOCAB_FILENAME = "vocab.txt"
LABELS_FILENAME = "labels.txt"


class VocabFile(list):
    """The tokens of a `vocab.txt` by id (a `list`), and the file's `path`.

    `read_vocab` returns one, so that `Tokenizer` can name the file in its messages.
    """

    def __init__(self, tokens: Sequence[str], path: Path):
        super().__init__(tokens)
        self.path = path


def write_vocab(vocabulary: Sequence[str], directory: os.PathLike[str] | str) -> Path:
    """Writes `vocab.txt` into `directory` (created if needed); returns its path."""
    return _write_lines(Path(directory) / VOCAB_FILENAME, vocabulary)


def read_vocab(directory: os.PathLike[str] | str) -> VocabFile:
    """Reads the tokens of `directory/vocab.txt`, by id (a list, with its `path`).

    Raises:
        FileNotFoundError: If `vocab.txt` does not exist.
        ValueError: If the file breaks the `vocab.txt` format.
    """
    path = Path(directory) / VOCAB_FILENAME
    return VocabFile(_read_lines(path, keras_padding=True), path)


def save_labels(label_names: Sequence[str], directory: os.PathLike[str] | str) -> Path:
    """Writes `labels.txt`: one label name per line, line index = class index.

    Args:
        label_names: Sequence of str. Unique, non-empty names without line breaks,
            e.g. `TextDataset.label_names`.
        directory: Path-like. The output folder, created if needed.

    Returns:
        The path of `labels.txt`.

    Raises:
        ValueError: If a name is empty, repeated or contains a line break, or there
            are no names.

    Example:

    ```python
    save_labels(data.label_names, "export/")
    ```
    """
    if isinstance(label_names, str | bytes):
        raise TypeError(
            "`label_names` must be a sequence of names, not a single string. "
            f"Received: label_names={label_names!r}"
        )
    names = list(label_names)
    if not names:
        raise ValueError(
            f"`label_names` must not be empty. Received: label_names={names!r}"
        )
    for position, name in enumerate(names):
        if not isinstance(name, str) or not name.strip() or name.splitlines() != [name]:
            raise ValueError(
                "Every label name must be a non-blank str without line breaks. "
                f"Received: label_names[{position}]={name!r}"
            )
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            f"Label names must be unique; repeated: {duplicates}. "
            f"Received: label_names={names!r}"
        )
    return _write_lines(Path(directory) / LABELS_FILENAME, names)


def load_labels(directory: os.PathLike[str] | str) -> list[str]:
    """Reads `labels.txt` written by `save_labels`.

    Args:
        directory: Path-like. The folder holding `labels.txt`.

    Returns:
        The label names, by class index.

    Raises:
        FileNotFoundError: If `labels.txt` does not exist.
        ValueError: If the file breaks the `labels.txt` format.

    Example:

    ```python
    label_names = load_labels("export/")
    ```
    """
    return _read_lines(Path(directory) / LABELS_FILENAME)


def _write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.writelines(f"{line}\n" for line in lines)
    logger.info("Wrote %d lines to %s.", len(lines), path)
    return path


def _read_lines(path: Path, *, keras_padding: bool = False) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(
            f"No such file; write it with `save` first. Received: path={str(path)!r}"
        )
    content = read_utf8(path)
    if not content.endswith("\n"):
        content += "\n"  # Tolerate a missing final line end.
    lines = content[:-1].split("\n")
    # TextVectorization's padding token "" is an empty line 0, kept as id 0.
    keras = keras_padding and lines[:2] == ["", "[UNK]"]
    for number, line in enumerate(lines, start=1):
        if (not line and not (keras and number == 1)) or "\r" in line:
            raise ValueError(
                f"{path.name} must have one non-empty entry per line and `\\n` line "
                f"ends (no blank lines, no `\\r`). Received: line {number}={line!r}"
            )
    return lines


def read_utf8(path: os.PathLike[str] | str) -> str:
    """The text of a UTF-8 file, line ends untouched.

    Args:
        path: Path-like. An existing file.

    Returns:
        The decoded text (`\\r\\n` stays as it is).

    Raises:
        ValueError: If the file is not valid UTF-8; the message names the file, the
            line and the byte offset of the first invalid sequence, and its bytes.

    Example:

    ```python
    text = read_utf8("export/test.tsv")
    ```
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{Path(path).name} is not valid UTF-8: {error.reason} at byte offset "
            f"{error.start} (line {line}): {data[error.start : error.end]!r}. Save "
            f"it as UTF-8. Received: path={str(path)!r}"
        ) from None
