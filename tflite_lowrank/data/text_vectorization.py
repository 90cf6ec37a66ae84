"""Tokens and vocabularies of `keras.layers.TextVectorization`, without TensorFlow.

Most Keras text models are trained with `TextVectorization` in its default settings:
`standardize="lower_and_strip_punctuation"`, `split="whitespace"`, `output_mode="int"`.
`text_vectorization_tokens` reproduces those tokens (rules version
`keras-text-vectorization-v1`, `docs/contracts.md`), so that `Tokenizer(...,
mode="text_vectorization")` gives the layer's ids, id for id, and the Kotlin app can do
the same on a phone:

1. Lower-case the ASCII letters `A-Z` only (`tf.strings.lower` without an encoding
   leaves `É`, `İ`, `Ä` as they are).
2. Delete every match of `STRIP_PUNCTUATION_PATTERN`, the pattern Keras hands to
   `tf.strings.regex_replace`: the 32 ASCII punctuation marks (its `,-\\.` is the range
   `, - .`). Non-ASCII punctuation (`“ ” — ’ ¿ «`) stays.
3. Split on runs of ASCII whitespace (space, `\\t \\n \\v \\f \\r`) and drop empty
   strings. Other separators (`\\xa0`, `\\u3000`, `\\x1c`, `\\x85`) stay inside tokens.

The vocabulary is `layer.get_vocabulary()`: `""` (padding, id 0), `"[UNK]"` (id 1),
then the tokens. Written one per line as `vocab.txt`, its first line is empty.

Example:

>>> text_vectorization_tokens("NASA's Hubble-telescope isn't dead!")
['nasas', 'hubbletelescope', 'isnt', 'dead']
>>> text_vectorization_tokens("CAFÉ “quoted” — 東京")
['cafÉ', '“quoted”', '—', '東京']
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

TEXT_VECTORIZATION_VERSION = "keras-text-vectorization-v1"
"""Name of the `TextVectorization` tokenizer rules in `docs/contracts.md`."""
TV_PAD_TOKEN = ""
"""`TextVectorization`'s padding (mask) token, id 0: an empty line in `vocab.txt`."""
TV_UNK_TOKEN = "[UNK]"
"""`TextVectorization`'s out-of-vocabulary token, id 1."""
STRIP_PUNCTUATION_PATTERN = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
"""The pattern `TextVectorization` deletes (Keras 3, `lower_and_strip_punctuation`)."""
ASCII_WHITESPACE = " \t\n\v\f\r"
"""What `split="whitespace"` (`tf.strings.split`) splits on."""

_STRIP = re.compile(STRIP_PUNCTUATION_PATTERN)
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_SPLIT = re.compile(f"[{re.escape(ASCII_WHITESPACE)}]+")
_SUPPORTED = {
    "standardize": "lower_and_strip_punctuation",
    "split": "whitespace",
    "ngrams": None,
    "output_mode": "int",
}


def text_vectorization_tokens(text: str) -> list[str]:
    """Splits a string into the tokens of a default `keras.layers.TextVectorization`.

    Args:
        text: str. Any Unicode string (TensorFlow refuses lone surrogates; here they
            are kept like any other non-ASCII character).

    Returns:
        The tokens, a list of non-empty strings without ASCII whitespace or ASCII
        punctuation; `[]` for an empty or punctuation-only text.

    Raises:
        TypeError: If `text` is not a `str`.
    """
    if not isinstance(text, str):
        raise TypeError(
            f"`text` must be a str. Received: text={text!r} "
            f"(of type {type(text).__name__})"
        )
    text = _STRIP.sub("", text.translate(_LOWER))
    return [token for token in _SPLIT.split(text) if token]


def is_text_vectorization_vocabulary(vocabulary: Sequence[str]) -> bool:
    """True when `vocabulary` starts like `get_vocabulary()`: `""`, then `"[UNK]"`."""
    return tuple(vocabulary[:2]) == (TV_PAD_TOKEN, TV_UNK_TOKEN)


def check_text_vectorization_token(token_id: int, token: Any) -> None:
    """Raises ValueError unless `token` can be id `token_id` of such a vocabulary."""
    if token_id == 0 and token == TV_PAD_TOKEN:
        return
    if (
        not isinstance(token, str)
        or not token
        or any(c in ASCII_WHITESPACE for c in token)
    ):
        raise ValueError(
            "Every token of a TextVectorization vocabulary after id 0 must be a "
            "non-empty str without ASCII whitespace. "
            f"Received: vocabulary[{token_id}]={token!r}"
        )


def layer_vocabulary_and_length(
    layer: Any, seq_len: int | None
) -> tuple[list[str], int]:
    """The vocabulary and the output length of a `TextVectorization` layer.

    Only the default tokenization is reproduced: the layer must use
    `standardize="lower_and_strip_punctuation"`, `split="whitespace"`, no `ngrams`
    and `output_mode="int"`, and have a vocabulary (`adapt` it or pass one).
    `seq_len` is the layer's `output_sequence_length` when None; both may be given
    only if they agree.

    Raises:
        TypeError: If `layer` has no `get_config` and `get_vocabulary`.
        ValueError: If a setting above differs, or no length is known.
    """
    if not (hasattr(layer, "get_config") and hasattr(layer, "get_vocabulary")):
        raise TypeError(
            "`layer` must be a keras.layers.TextVectorization. "
            f"Received: layer={layer!r} (of type {type(layer).__name__})"
        )
    config = layer.get_config()
    for key, expected in _SUPPORTED.items():
        if config.get(key) != expected:
            raise ValueError(
                f"Only TextVectorization's default tokenization is reproduced: "
                f"`layer` must have {key}={expected!r}. "
                f"Received: {key}={config.get(key)!r}"
            )
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    if not is_text_vectorization_vocabulary(vocabulary) or len(vocabulary) < 3:
        raise ValueError(
            "`layer` must have a vocabulary that starts with '' (padding) and "
            "'[UNK]' and holds at least one token: call `layer.adapt(texts)` or pass "
            f"`vocabulary=`. Received: layer.get_vocabulary()[:3]={vocabulary[:3]!r}"
        )
    length = config.get("output_sequence_length")
    if seq_len is None:
        if length is None:
            raise ValueError(
                "`layer` has output_sequence_length=None (rows as long as the "
                "longest text), but a .tflite model needs a fixed length: pass "
                "`seq_len`. Received: seq_len=None, output_sequence_length=None"
            )
        seq_len = length
    elif length is not None and length != seq_len:
        raise ValueError(
            f"`seq_len` must equal the layer's output_sequence_length={length}. "
            f"Received: seq_len={seq_len!r}"
        )
    return vocabulary, seq_len
