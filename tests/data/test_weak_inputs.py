"""Weak cases of the tokenizer's files: files that are not UTF-8."""

import pytest

from tflite_lowrank.data.tokenizer import Tokenizer
from tflite_lowrank.data.vocab_files import load_labels, read_utf8, read_vocab

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
