"""The split during `fit()`: `EmbeddingFactorization` and its CALR schedule.

`callback` holds the callback; `arguments` checks and resolves its arguments,
`factors` plans the factors of a split, `consumer` and `calibration` weight the SVD,
`coordination` and `resume` keep other Keras callbacks and backups consistent with the
split, `optimizer` installs the fresh optimizer, `schedules` the CALR schedule and
`result` the `FactorizationResult`.
"""

from tflite_lowrank.training.callback import EmbeddingFactorization
from tflite_lowrank.training.result import FactorizationResult
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

__all__ = [
    "EmbeddingFactorization",
    "FactorizationResult",
    "CyclicalAnnealedLearningRate",
]
