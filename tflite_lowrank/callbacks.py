"""Public import path `tflite_lowrank.callbacks`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.compression.callback` (and `truncated_svd`, which it exported before).
"""

from tflite_lowrank.compression.callback import (
    EmbeddingFactorization,
    FactorizationResult,
)
from tflite_lowrank.compression.svd import truncated_svd

__all__ = [
    "truncated_svd",
    "FactorizationResult",
    "EmbeddingFactorization",
]
