"""Public import path `tflite_lowrank.fold`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.export.fold`.
"""

from tflite_lowrank.export.fold import (  # noqa: F401
    FoldResult,
    LowRankEmbedding,
    fold_projection,
)

__all__ = [
    "LowRankEmbedding",
    "FoldResult",
    "fold_projection",
]
