"""Weak cases of the tokenizer and its files: texts that are not strings, files that
are not UTF-8, vocabulary tokens the rules never make."""

import pytest

from tflite_lowrank.data.tokenizer import TOKENIZER_VERSION, Tokenizer
from tflite_lowrank.data.vocab_files import load_labels, read_utf8, read_vocab

# --- weak cases: texts that are not strings ---------------------------------------


@pytest.mark.parametrize("texts", [None, 3, 2.5, True], ids=repr)
@pytest.mark.parametrize("method", ["encode", "oov_rate"])
def test_encode_and_oov_rate_say_what_texts_must_be(method, texts):
    tokenizer = Tokenizer(["<pad>", "<unk>", "the"])
    with pytest.raises(
        TypeError, match=rf"iterable of strings.*Received: texts={texts}"
    ):
        getattr(tokenizer, method)(texts)


def test_from_texts_and_constructor_say_what_they_expected():
    with pytest.raises(TypeError, match="iterable of strings.*Received: texts=None"):
        Tokenizer.from_texts(None)
    with pytest.raises(
        TypeError, match="sequence of tokens.*Received: vocabulary=None"
    ):
        Tokenizer(None)
    with pytest.raises(TypeError, match=r"Received: texts\[0\]=None"):
        Tokenizer(["<pad>", "<unk>"]).encode([None])


# --- weak cases: files that are not UTF-8 -----------------------------------------


def test_vocab_txt_that_is_not_utf8_is_named_with_its_byte(tmp_path):
    (tmp_path / "vocab.txt").write_bytes(b"<pad>\n<unk>\nok\ncaf\xe9\n")
    message = r"vocab\.txt is not valid UTF-8: .* byte offset 18 \(line 4\): b'\\xe9'"
    with pytest.raises(ValueError, match=message) as error:
        Tokenizer.load(tmp_path, seq_len=4)
    assert str(tmp_path / "vocab.txt") in str(error.value)
    with pytest.raises(ValueError, match=message):
        read_vocab(tmp_path)


def test_labels_txt_that_is_not_utf8_is_named_with_its_byte(tmp_path):
    (tmp_path / "labels.txt").write_bytes(b"neg\npos\xff\n")
    with pytest.raises(ValueError, match=r"labels\.txt .* byte offset 7 \(line 2\)"):
        load_labels(tmp_path)


def test_read_utf8_names_a_tsv_and_keeps_its_line_ends(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_bytes("1\tgood café\r\n0\tbad\n".encode())
    assert read_utf8(path) == "1\tgood café\r\n0\tbad\n"
    path.write_bytes(b"1\tgood\n0\tbad \xc3(\n")
    with pytest.raises(ValueError, match=r"test\.tsv .* byte offset 13 \(line 2\)"):
        read_utf8(path)


# --- weak cases: tokens the rules never make --------------------------------------


def test_vocabulary_tokens_the_rules_never_make_are_listed_in_a_warning():
    vocabulary = ["<pad>", "<unk>", "the", "The", "film.", "ok"]
    with pytest.warns(UserWarning, match="2 of the 6 tokens of `vocabulary`") as record:
        tokenizer = Tokenizer(vocabulary)
    message = str(record[0].message)
    assert "vocabulary[3]='The' (made as ['the'])" in message
    assert "vocabulary[4]='film.' (made as ['film', '.'])" in message
    assert TOKENIZER_VERSION in message
    assert tokenizer.encode(["The film."]).tolist()[0][:3] == [2, 1, 1]


def test_loading_such_a_vocabulary_names_the_file(tmp_path):
    words = [f"Word{index}" for index in range(12)]
    (tmp_path / "vocab.txt").write_text("\n".join(["<pad>", "<unk>", *words]) + "\n")
    with pytest.warns(UserWarning, match=r"12 of the 14 tokens of .*vocab\.txt"):
        Tokenizer.load(tmp_path, seq_len=4)
    with pytest.warns(UserWarning, match="and 2 more"):
        Tokenizer.load(tmp_path, seq_len=4)


@pytest.mark.parametrize("build", ["init", "from_texts"])
def test_an_absurd_seq_len_is_refused_before_any_work(build):
    from tflite_lowrank.data.tokenizer import MAX_SEQ_LEN, Tokenizer

    message = r"`seq_len` must be <= 1000000. Received: seq_len=10+$"
    with pytest.raises(ValueError, match=message):
        if build == "init":
            Tokenizer(["<pad>", "<unk>", "a"], seq_len=10**12)
        else:
            Tokenizer.from_texts(["a b"], seq_len=10**12)
    assert (
        Tokenizer(["<pad>", "<unk>", "a"], seq_len=MAX_SEQ_LEN).seq_len == MAX_SEQ_LEN
    )
