"""Public import path `tflite_lowrank.datasets`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.data.datasets`.
"""

from tflite_lowrank.data.datasets import (  # noqa: F401
    DATASETS,
    GLOVE_DIM,
    TextDataset,
    TextSplit,
    WordVectors,
    load_dataset,
    load_glove,
)

__all__ = [
    "DATASETS",
    "GLOVE_DIM",
    "TextSplit",
    "TextDataset",
    "WordVectors",
    "load_dataset",
    "load_glove",
]
