"""The `tflite_lowrank-clean-v1` text cleaning rules (`clean_text`).

The rules are fixed in `docs/contracts.md`; the Kotlin app implements the same rules and
is tested against `tests/data/tokenizer_cases.json`. `Tokenizer` (in
`tflite_lowrank.data.tokenizer`, which re-exports `clean_text`) uses them in its default
`mode="clean"`.
"""

from __future__ import annotations

import re

TOKENIZER_VERSION = "tflite_lowrank-clean-v1"
"""Name of the tokenizer rules in `docs/contracts.md`."""

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
