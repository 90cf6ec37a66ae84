"""Public import path `tflite_lowrank.text`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.data.tokenizer`.
"""

from tflite_lowrank.data.tokenizer import (  # noqa: F401
    DEFAULT_SEQ_LEN,
    LABELS_FILENAME,
    PAD_ID,
    PAD_TOKEN,
    TOKENIZER_VERSION,
    UNK_ID,
    UNK_TOKEN,
    VOCAB_FILENAME,
    Tokenizer,
    clean_text,
    load_labels,
    save_labels,
)

__all__ = [
    "TOKENIZER_VERSION",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "PAD_ID",
    "UNK_ID",
    "VOCAB_FILENAME",
    "LABELS_FILENAME",
    "DEFAULT_SEQ_LEN",
    "clean_text",
    "Tokenizer",
    "save_labels",
    "load_labels",
]
