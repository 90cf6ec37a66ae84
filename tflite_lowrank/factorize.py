"""Public import path `tflite_lowrank.factorize`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.compression.svd`.
"""

from tflite_lowrank.compression.svd import (  # noqa: F401
    SVD_METHODS,
    rank_for_compression,
    rank_for_energy,
    singular_values,
    truncated_svd,
)

__all__ = [
    "SVD_METHODS",
    "rank_for_compression",
    "rank_for_energy",
    "singular_values",
    "truncated_svd",
]
