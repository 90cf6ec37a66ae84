"""The `tflite_lowrank-clean-v2` text cleaning rules (`clean_text`), and v1's.

The rules are fixed in `docs/contracts.md`; the Kotlin app implements the same rules and
is tested against `tests/data/tokenizer_cases.json`. `Tokenizer` (in
`tflite_lowrank.data.tokenizer`, which re-exports `clean_text`) uses them in its default
`mode="clean"`.

Version 2 keeps the letters, combining marks and digits of every script (v1 turned every
non-ASCII character into a space: "človek" became "lovek"); for ASCII text the two
versions give the same tokens. `clean_text_v1` keeps the old rules
(`mode="clean_v1"`) for vocabularies and models made with them.
"""

from __future__ import annotations

import functools
import re
import unicodedata

TOKENIZER_VERSION = "tflite_lowrank-clean-v2"
"""Name of the tokenizer rules in `docs/contracts.md`."""
TOKENIZER_VERSION_V1 = "tflite_lowrank-clean-v1"
"""Name of the previous rules (ASCII letters and digits only), `clean_text_v1`."""
PUNCTUATION = "(),!?'`."
"""The punctuation marks the rules keep; every other non-word character is a space."""
HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)
"""CJK ideographs (inclusive code point ranges): each is a token of its own."""

# v1 step 1: everything but ASCII letters, digits and ( ) , ! ? ' ` . becomes a space.
_ASCII_DISALLOWED = re.compile(r"[^A-Za-z0-9(),!?'`.]")
# Then, in this order (each a literal, left-to-right, non-overlapping replace).
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


# Step 3's exceptions to `str.lower` of one character (`İ` is `i` + U+0307 there).
_LOWER = {"\u0130": "i", "\u03c2": "\u03c3"}


class _CharacterTable(dict):
    """`str.translate` table of steps 2 to 4, filled one code point at a time."""

    def __missing__(self, code_point: int) -> str:
        character = chr(code_point)
        if character in PUNCTUATION:
            value = character
        elif unicodedata.category(character)[0] not in "LMN":
            value = " "  # Whitespace, symbols, other punctuation, controls, emoji.
        else:
            value = _LOWER.get(character) or character.lower()
            if any(low <= code_point <= high for low, high in HAN_RANGES):
                value = f" {value} "
        self[code_point] = value
        return value


_TABLE = _CharacterTable()
_I_DOT = re.compile("i\u0307+")


def clean_text(text: str) -> list[str]:
    """Splits a string into tokens by the `tflite_lowrank-clean-v2` rules.

    1. Unicode NFKC normalization (`é` typed as `e` + U+0301 is `é`; full-width
       `ＦＩＬＭ！` is `FILM!`; the ligature `ﬁ` is `fi`).
    2. Every character that is not a letter, a combining mark or a digit of any script
       (Unicode category L, M or N) nor one of ``( ) , ! ? ' ` .`` becomes a space:
       whitespace, symbols, emoji, other punctuation (`’ “ — ¿`).
    3. Each character is lower-cased on its own, the same in every locale (its
       simple lowercase mapping, as `str.lower` of that one character; `ß` stays
       `ß`), except `İ`, which becomes `i`; the final sigma `ς` becomes `σ`
       (Python and Java disagree on where a word ends). Then the dots above
       (U+0307) right after an `i` are dropped (`i̇`, what `"İ".lower()` gives, is
       `i`), and the text is NFC-normalized again (`J̌` lower-cases to `ǰ`).
    4. Each CJK ideograph (`HAN_RANGES`) becomes a token of its own.
    5. The clitics `'s 've n't 're 'd 'll` are split off and `, ! ( ) ? .` are
       padded with spaces (literal replacements, in that order).
    6. The string is split on runs of spaces, and the combining marks at the start
       of each token are dropped (a mark left alone, like the U+FE0F of an emoji);
       a token of marks only is dropped.

    These are Kim's (2014) `clean_str` rules of the paper's code, except that
    lower-casing comes first (`DON'T` splits like `don't`), `.` is split off,
    parentheses are not escaped, and (since v2) the letters and digits of every
    script are kept. ASCII text gives the tokens of v1. Never raises for a `str`;
    may return `[]`.

    Args:
        text: str. Any Unicode string.

    Returns:
        The tokens: non-empty lower-case strings of letters, marks, digits and
        ``( ) , ! ? ' ` .``.

    Raises:
        TypeError: If `text` is not a `str`.

    Example:

    >>> clean_text("It's the FILM's best scene, isn't it?!")
    ['it', "'s", 'the', 'film', "'s", 'best', 'scene', ',', 'is', "n't", 'it', '?', '!']
    >>> clean_text("Café — Že včeraj, İSTANBUL! 東京 🎬 10/10.")
    ['café', 'že', 'včeraj', ',', 'istanbul', '!', '東', '京', '10', '10', '.']
    >>> clean_text("ΟΔΟΣ οδός")
    ['οδοσ', 'οδόσ']
    """
    _check_text(text)
    if text.isascii():
        text = _ASCII_DISALLOWED.sub(" ", text).lower()
    else:
        text = unicodedata.normalize("NFKC", text).translate(_TABLE)
        text = unicodedata.normalize("NFC", _I_DOT.sub("i", text))
        return [
            token
            for token in map(_strip_leading_marks, _split(text))
            if token  # A token of marks only.
        ]
    return _split(text)


def clean_text_v1(text: str) -> list[str]:
    """Splits a string into tokens by the old `tflite_lowrank-clean-v1` rules.

    As `clean_text` for ASCII text; every other character (`é`, `č`, Cyrillic,
    CJK...) becomes a space: `"Café"` gives `['caf']`. For vocabularies and models
    made with these rules (`Tokenizer(..., mode="clean_v1")`).

    Example:

    >>> clean_text_v1("Že včeraj ... človek")
    ['e', 'v', 'eraj', '.', '.', '.', 'lovek']
    """
    _check_text(text)
    return _split(_ASCII_DISALLOWED.sub(" ", text).lower())


def _check_text(text) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"`text` must be a str. Received: text={text!r} "
            f"(of type {type(text).__name__})"
        )


@functools.lru_cache(maxsize=4096)
def _is_mark(character: str) -> bool:
    return unicodedata.category(character)[0] == "M"


def _strip_leading_marks(token: str) -> str:
    start = 0
    while start < len(token) and _is_mark(token[start]):
        start += 1
    return token[start:]


def _split(text: str) -> list[str]:
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return [token for token in text.split(" ") if token]
