"""Public import path `tflite_lowrank.callbacks`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.compression.callback`.
"""

from tflite_lowrank.compression.callback import (  # noqa: F401
    EmbeddingFactorization,
    FactorizationResult,
    truncated_svd,
)

__all__ = [
    "truncated_svd",
    "FactorizationResult",
    "EmbeddingFactorization",
]
