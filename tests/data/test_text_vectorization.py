"""Tests for the TextVectorization mode of the tokenizer and its vocab.txt files."""

import keras
import numpy as np
import pytest
from make_tokenizer_cases import text_vectorization_texts

from tflite_lowrank.data.text_vectorization import text_vectorization_tokens
from tflite_lowrank.data.tokenizer import Tokenizer
from tflite_lowrank.data.vocab_files import read_vocab

NASA = "NASA's Hubble-telescope isn't dead!"
TV_VOCAB = ["", "[UNK]", "the", "film", "isnt", "nasas", "hubbletelescope", "dead"]


def _layer(**kwargs):
    kwargs.setdefault("output_sequence_length", 6)
    layer = keras.layers.TextVectorization(**kwargs)
    layer.adapt(["the film isn't dead", "NASA's Hubble-telescope", "the café — 東京"])
    return layer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NASA, ["nasas", "hubbletelescope", "isnt", "dead"]),
        ("e-mail -- a_b", ["email", "ab"]),
        ("CAFÉ İK", ["cafÉ", "İk"]),  # Only ASCII letters are lower-cased.
        ("“a” — ’b’ ¿c?", ["“a”", "—", "’b’", "¿c"]),
        ("a\tb\nc\x0bd\x0ce\rf", ["a", "b", "c", "d", "e", "f"]),
        ("a\xa0b c\u3000d e\x1cf", ["a\xa0b", "c\u3000d", "e\x1cf"]),
        ("東京 🎬", ["東京", "🎬"]),
        ("", []),
        ("  !?  ", []),
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, str) else None,
)
def test_text_vectorization_tokens_examples(raw, expected):
    assert text_vectorization_tokens(raw) == expected


def test_text_vectorization_tokens_rejects_non_string():
    with pytest.raises(TypeError, match="Received: text=b'x'"):
        text_vectorization_tokens(b"x")


def test_tokenizer_detects_a_text_vectorization_vocabulary_and_its_ids():
    tokenizer = Tokenizer(TV_VOCAB, seq_len=6)
    assert tokenizer.mode == "text_vectorization"
    assert tokenizer.version == "keras-text-vectorization-v1"
    assert tokenizer.vocabulary[:2] == ("", "[UNK]")
    ids = tokenizer.encode([NASA, "The film rocks", ""])
    np.testing.assert_array_equal(
        ids, [[5, 6, 4, 7, 0, 0], [2, 3, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]]
    )
    assert Tokenizer(TV_VOCAB, mode="clean").encode([NASA])[0, :3].tolist() == [1, 1, 1]
    assert Tokenizer(["<pad>", "<unk>", "a"]).mode == "clean"


def test_tokenizer_text_vectorization_mode_with_our_vocabulary():
    tokenizer = Tokenizer(
        ["<pad>", "<unk>", "isnt"], seq_len=2, mode="text_vectorization"
    )
    assert tokenizer.encode(["isn't it"]).tolist() == [[2, 1]]


@pytest.mark.parametrize(
    ("vocabulary", "mode", "match"),
    [
        (["", "[UNK]", ""], None, r"Received: vocabulary\[2\]=''"),
        (["", "[UNK]", "a b"], None, r"Received: vocabulary\[2\]='a b'"),
        (["", "[UNK]", "a", "a"], None, r"Received: vocabulary\[3\]='a'"),
        (["", "<unk>"], None, r"Received: vocabulary\[:2\]=\['', '<unk>'\]"),
        (TV_VOCAB, "keras", "Received: mode='keras'"),
    ],
    ids=["empty", "space", "duplicate", "order", "mode"],
)
def test_tokenizer_rejects_bad_text_vectorization_vocabularies(vocabulary, mode, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer(vocabulary, mode=mode)


def test_tokenizer_keeps_non_ascii_whitespace_inside_keras_tokens():
    tokenizer = Tokenizer(["", "[UNK]", "a\xa0b"], seq_len=2)
    assert tokenizer.encode(["A\xa0b!"]).tolist() == [[2, 0]]


def test_from_text_vectorization_matches_the_layer_id_for_id():
    layer = _layer(output_sequence_length=7)
    tokenizer = Tokenizer.from_text_vectorization(layer)
    assert tokenizer.vocabulary == tuple(layer.get_vocabulary())
    assert tokenizer.seq_len == 7 and tokenizer.mode == "text_vectorization"
    texts = [NASA, *text_vectorization_texts()]
    expected = keras.ops.convert_to_numpy(layer(texts))
    np.testing.assert_array_equal(tokenizer.encode(texts), expected)


def test_from_text_vectorization_takes_seq_len_when_the_layer_has_none():
    layer = _layer(output_sequence_length=None)
    assert Tokenizer.from_text_vectorization(layer, seq_len=3).seq_len == 3
    with pytest.raises(ValueError, match="Received: seq_len=None"):
        Tokenizer.from_text_vectorization(layer)
    with pytest.raises(ValueError, match="Received: seq_len=5"):
        Tokenizer.from_text_vectorization(_layer(), seq_len=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"standardize": "lower"}, "Received: standardize='lower'"),
        ({"split": "character"}, "Received: split='character'"),
        ({"ngrams": 2}, "Received: ngrams=2"),
        ({"output_mode": "count", "output_sequence_length": None}, "output_mode"),
    ],
    ids=["standardize", "split", "ngrams", "output_mode"],
)
def test_from_text_vectorization_refuses_other_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer.from_text_vectorization(_layer(**kwargs))


def test_from_text_vectorization_refuses_an_empty_layer_and_non_layers():
    with pytest.raises(ValueError, match="call `layer.adapt"):
        Tokenizer.from_text_vectorization(
            keras.layers.TextVectorization(output_sequence_length=4)
        )
    with pytest.raises(TypeError, match="Received: layer=3"):
        Tokenizer.from_text_vectorization(3)


def test_vocab_txt_from_get_vocabulary_keeps_its_empty_first_line(tmp_path):
    layer = _layer()
    (tmp_path / "vocab.txt").write_text(
        "\n".join(layer.get_vocabulary()) + "\n", encoding="utf-8"
    )
    assert read_vocab(tmp_path) == layer.get_vocabulary()
    loaded = Tokenizer.load(tmp_path, seq_len=6)
    assert loaded.mode == "text_vectorization" and loaded.vocabulary[0] == ""
    texts = [NASA, "the café — 東京"]
    expected = keras.ops.convert_to_numpy(layer(texts))
    np.testing.assert_array_equal(loaded.encode(texts), expected)


def test_text_vectorization_tokenizer_save_load_round_trip(tmp_path):
    tokenizer = Tokenizer.from_texts(
        ["Isn't it good?", "good film"], seq_len=3, mode="text_vectorization"
    )
    assert tokenizer.vocabulary == ("", "[UNK]", "good", "film", "isnt", "it")
    path = tokenizer.save(tmp_path)
    assert path.read_text(encoding="utf-8").startswith("\n[UNK]\ngood\n")
    assert Tokenizer.load(tmp_path, seq_len=3).vocabulary == tokenizer.vocabulary


@pytest.mark.parametrize(
    "content",
    [b"\n<unk>\na\n", b"\n\na\n", b"\n[UNK]\n\na\n", b"[UNK]\n\na\n"],
    ids=["empty_then_ours", "two_empty", "empty_later", "unk_first"],
)
def test_vocab_txt_empty_lines_other_than_keras_padding_are_refused(tmp_path, content):
    (tmp_path / "vocab.txt").write_bytes(content)
    with pytest.raises(ValueError, match="Received"):
        Tokenizer.load(tmp_path, seq_len=4)
