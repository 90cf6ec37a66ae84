"""Public import path `tflite_lowrank.layers`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.compression.layers`.
"""

from tflite_lowrank.compression.layers import (  # noqa: F401
    LowRankEmbedding,
)

__all__ = [
    "LowRankEmbedding",
]
