"""Public import path `tflite_lowrank.datasets`, kept stable for users.

It re-exports the public names of the modules that hold the code,
`tflite_lowrank.data.datasets` and `tflite_lowrank.data.glove`.
"""

from tflite_lowrank.data.datasets import (  # noqa: F401
    DATASETS,
    TextDataset,
    TextSplit,
    load_dataset,
)
from tflite_lowrank.data.glove import GLOVE_DIM, WordVectors, load_glove  # noqa: F401

__all__ = [
    "DATASETS",
    "GLOVE_DIM",
    "TextSplit",
    "TextDataset",
    "WordVectors",
    "load_dataset",
    "load_glove",
]
