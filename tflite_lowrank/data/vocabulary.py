"""A tokenizer's vocabulary: checked (`check_vocabulary`) and built (`rank_tokens`).

Private part of `tflite_lowrank.data.tokenizer`: `Tokenizer` checks the vocabulary it is
given with `check_vocabulary`, warns about tokens its rules can never make with
`warn_unreachable`, and `Tokenizer.from_texts` ranks the tokens of training texts with
`rank_tokens`. The rules for a vocabulary are in `docs/contracts.md` ("Files").
"""

from __future__ import annotations

import collections
import logging
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence

from tflite_lowrank.data.text_vectorization import (
    TV_PAD_TOKEN,
    TV_UNK_TOKEN,
    check_text_vectorization_token,
    is_text_vectorization_vocabulary,
)
from tflite_lowrank.utils.checks import check_texts as _check_items

logger = logging.getLogger(__name__)

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1
MAX_LISTED = 10
"""How many offending tokens a message lists."""


def check_texts(texts: Iterable[str]) -> list[str]:
    """`texts` as a list of str; TypeError naming what was expected otherwise."""
    if texts is None or not isinstance(texts, Iterable):
        raise TypeError(
            "`texts` must be an iterable of strings (a list, tuple, NumPy array or "
            f"pandas Series). Received: texts={texts!r} (of type "
            f"{type(texts).__name__})"
        )
    return _check_items(texts)


def check_vocabulary(vocabulary: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The vocabulary as a tuple, and whether it is `TextVectorization`'s.

    Raises:
        TypeError: If `vocabulary` is a single string or not a sequence.
        ValueError: If it does not start with the special tokens, or a token is
            empty, repeated or holds whitespace.
    """
    if isinstance(vocabulary, str | bytes) or not isinstance(vocabulary, Iterable):
        raise TypeError(
            "`vocabulary` must be a sequence of tokens (str), e.g. a list. "
            f"Received: vocabulary={vocabulary!r} (of type "
            f"{type(vocabulary).__name__})"
        )
    vocabulary = tuple(vocabulary)
    keras = is_text_vectorization_vocabulary(vocabulary)
    if vocabulary[:2] != (PAD_TOKEN, UNK_TOKEN) and not keras:
        raise ValueError(
            f"`vocabulary` must start with {PAD_TOKEN!r} (id {PAD_ID}) and "
            f"{UNK_TOKEN!r} (id {UNK_ID}), or with {TV_PAD_TOKEN!r} and "
            f"{TV_UNK_TOKEN!r} (TextVectorization's get_vocabulary()). "
            f"Received: vocabulary[:2]={list(vocabulary[:2])!r}"
        )
    seen: dict[str, int] = {}
    for token_id, token in enumerate(vocabulary):
        if keras:
            check_text_vectorization_token(token_id, token)
        elif not isinstance(token, str) or not token or token.split() != [token]:
            raise ValueError(
                "Every vocabulary token must be a non-empty str without "
                f"whitespace. Received: vocabulary[{token_id}]={token!r}"
            )
        if token in seen:
            raise ValueError(
                f"Vocabulary tokens must be unique; {token!r} is at ids "
                f"{seen[token]} and {token_id}. "
                f"Received: vocabulary[{token_id}]={token!r}"
            )
        seen[token] = token_id
    return vocabulary, keras


def warn_unreachable(
    vocabulary: Sequence[str],
    tokenize: Callable[[str], list[str]],
    *,
    version: str,
    source: str,
) -> list[int]:
    """Warns about tokens `tokenize` never makes; returns their ids.

    A token is reachable when the rules give it back unchanged
    (`tokenize(token) == [token]`); `The` or `film.` are not under ours (`the`,
    `film` `.`). Their rows of an embedding are never used, and a vocabulary full of
    them was made by another tokenizer. The special tokens (ids 0 and 1) are skipped.
    """
    found = [
        token_id
        for token_id, token in enumerate(vocabulary[2:], start=2)
        if tokenize(token) != [token]
    ]
    if found:
        listed = ", ".join(
            f"vocabulary[{token_id}]={vocabulary[token_id]!r} (made as "
            f"{tokenize(vocabulary[token_id])!r})"
            for token_id in found[:MAX_LISTED]
        )
        more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        warnings.warn(
            f"{len(found)} of the {len(vocabulary)} tokens of {source} can never be "
            f"made by the tokenizer rules `{version}`, so texts never map to them: "
            f"{listed}{more}. Build the vocabulary with `Tokenizer.from_texts` (or "
            "from the tokens of `Tokenizer.tokenize`), or pick the rules it was made "
            "with (`mode=`).",
            UserWarning,
            stacklevel=3,
        )
    return found


def rank_tokens(
    texts: Iterable[str],
    tokenize: Callable[[str], list[str]],
    *,
    min_count: int,
    max_size: int | None,
    restrict_to: Collection[str] | None,
) -> list[str]:
    """The tokens of `texts` by count, most frequent first, ties by the token.

    Keeps tokens seen `min_count` times or more and in `restrict_to` (if given), at
    most `max_size - 2` of them (room for the two special tokens).
    """
    counts: collections.Counter[str] = collections.Counter()
    for text in check_texts(texts):
        counts.update(tokenize(text))
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
    return words
