"""Tests for tflite_lowrank.data.tokenizer: the shared tokenizer and its file
formats."""

import doctest
import json
import string
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from make_tokenizer_cases import CASES_PATH, render

from tflite_lowrank.data import clean_rules, text_vectorization
from tflite_lowrank.data.tokenizer import TOKENIZER_VERSION, Tokenizer, clean_text
from tflite_lowrank.data.vocab_files import load_labels, save_labels

PUNCTUATION = set("(),!?'`.")
VOCAB = ["<pad>", "<unk>", "the", "film", ",", ".", "n't", "'s", "do", "good", "!"]

# Pieces of odd input: any code point (lone surrogates included, Python strings may
# hold them), the special characters, and clitics in both cases.
odd_text = st.lists(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),
        st.sampled_from(list("(),!?'`. \t\nNnTtSsDdLlVvRrE")),
        st.sampled_from(["n't", "N'T", "'s", "'S", "'ve", "'re", "'d", "'ll"]),
    ),
    max_size=40,
).map("".join)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The film is good.", ["the", "film", "is", "good", "."]),
        ("DON'T", ["do", "n't"]),
        ("don't", ["do", "n't"]),
        ("It's", ["it", "'s"]),
        (
            "we'VE they'RE I'd you'LL",
            ["we", "'ve", "they", "'re", "i", "'d", "you", "'ll"],
        ),
        ("Wait...what?!", ["wait", ".", ".", ".", "what", "?", "!"]),
        ("(a)(b)", ["(", "a", ")", "(", "b", ")"]),
        ("``quote''", ["``quote''"]),
        ("10/10, 2.5", ["10", "10", ",", "2", ".", "5"]),
        ("a\tb\nc\r\nd\u00a0e\u3000f", ["a", "b", "c", "d", "e", "f"]),
        ("Café naïve", ["café", "naïve"]),
        ("Don’t", ["don", "t"]),  # ’ is not an apostrophe (as in v1).
        ("İK\u212a", ["ikk"]),  # The Kelvin sign is K (NFKC), İ lower-cases to i.
        ("東京 🎬", ["東", "京"]),
        ("", []),
        ("!?", ["!", "?"]),
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, str) else None,
)
def test_clean_text_examples(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_rejects_non_string_with_received_value():
    with pytest.raises(TypeError, match="Received: text=b'x'"):
        clean_text(b"x")


def _kept(character: str) -> bool:
    return character in PUNCTUATION or unicodedata.category(character)[0] in "LMN"


@settings(max_examples=300, deadline=None)
@given(raw=odd_text)
def test_clean_text_property_tokens_use_only_allowed_characters(raw):
    for token in clean_text(raw):
        assert token and all(_kept(character) for character in token), token
        assert unicodedata.category(token[0])[0] != "M", token  # No leading mark.
        assert token == token.lower() and "\u03c2" not in token, token


@settings(max_examples=300, deadline=None)
@given(raw=odd_text)
def test_clean_text_property_idempotent_on_joined_tokens(raw):
    tokens = clean_text(raw)
    assert clean_text(" ".join(tokens)) == tokens


@settings(max_examples=200, deadline=None)
@given(raw=odd_text)
def test_clean_text_property_ignores_ascii_case(raw):
    upper = raw.translate(str.maketrans(string.ascii_lowercase, string.ascii_uppercase))
    assert clean_text(upper) == clean_text(raw)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(odd_text, max_size=5), seq_len=st.integers(1, 12))
def test_encode_property_shape_range_and_right_padding(texts, seq_len):
    tokenizer = Tokenizer(VOCAB, seq_len=seq_len)
    ids = tokenizer.encode(texts)
    assert ids.shape == (len(texts), seq_len) and ids.dtype == np.int32
    assert ((ids >= 0) & (ids < len(VOCAB))).all()
    for raw, row in zip(texts, ids, strict=True):
        tokens = clean_text(raw)[:seq_len]
        assert (row[: len(tokens)] > 0).all()  # Unknown tokens are 1, never dropped.
        assert (row[len(tokens) :] == 0).all()
        assert row[: len(tokens)].tolist() == [tokenizer.token_to_id(t) for t in tokens]


def test_tokenizer_encode_truncates_pads_and_maps_unknown_to_one():
    tokenizer = Tokenizer(VOCAB, seq_len=4)
    ids = tokenizer.encode(["The film, the FILM!", "zzz", ""])
    np.testing.assert_array_equal(ids, [[2, 3, 4, 2], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_tokenizer_from_texts_counts_min_count_max_size_and_restriction():
    texts = ["b b b a a c", "a b d"]  # b: 4, a: 3, c: 1, d: 1
    full = Tokenizer.from_texts(texts, seq_len=3)
    assert full.vocabulary == ("<pad>", "<unk>", "b", "a", "c", "d")
    assert Tokenizer.from_texts(texts, min_count=2).vocabulary[2:] == ("b", "a")
    assert Tokenizer.from_texts(texts, max_size=3).vocabulary == ("<pad>", "<unk>", "b")
    restricted = Tokenizer.from_texts(texts, restrict_to=["a", "d", "zz"])
    assert restricted.vocabulary[2:] == ("a", "d")
    assert Tokenizer.from_texts(reversed(texts)).vocabulary == full.vocabulary


def test_tokenizer_oov_rate_counts_all_tokens_before_truncation():
    tokenizer = Tokenizer(VOCAB, seq_len=1)
    assert tokenizer.oov_rate(["the zzz zzz film"]) == pytest.approx(0.5)
    assert tokenizer.oov_rate(["", "🎬 — ☺"]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vocabulary": ["<unk>", "<pad>"]}, ValueError, r"Received: vocabulary\[:2\]"),
        (
            {"vocabulary": [*VOCAB, "the"]},
            ValueError,
            r"Received: vocabulary\[11\]='the'",
        ),
        ({"vocabulary": [*VOCAB, "a b"]}, ValueError, r"Received: vocabulary\[11\]"),
        ({"vocabulary": [*VOCAB, ""]}, ValueError, r"Received: vocabulary\[11\]=''"),
        ({"vocabulary": "<pad>"}, TypeError, "Received: vocabulary='<pad>'"),
        ({"vocabulary": VOCAB, "seq_len": 0}, ValueError, "Received: seq_len=0"),
        ({"vocabulary": VOCAB, "seq_len": 2.0}, TypeError, "Received: seq_len=2.0"),
    ],
    ids=["order", "duplicate", "space", "empty", "string", "seq_len0", "seq_float"],
)
def test_tokenizer_rejects_bad_arguments_with_received_value(kwargs, error, match):
    with pytest.raises(error, match=match):
        Tokenizer(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_count": 0}, ValueError, "Received: min_count=0"),
        ({"max_size": 1}, ValueError, "Received: max_size=1"),
        ({"restrict_to": "abc"}, TypeError, "Received: restrict_to='abc'"),
    ],
    ids=["min_count", "max_size", "restrict_to"],
)
def test_tokenizer_from_texts_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Tokenizer.from_texts(["a b"], **kwargs)


def test_tokenizer_encode_rejects_single_string_and_non_strings():
    tokenizer = Tokenizer(VOCAB)
    with pytest.raises(TypeError, match="wrap it in a list"):
        tokenizer.encode("the film")
    with pytest.raises(TypeError, match=r"Received: texts\[1\]=3"):
        tokenizer.encode(["ok", 3])


def test_tokenizer_save_load_round_trip_and_file_format(tmp_path):
    tokenizer = Tokenizer.from_texts(["The film, the end.", "Good film!"], seq_len=7)
    path = tokenizer.save(tmp_path / "export")
    assert path.name == "vocab.txt"
    assert path.read_bytes() == ("\n".join(tokenizer.vocabulary) + "\n").encode()
    loaded = Tokenizer.load(tmp_path / "export", seq_len=7)
    assert loaded.vocabulary == tokenizer.vocabulary
    texts = ["the end of the film", "nothing"]
    np.testing.assert_array_equal(loaded.encode(texts), tokenizer.encode(texts))


@pytest.mark.parametrize(
    "content",
    [b"<pad>\n<unk>\n\nthe\n", b"<pad>\r\n<unk>\r\n", b"<unk>\n<pad>\n", b""],
    ids=["blank_line", "crlf", "order", "empty"],
)
def test_tokenizer_load_rejects_malformed_vocab(tmp_path, content):
    (tmp_path / "vocab.txt").write_bytes(content)
    with pytest.raises(ValueError, match="Received"):
        Tokenizer.load(tmp_path, seq_len=4)


def test_tokenizer_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: path="):
        Tokenizer.load(tmp_path, seq_len=4)


def test_labels_round_trip_keeps_order_and_utf8(tmp_path):
    names = ["rotten", "fresh", "café crème"]
    path = save_labels(names, tmp_path)
    assert path.read_bytes() == "rotten\nfresh\ncafé crème\n".encode()
    assert load_labels(tmp_path) == names


@pytest.mark.parametrize(
    ("names", "match"),
    [
        ([], "must not be empty"),
        (["a", "a"], "repeated"),
        (["a", "b\nc"], r"Received: label_names\[1\]"),
        (["a", " "], r"Received: label_names\[1\]"),
    ],
    ids=["empty", "duplicate", "newline", "blank"],
)
def test_save_labels_rejects_bad_names(tmp_path, names, match):
    with pytest.raises(ValueError, match=match):
        save_labels(names, tmp_path)


def test_tokenizer_cases_json_is_up_to_date():
    expected = render()
    actual = CASES_PATH.read_text(encoding="utf-8")
    assert actual == expected, (
        "tests/data/tokenizer_cases.json is stale: run "
        "`.venv/bin/python tests/make_tokenizer_cases.py` and tell the Android side."
    )


def test_tokenizer_cases_json_follows_the_contract():
    document = json.loads(CASES_PATH.read_text(encoding="utf-8"))
    assert list(document) == [
        "tokenizer",
        "seq_len",
        "vocab",
        "cases",
        "text_vectorization",
    ]
    assert document["tokenizer"] == TOKENIZER_VERSION
    tokenizer = Tokenizer(document["vocab"], seq_len=document["seq_len"])
    cases = document["cases"]
    assert len(cases) >= 240
    assert {len(case["tokens"]) for case in cases} >= {0, document["seq_len"] + 1}
    assert any(1 in case["token_ids"] for case in cases)
    for case in cases:
        assert list(case) == ["text", "tokens", "token_ids"]
        assert clean_text(case["text"]) == case["tokens"]
        assert tokenizer.encode([case["text"]])[0].tolist() == case["token_ids"]


def test_text_vectorization_cases_follow_the_contract_and_replay():
    section = json.loads(CASES_PATH.read_text(encoding="utf-8"))["text_vectorization"]
    assert list(section) == ["tokenizer", "seq_len", "vocab", "cases"]
    assert section["tokenizer"] == "keras-text-vectorization-v1"
    assert section["vocab"][:2] == ["", "[UNK]"]
    tokenizer = Tokenizer(section["vocab"], seq_len=section["seq_len"])
    assert tokenizer.mode == "text_vectorization"
    cases = section["cases"]
    texts = {case["text"] for case in cases}
    assert {"NASA's Hubble-telescope isn't dead!", "", "   \t\n  "} <= texts
    lengths = {len(case["tokens"]) for case in cases}
    assert 0 in lengths and max(lengths) > section["seq_len"]
    for case in cases:
        assert tokenizer.tokenize(case["text"]) == case["tokens"], case["text"]
        assert tokenizer.encode([case["text"]])[0].tolist() == case["token_ids"]


@pytest.mark.parametrize("module", [clean_rules, text_vectorization])
def test_module_docstring_examples_run(module):
    results = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.failed == 0 and results.attempted > 0
