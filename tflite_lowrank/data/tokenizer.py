"""The project's one tokenizer, shared by training, conversion, benchmark and Android.

The rules (version `tflite_lowrank-clean-v2`, `data.clean_rules`) and the `vocab.txt` /
`labels.txt` formats (read and written by `data.vocab_files`) are fixed in
`docs/contracts.md`; the Kotlin app implements the same rules and is tested against
`tests/data/tokenizer_cases.json` (`python tests/make_tokenizer_cases.py`). The
vocabulary is checked and built in `data.vocabulary`.

Example:

```python
tokenizer = tl.Tokenizer.from_texts(train_texts, seq_len=40, min_count=2)
x_train = tokenizer.encode(train_texts)  # int32 [n, 40], 0 = <pad>, 1 = <unk>
tokenizer.save("export/")  # export/vocab.txt
```

`mode="text_vectorization"` (`Tokenizer.from_text_vectorization(layer)`) reproduces a
default `keras.layers.TextVectorization` instead (`data.text_vectorization`);
`mode="clean_v1"` the rules before v2 (ASCII letters and digits only).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import numpy as np

from tflite_lowrank.data.clean_rules import (
    TOKENIZER_VERSION,
    TOKENIZER_VERSION_V1,
    clean_text,
    clean_text_v1,
)
from tflite_lowrank.data.text_vectorization import (
    TEXT_VECTORIZATION_VERSION,
    TV_PAD_TOKEN,
    TV_UNK_TOKEN,
    layer_vocabulary_and_length,
    text_vectorization_tokens,
)
from tflite_lowrank.data.vocab_files import VocabFile, read_vocab, write_vocab
from tflite_lowrank.data.vocabulary import (
    PAD_ID,
    PAD_TOKEN,
    UNK_ID,
    UNK_TOKEN,
    check_texts,
    check_vocabulary,
    rank_tokens,
    warn_unreachable,
)
from tflite_lowrank.utils.checks import check_int as _check_int

__all__ = [
    "Tokenizer",
    "MODES",
    "DEFAULT_SEQ_LEN",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "PAD_ID",
    "UNK_ID",
    "TOKENIZER_VERSION",
    "clean_text",
]

DEFAULT_SEQ_LEN = 40
"""The paper's `maxlen`."""
MAX_SEQ_LEN = 1_000_000  # Every row is padded to `seq_len`: more is a typo.
MODES = ("clean", "text_vectorization", "clean_v1")
"""Tokenizer modes: our `clean_text` rules, `keras.layers.TextVectorization`'s, or our
rules before version 2 (`clean_text_v1`)."""
_VERSIONS = {
    "clean": TOKENIZER_VERSION,
    "text_vectorization": TEXT_VECTORIZATION_VERSION,
    "clean_v1": TOKENIZER_VERSION_V1,
}
_TOKENIZE = {
    "clean": clean_text,
    "text_vectorization": text_vectorization_tokens,
    "clean_v1": clean_text_v1,
}
_SPECIALS = {
    "clean": (PAD_TOKEN, UNK_TOKEN),
    "text_vectorization": (TV_PAD_TOKEN, TV_UNK_TOKEN),
    "clean_v1": (PAD_TOKEN, UNK_TOKEN),
}


class Tokenizer:
    """Maps texts to fixed-length int32 token ids with a fixed vocabulary.

    Tokens come from `clean_text` (`mode="clean"`, the letters and digits of every
    script), from `text_vectorization_tokens` with `mode="text_vectorization"` (the
    tokens of a default `keras.layers.TextVectorization`) or from `clean_text_v1`
    with `mode="clean_v1"` (our rules before version 2: ASCII only). Id 0 is
    padding, id 1 the unknown token (every token missing from the vocabulary;
    out-of-vocabulary words are not dropped), and every other token has its index in
    `vocabulary`. `encode` keeps the first `seq_len` ids and right-pads with 0 (a
    `TextVectorization` with `output_sequence_length=seq_len` does the same). The
    vocabulary is saved as `vocab.txt`, one token per line, line index = id
    (`docs/contracts.md`).

    Build one from training texts with `Tokenizer.from_texts`, from a
    `TextVectorization` layer with `Tokenizer.from_text_vectorization`, or read one
    back with `Tokenizer.load`.

    Args:
        vocabulary: Sequence of str. All tokens by id, starting with `"<pad>"`,
            `"<unk>"` (ours) or with `""`, `"[UNK]"` (`TextVectorization`'s
            `get_vocabulary()`); no duplicates, no other empty tokens, no
            whitespace inside a token (a `TextVectorization` token may hold
            non-ASCII whitespace such as `\\xa0`, as the layer does). A token the
            rules never make (`"The"`, `"film."` under ours: they make `the`,
            `film` `.`) is kept but warned about (`UserWarning`, listing them):
            texts never map to it.
        seq_len: int. Length of every encoded row. Defaults to `40`, the paper's
            maximum length.
        mode: `"clean"`, `"text_vectorization"`, `"clean_v1"` or None. The
            tokenization rules (`MODES`). None (the default) picks
            `"text_vectorization"` for a vocabulary that starts with `""`,
            `"[UNK]"` and `"clean"` otherwise. A `vocab.txt` does not record its
            rules: pass `mode="clean_v1"` for one made before version 2.

    Example:

    ```python
    tokenizer = Tokenizer(["<pad>", "<unk>", "the", "film"], seq_len=4)
    tokenizer.encode(["The film, the FILM!"])
    # array([[2, 3, 1, 2]], dtype=int32)
    ```
    """

    version = TOKENIZER_VERSION

    def __init__(
        self,
        vocabulary: Sequence[str],
        *,
        seq_len: int = DEFAULT_SEQ_LEN,
        mode: str | None = None,
    ):
        _check_int("seq_len", seq_len, minimum=1, maximum=MAX_SEQ_LEN)
        source = (
            str(vocabulary.path)
            if isinstance(vocabulary, VocabFile)
            else "`vocabulary`"
        )
        vocabulary, keras_vocabulary = check_vocabulary(vocabulary)
        if mode is None:
            mode = "text_vectorization" if keras_vocabulary else "clean"
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self._vocabulary = vocabulary
        self._index = {token: token_id for token_id, token in enumerate(vocabulary)}
        self.seq_len = int(seq_len)
        self.mode = mode
        self.version = _VERSIONS[mode]
        self._tokenize = _TOKENIZE[mode]
        if mode != "text_vectorization":  # Keras's are the layer's, as they are.
            warn_unreachable(
                vocabulary, self._tokenize, version=self.version, source=source
            )

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        seq_len: int = DEFAULT_SEQ_LEN,
        min_count: int = 1,
        max_size: int | None = None,
        restrict_to: Collection[str] | None = None,
        mode: str = "clean",
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
            mode: `"clean"`, `"text_vectorization"` or `"clean_v1"`: the tokens
                to count, and the special tokens (`<pad>`, `<unk>` or `""`,
                `[UNK]`). Defaults to `"clean"`.

        Returns:
            A `Tokenizer`.

        Raises:
            TypeError: If `texts` is not an iterable of strings (None, a single
                string, a number...), or an argument has the wrong type.
            ValueError: If `min_count`, `max_size` or `seq_len` is out of range.

        Example:

        ```python
        tokenizer = Tokenizer.from_texts(
            data.train.texts, seq_len=40, min_count=1, restrict_to=load_glove().words
        )
        ```
        """
        _check_int("seq_len", seq_len, minimum=1, maximum=MAX_SEQ_LEN)
        _check_int("min_count", min_count, minimum=1)
        if max_size is not None:
            _check_int("max_size", max_size, minimum=1)
            if max_size < 2:
                raise ValueError(
                    "`max_size` counts `<pad>` and `<unk>`, so it must be >= 2. "
                    f"Received: max_size={max_size}"
                )
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        words = rank_tokens(
            texts,
            _TOKENIZE[mode],
            min_count=min_count,
            max_size=max_size,
            restrict_to=restrict_to,
        )
        return cls([*_SPECIALS[mode], *words], seq_len=seq_len, mode=mode)

    @classmethod
    def from_text_vectorization(cls, layer, *, seq_len: int | None = None) -> Tokenizer:
        """The tokenizer of a `keras.layers.TextVectorization`, id for id.

        Args:
            layer: A `TextVectorization` with a vocabulary and the default
                `standardize="lower_and_strip_punctuation"`, `split="whitespace"`,
                `output_mode="int"` and no `ngrams`.
            seq_len: int or None. Length of every row. None (the default) takes
                the layer's `output_sequence_length`, which must then be set.

        Returns:
            A `Tokenizer` with `mode="text_vectorization"` and the layer's
            `get_vocabulary()`; `save` writes it as `vocab.txt` (first line empty).

        Raises:
            ValueError: If the layer has other settings, no vocabulary, or no
                length is known.

        Example:

        ```python
        vectorize = keras.layers.TextVectorization(output_sequence_length=40)
        vectorize.adapt(train_texts)
        tokenizer = Tokenizer.from_text_vectorization(vectorize)
        tokenizer.encode(texts)  # == vectorize(texts).numpy()
        ```
        """
        if seq_len is not None:
            _check_int("seq_len", seq_len, minimum=1, maximum=MAX_SEQ_LEN)
        vocabulary, seq_len = layer_vocabulary_and_length(layer, seq_len)
        return cls(vocabulary, seq_len=seq_len, mode="text_vectorization")

    @classmethod
    def load(
        cls,
        directory: os.PathLike[str] | str,
        *,
        seq_len: int,
        mode: str | None = None,
    ) -> Tokenizer:
        """Reads `vocab.txt` from a directory written by `save`.

        Args:
            directory: Path-like. The folder holding `vocab.txt` (ours, or one line
                per entry of `TextVectorization.get_vocabulary()`).
            seq_len: int. Length of every encoded row; must match the model input.
            mode: str or None. As in `Tokenizer`; None detects `"clean"` or
                `"text_vectorization"` from the file. The file does not say which
                version of our rules made it: pass `"clean_v1"` for a vocabulary
                made before version 2 (`tflite_lowrank-clean-v1`), which kept
                ASCII letters and digits only.

        Returns:
            A `Tokenizer`.

        Raises:
            FileNotFoundError: If `vocab.txt` does not exist.
            ValueError: If the file breaks the `vocab.txt` format or is not
                UTF-8 (the message names the file and the byte).

        Example:

        ```python
        tokenizer = Tokenizer.load("export/", seq_len=model.input_shape[1])
        ```
        """
        return cls(read_vocab(directory), seq_len=seq_len, mode=mode)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """All tokens by id, padding and unknown first (the lines of `vocab.txt`)."""
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

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text under this tokenizer's `mode`, before lookup."""
        return self._tokenize(text)

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
            TypeError: If `texts` is not an iterable of strings (None, a single
                string, a number...) or holds a non-string.

        Example:

        ```python
        x_test = tokenizer.encode(data.test.texts)
        ```
        """
        texts = check_texts(texts)
        ids = np.zeros((len(texts), self.seq_len), dtype=np.int32)
        get = self._index.get
        for row, text in enumerate(texts):
            tokens = self._tokenize(text)[: self.seq_len]
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
        for text in check_texts(texts):
            tokens = self._tokenize(text)
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
        return write_vocab(self._vocabulary, directory)
