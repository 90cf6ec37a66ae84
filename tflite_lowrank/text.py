"""Public import path `tflite_lowrank.text`, kept stable for users.

It re-exports the public names of the modules that hold the code,
`tflite_lowrank.data.tokenizer`, `tflite_lowrank.data.text_vectorization` and
`tflite_lowrank.data.vocab_files`.
"""

from tflite_lowrank.data.text_vectorization import (  # noqa: F401
    TEXT_VECTORIZATION_VERSION,
    text_vectorization_tokens,
)
from tflite_lowrank.data.tokenizer import (  # noqa: F401
    DEFAULT_SEQ_LEN,
    MODES,
    PAD_ID,
    PAD_TOKEN,
    TOKENIZER_VERSION,
    UNK_ID,
    UNK_TOKEN,
    Tokenizer,
    clean_text,
)
from tflite_lowrank.data.vocab_files import (  # noqa: F401
    LABELS_FILENAME,
    VOCAB_FILENAME,
    load_labels,
    save_labels,
)

__all__ = [
    "TOKENIZER_VERSION",
    "TEXT_VECTORIZATION_VERSION",
    "MODES",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "PAD_ID",
    "UNK_ID",
    "VOCAB_FILENAME",
    "LABELS_FILENAME",
    "DEFAULT_SEQ_LEN",
    "clean_text",
    "text_vectorization_tokens",
    "Tokenizer",
    "save_labels",
    "load_labels",
]
