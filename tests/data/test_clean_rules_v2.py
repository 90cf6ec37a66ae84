"""Issue 30: a tokenizer for every language, the rules `tflite_lowrank-clean-v2`
(`clean_text`), and the old rules kept apart (`clean_text_v1`, `mode="clean_v1"`)."""

import json
import string
import unicodedata
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from make_tokenizer_cases import CASES_PATH

from tflite_lowrank.data.clean_rules import (
    TOKENIZER_VERSION,
    TOKENIZER_VERSION_V1,
    clean_text,
    clean_text_v1,
)
from tflite_lowrank.data.tokenizer import Tokenizer

ISSUE_TEXT = "Že včeraj ... človek ... šport"

# Any text, with the letters, marks and digits of other scripts made likely.
any_text = st.lists(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),
        st.sampled_from(list("čšžßœéÉİıΣσςЁёÅ\u0301\u0307\u030c\u0308\ufe0f")),
        st.sampled_from(list("電影ー٣१ﬁＡＺ！（）＇½①ǅℌ\u212a\u2019\u00ad\u200d")),
        st.sampled_from(list("(),!?'`. \t\n") + ["n't", "'s", "ΑΣ", "i\u0307"]),
        st.sampled_from(list("iIJjｉⅰ\u0300\u030c\u0323")),
    ),
    max_size=30,
).map("".join)
ascii_text = st.text(alphabet=[chr(c) for c in range(128)], max_size=40)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ISSUE_TEXT, ["že", "včeraj", ".", ".", ".", "človek", ".", ".", ".", "šport"]),
        ("Straße STRASSE STRAẞE", ["straße", "strasse", "straße"]),  # Not casefold.
        (
            "L’été, c'est l'œuvre. ŒUVRE",
            ["l", "été", ",", "c'est", "l'œuvre", ".", "œuvre"],
        ),
        ("ХОРОШИЙ фильм, ёлки!", ["хороший", "фильм", ",", "ёлки", "!"]),
        # Σ and ς are both σ: Python and Java disagree on where a word ends.
        ("ΟΔΟΣ οδός ΑΣ1Α", ["οδοσ", "οδόσ", "ασ1α"]),
        ("İYİ film, IŞIK ıslak", ["iyi", "film", ",", "işik", "ıslak"]),
        ("İstanbul i\u0307stanbul", ["istanbul", "istanbul"]),  # "İ".lower()
        ("J\u030cA ǰa i\u0307\u0300", ["ǰa", "ǰa", "ì"]),  # NFC after lower case.
        (
            "الفيلم رائع جداً! ٣ نجوم، ﻻ",
            ["الفيلم", "رائع", "جداً", "!", "٣", "نجوم", "لا"],
        ),
        ("Great 🎬🍿! 👍🏽 ❤️ film", ["great", "!", "film"]),  # No lone U+FE0F.
        (
            "我喜欢电影。映画はとても",
            ["我", "喜", "欢", "电", "影", "映", "画", "はとても"],
        ),
        ("film2024 ١٢٣abc фильм-film", ["film2024", "١٢٣abc", "фильм", "film"]),
        ("٣٤٥ १२३ ２０２４ ½", ["٣٤٥", "१२३", "2024", "1", "2"]),
        ("Cafe\u0301 c\u030clovek \u0301alone", ["café", "človek", "alone"]),
        ("ﬁlm ＦＵＬＬ ＇ｓ ℌ", ["film", "full", "'s", "h"]),
        ("ภาษาไทย ქართული ᏣᎳᎩ", ["ภาษาไทย", "ქართული", "ꮳꮃꭹ"]),
    ],
    ids=lambda value: repr(value)[:16] if isinstance(value, str) else None,
)
def test_clean_text_keeps_the_letters_and_digits_of_every_script(raw, expected):
    assert clean_text(raw) == expected


def test_the_rules_are_version_2_and_version_1_is_kept_apart():
    assert TOKENIZER_VERSION == "tflite_lowrank-clean-v2"
    assert TOKENIZER_VERSION_V1 == "tflite_lowrank-clean-v1"
    dots = [".", ".", "."]
    assert clean_text_v1(ISSUE_TEXT) == [
        "e",
        "v",
        "eraj",
        *dots,
        "lovek",
        *dots,
        "port",
    ]
    vocabulary = ["<pad>", "<unk>", "eraj", "lovek", "človek"]
    assert Tokenizer(vocabulary).version == TOKENIZER_VERSION
    old = Tokenizer(vocabulary[:4], mode="clean_v1", seq_len=7)
    assert old.version == TOKENIZER_VERSION_V1
    assert old.encode([ISSUE_TEXT]).tolist() == [[1, 1, 2, 1, 1, 1, 3]]
    new = Tokenizer(vocabulary, seq_len=6)
    assert new.encode([ISSUE_TEXT]).tolist() == [[1, 1, 1, 1, 1, 4]]


@settings(max_examples=300, deadline=None)
@given(raw=ascii_text)
def test_clean_text_property_ascii_text_keeps_its_v1_tokens(raw):
    assert clean_text(raw) == clean_text_v1(raw)


@settings(max_examples=300, deadline=None)
@given(raw=any_text)
def test_clean_text_property_ignores_unicode_normalization(raw):
    expected = clean_text(raw)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert clean_text(unicodedata.normalize(form, raw)) == expected, form


@settings(max_examples=300, deadline=None)
@given(raw=any_text)
def test_clean_text_property_every_token_is_made_by_the_rules(raw):
    """Each token comes back unchanged alone: `from_texts` never warns."""
    tokens = clean_text(raw)
    assert clean_text(" ".join(tokens)) == tokens
    for token in tokens:
        assert clean_text(token) == [token]


@settings(max_examples=200, deadline=None)
@given(raw=any_text)
def test_clean_text_property_ignores_case_of_text_whose_upper_case_maps_back(raw):
    upper = "".join(
        c.upper() if len(c.upper()) == 1 and c.upper().lower() == c else c for c in raw
    )
    assert clean_text(upper) == clean_text(raw)


def test_v1_vocabulary_loads_under_v2_without_warnings_and_v1_on_request(tmp_path):
    """A vocab.txt does not say its rules: ASCII tokens are v2 tokens too."""
    texts = ["The café's plot, naïve!", "Le film était bien."]
    vocabulary = [
        "<pad>",
        "<unk>",
        *sorted({t for x in texts for t in clean_text_v1(x)}),
    ]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Tokenizer.load(tmp_path, seq_len=8)
    assert loaded.version == TOKENIZER_VERSION
    old = Tokenizer.load(tmp_path, seq_len=8, mode="clean_v1")
    assert old.version == TOKENIZER_VERSION_V1
    assert 1 not in old.encode(texts)  # Every v1 token is known to v1 rules.
    assert 1 in loaded.encode(texts)  # "café", "naïve", "était" are new v2 tokens.


def test_golden_cases_cover_every_script_of_issue_30():
    document = json.loads(CASES_PATH.read_text(encoding="utf-8"))
    texts = "\n".join(case["text"] for case in document["cases"])
    for sample in [
        "človek",  # Slovenian
        "Straße",  # German
        "œuvre",  # French
        "Фильм",  # Russian
        "ΟΔΟΣ",  # Greek
        "İstanbul",  # Turkish
        "رائع",  # Arabic
        "👍🏽",  # emoji
        "映画",  # CJK
        "١٢٣abc",  # mixed scripts
        "१२३",  # digits of another script
        "c\u030clovek",  # NFD input
        "ＦＵＬＬ",  # full width (NFKC)
    ]:
        assert sample in texts, sample
    tokens = {token for case in document["cases"] for token in case["tokens"]}
    assert {"človek", "straße", "фильм", "οδοσ", "istanbul", "映", "١٢٣abc"} <= tokens


def test_such_tokens_are_judged_by_the_chosen_rules():
    with pytest.warns(UserWarning, match="tflite_lowrank-clean-v1"):
        Tokenizer(["<pad>", "<unk>", "café"], mode="clean_v1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A TextVectorization vocabulary is the layer's, taken as it is.
        Tokenizer(["", "[UNK]", "isn't", "The", ","])
        Tokenizer(["<pad>", "<unk>", "café", "'s", "n't", "映", "٣"])


def test_from_texts_makes_only_tokens_of_its_rules():
    texts = ["Že včeraj ... ČLOVEK!", "İYİ ΟΔΟΣ 映画 ❤️ ﬁlm", string.printable]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizer = Tokenizer.from_texts(texts, seq_len=6)
    assert {"človek", "iyi", "οδοσ", "映", "film"} <= set(tokenizer.vocabulary)
    assert not np.any(tokenizer.encode(texts) == 1)
