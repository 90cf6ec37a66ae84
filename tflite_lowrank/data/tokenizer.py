"""The project's one tokenizer, shared by training, conversion, benchmark and Android.

The rules (version `tflite_lowrank-clean-v1`) and the `vocab.txt` / `labels.txt`
formats are fixed in `docs/contracts.md`; the Kotlin app implements the same rules and
is tested against `tests/data/tokenizer_cases.json` (regenerate it with
`python tests/make_tokenizer_cases.py`). Change nothing here without both sides.

Example:

```python
from tflite_lowrank.data.tokenizer import Tokenizer, clean_text

clean_text("DON'T miss it (really).")
# ['do', "n't", 'miss', 'it', '(', 'really', ')', '.']
tokenizer = Tokenizer.from_texts(train_texts, seq_len=40, min_count=2)
x_train = tokenizer.encode(train_texts)  # int32 [n, 40], 0 = <pad>, 1 = <unk>
tokenizer.save("export/")  # export/vocab.txt
```
"""

from __future__ import annotations

import collections
import logging
import os
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import numpy as np

from tflite_lowrank.utils.checks import check_int as _check_int

logger = logging.getLogger(__name__)

TOKENIZER_VERSION = "tflite_lowrank-clean-v1"
"""Name of the tokenizer rules in `docs/contracts.md`."""
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1
VOCAB_FILENAME = "vocab.txt"
LABELS_FILENAME = "labels.txt"
DEFAULT_SEQ_LEN = 40
"""The paper's `maxlen`."""

# Step 1: everything but ASCII letters, digits and ( ) , ! ? ' ` . becomes a space.
_DISALLOWED = re.compile(r"[^A-Za-z0-9(),!?'`.]")
# Step 3, in this order (each a literal, left-to-right, non-overlapping replace).
_REPLACEMENTS = (
    ("'s", " 's"),
    ("'ve", " 've"),
    ("n't", " n't"),
    ("'re", " 're"),
    ("'d", " 'd"),
    ("'ll", " 'll"),
    (",", " , "),
    ("!", " ! "),
    ("(", " ( "),
    (")", " ) "),
    ("?", " ? "),
    (".", " . "),
)


def clean_text(text: str) -> list[str]:
    """Splits a string into tokens by the `tflite_lowrank-clean-v1` rules.

    1. Every character that is not an ASCII letter, an ASCII digit or one of
       ``( ) , ! ? ' ` .`` becomes a space (whitespace, accents, emoji, CJK...).
    2. ASCII letters are lower-cased.
    3. The clitics `'s 've n't 're 'd 'll` are split off and `, ! ( ) ? .` are
       padded with spaces (literal replacements, in that order).
    4. The string is split on runs of spaces.

    These are Kim's (2014) `clean_str` rules of the paper's code, except that
    lower-casing comes first (`DON'T` splits like `don't`), `.` is split off and
    parentheses are not escaped. Never raises for a `str`; may return `[]`.

    Args:
        text: str. Any Unicode string.

    Returns:
        The tokens, a list of non-empty strings made of `a-z 0-9 ( ) , ! ? ' ` .`.

    Raises:
        TypeError: If `text` is not a `str`.

    Example:

    >>> clean_text("It's the FILM's best scene, isn't it?!")
    ['it', "'s", 'the', 'film', "'s", 'best', 'scene', ',', 'is', "n't", 'it', '?', '!']
    >>> clean_text("Café — 東京 🎬 10/10.")
    ['caf', '10', '10', '.']
    """
    if not isinstance(text, str):
        raise TypeError(
            f"`text` must be a str. Received: text={text!r} "
            f"(of type {type(text).__name__})"
        )
    text = _DISALLOWED.sub(" ", text).lower()  # Only ASCII is left to lower-case.
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return [token for token in text.split(" ") if token]


class Tokenizer:
    """Maps texts to fixed-length int32 token ids with a fixed vocabulary.

    Tokens come from `clean_text`. Id 0 is `<pad>`, id 1 is `<unk>` (every token
    missing from the vocabulary; out-of-vocabulary words are not dropped), and every
    other token has its index in `vocabulary`. `encode` keeps the first `seq_len` ids
    and right-pads with 0. The vocabulary is saved as `vocab.txt`, one token per
    line, line index = id (`docs/contracts.md`).

    Build one from training texts with `Tokenizer.from_texts`, or read one back with
    `Tokenizer.load`.

    Args:
        vocabulary: Sequence of str. All tokens by id: `vocabulary[0]` must be
            `"<pad>"` and `vocabulary[1]` `"<unk>"`; no duplicates, no empty tokens,
            no whitespace inside a token.
        seq_len: int. Length of every encoded row. Defaults to `40`, the paper's
            maximum length.

    Example:

    ```python
    tokenizer = Tokenizer(["<pad>", "<unk>", "the", "film"], seq_len=4)
    tokenizer.encode(["The film, the FILM!"])
    # array([[2, 3, 1, 2]], dtype=int32)
    ```
    """

    version = TOKENIZER_VERSION

    def __init__(self, vocabulary: Sequence[str], *, seq_len: int = DEFAULT_SEQ_LEN):
        _check_int("seq_len", seq_len, minimum=1)
        if isinstance(vocabulary, str | bytes):
            raise TypeError(
                "`vocabulary` must be a sequence of tokens, not a single string. "
                f"Received: vocabulary={vocabulary!r}"
            )
        vocabulary = tuple(vocabulary)
        if vocabulary[:2] != (PAD_TOKEN, UNK_TOKEN):
            raise ValueError(
                f"`vocabulary` must start with {PAD_TOKEN!r} (id {PAD_ID}) and "
                f"{UNK_TOKEN!r} (id {UNK_ID}). "
                f"Received: vocabulary[:2]={list(vocabulary[:2])!r}"
            )
        index: dict[str, int] = {}
        for token_id, token in enumerate(vocabulary):
            if not isinstance(token, str) or not token or token.split() != [token]:
                raise ValueError(
                    "Every vocabulary token must be a non-empty str without "
                    f"whitespace. Received: vocabulary[{token_id}]={token!r}"
                )
            if token in index:
                raise ValueError(
                    f"Vocabulary tokens must be unique; {token!r} is at ids "
                    f"{index[token]} and {token_id}. "
                    f"Received: vocabulary[{token_id}]={token!r}"
                )
            index[token] = token_id
        self._vocabulary = vocabulary
        self._index = index
        self.seq_len = int(seq_len)

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        seq_len: int = DEFAULT_SEQ_LEN,
        min_count: int = 1,
        max_size: int | None = None,
        restrict_to: Collection[str] | None = None,
    ) -> Tokenizer:
        """Builds the vocabulary from training texts.

        Tokens are ranked by count (most frequent first), ties broken by the token
        itself, so the result does not depend on the order of `texts`.

        Args:
            texts: Iterable of str. The training texts (never dev or test).
            seq_len: int. Length of every encoded row. Defaults to `40`.
            min_count: int. Keep tokens seen at least this often. Defaults to `1`.
            max_size: int or None. Largest vocabulary size, counting `<pad>` and
                `<unk>`, i.e. the embedding's `input_dim`. At least 2. None for no
                limit. Defaults to `None`.
            restrict_to: Collection of str or None. Keep only tokens in this
                collection, e.g. `load_glove().words` for the paper's
                "train vocabulary ∩ GloVe". Defaults to `None`.

        Returns:
            A `Tokenizer`.

        Raises:
            TypeError: If `texts` is a single string or holds a non-string, or an
                argument has the wrong type.
            ValueError: If `min_count`, `max_size` or `seq_len` is out of range.

        Example:

        ```python
        tokenizer = Tokenizer.from_texts(
            data.train.texts, seq_len=40, min_count=1, restrict_to=load_glove().words
        )
        ```
        """
        _check_int("seq_len", seq_len, minimum=1)
        _check_int("min_count", min_count, minimum=1)
        if max_size is not None:
            _check_int("max_size", max_size, minimum=1)
            if max_size < 2:
                raise ValueError(
                    "`max_size` counts `<pad>` and `<unk>`, so it must be >= 2. "
                    f"Received: max_size={max_size}"
                )
        counts: collections.Counter[str] = collections.Counter()
        for text in _check_texts(texts):
            counts.update(clean_text(text))
        if restrict_to is not None:
            if isinstance(restrict_to, str | bytes):
                raise TypeError(
                    "`restrict_to` must be a collection of words, not a single "
                    f"string. Received: restrict_to={restrict_to!r}"
                )
            if not isinstance(restrict_to, set | frozenset | dict):
                restrict_to = frozenset(restrict_to)
        ranked = sorted(
            (
                (token, count)
                for token, count in counts.items()
                if count >= min_count and (restrict_to is None or token in restrict_to)
            ),
            key=lambda item: (-item[1], item[0]),
        )
        words = [token for token, _ in ranked]
        if max_size is not None:
            words = words[: max_size - 2]
        logger.info(
            "Vocabulary: %d of %d token types kept (min_count=%d, max_size=%s, "
            "restricted=%s).",
            len(words),
            len(counts),
            min_count,
            max_size,
            restrict_to is not None,
        )
        return cls([PAD_TOKEN, UNK_TOKEN, *words], seq_len=seq_len)

    @classmethod
    def load(cls, directory: os.PathLike[str] | str, *, seq_len: int) -> Tokenizer:
        """Reads `vocab.txt` from a directory written by `save`.

        Args:
            directory: Path-like. The folder holding `vocab.txt`.
            seq_len: int. Length of every encoded row; must match the model input.

        Returns:
            A `Tokenizer`.

        Raises:
            FileNotFoundError: If `vocab.txt` does not exist.
            ValueError: If the file breaks the `vocab.txt` format.

        Example:

        ```python
        tokenizer = Tokenizer.load("export/", seq_len=model.input_shape[1])
        ```
        """
        lines = _read_lines(Path(directory) / VOCAB_FILENAME)
        return cls(lines, seq_len=seq_len)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """All tokens by id, `<pad>` and `<unk>` first (the lines of `vocab.txt`)."""
        return self._vocabulary

    @property
    def vocabulary_size(self) -> int:
        """Number of ids, counting `<pad>` and `<unk>`: the embedding `input_dim`."""
        return len(self._vocabulary)

    def __len__(self) -> int:
        return len(self._vocabulary)

    def __repr__(self) -> str:
        return (
            f"Tokenizer(vocabulary_size={self.vocabulary_size}, "
            f"seq_len={self.seq_len}, version={self.version!r})"
        )

    def token_to_id(self, token: str) -> int:
        """Returns the id of one token (`1`, `<unk>`, if unknown)."""
        return self._index.get(token, UNK_ID)

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """Encodes texts as token ids, truncated and right-padded to `seq_len`.

        Args:
            texts: Iterable of str (a list, tuple, NumPy array or pandas Series).

        Returns:
            int32 NumPy array of shape `(len(texts), seq_len)`.

        Raises:
            TypeError: If `texts` is a single string or holds a non-string.

        Example:

        ```python
        x_test = tokenizer.encode(data.test.texts)
        ```
        """
        texts = _check_texts(texts)
        ids = np.zeros((len(texts), self.seq_len), dtype=np.int32)
        get = self._index.get
        for row, text in enumerate(texts):
            tokens = clean_text(text)[: self.seq_len]
            ids[row, : len(tokens)] = [get(token, UNK_ID) for token in tokens]
        return ids

    def oov_rate(self, texts: Iterable[str]) -> float:
        """Share of all tokens (before truncation) that map to `<unk>`.

        Args:
            texts: Iterable of str.

        Returns:
            A float in [0, 1]; `0.0` when the texts have no tokens.

        Example:

        ```python
        print(f"test OOV: {tokenizer.oov_rate(data.test.texts):.1%}")
        ```
        """
        total = unknown = 0
        for text in _check_texts(texts):
            tokens = clean_text(text)
            total += len(tokens)
            unknown += sum(token not in self._index for token in tokens)
        return unknown / total if total else 0.0

    def save(self, directory: os.PathLike[str] | str) -> Path:
        """Writes `vocab.txt` (UTF-8, `\\n` line ends) into a directory.

        The directory is created if needed; an existing `vocab.txt` is replaced.

        Args:
            directory: Path-like. The output folder.

        Returns:
            The path of `vocab.txt`.

        Example:

        ```python
        tokenizer.save("export/")  # then Tokenizer.load("export/", seq_len=40)
        ```
        """
        return _write_lines(Path(directory) / VOCAB_FILENAME, self._vocabulary)


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


def _check_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError(
            "`texts` must be an iterable of strings, not a single string; wrap it "
            f"in a list. Received: texts={texts[:50]!r}"
        )
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                "`texts` must contain only strings. "
                f"Received: texts[{position}]={text!r} (of type {type(text).__name__})"
            )
    return texts


def _write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.writelines(f"{line}\n" for line in lines)
    logger.info("Wrote %d lines to %s.", len(lines), path)
    return path


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(
            f"No such file; write it with `save` first. Received: path={str(path)!r}"
        )
    with open(path, encoding="utf-8", newline="") as file:
        content = file.read()
    if not content.endswith("\n"):
        content += "\n"  # Tolerate a missing final line end.
    lines = content[:-1].split("\n")
    for number, line in enumerate(lines, start=1):
        if not line or "\r" in line:
            raise ValueError(
                f"{path.name} must have one non-empty entry per line and `\\n` line "
                f"ends (no blank lines, no `\\r`). Received: line {number}={line!r}"
            )
    return lines
