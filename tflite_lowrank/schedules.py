"""Public import path `tflite_lowrank.schedules`, kept stable for users.

It re-exports the public names of the module that holds the code,
`tflite_lowrank.compression.schedules`.
"""

from tflite_lowrank.compression.schedules import (  # noqa: F401
    CyclicalAnnealedLearningRate,
)

__all__ = [
    "CyclicalAnnealedLearningRate",
]
