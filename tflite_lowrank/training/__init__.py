"""The split during `fit()`: `EmbeddingFactorization` and its CALR schedule.

`callback` holds the callback; `arguments` checks and resolves its arguments,
`factors` plans the factors of a split, `consumer` and `calibration` weight the SVD,
`coordination` and `resume` keep other Keras callbacks and backups consistent with the
split, `optimizer` installs the fresh optimizer, `schedules` the CALR schedule and
`result` the `FactorizationResult`; `recipe` the `SplitRecipe`, one printable value
for how the split factorizes and retrains, `basis` the hedged recipe's damped basis
and `budget` the accuracy budget (`max_dev_drop`).
"""

from tflite_lowrank.training.callback import EmbeddingFactorization
from tflite_lowrank.training.recipe import (
    SPLIT_RECIPES,
    FactorizationResult,
    SplitRecipe,
)
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

__all__ = [
    "EmbeddingFactorization",
    "FactorizationResult",
    "SplitRecipe",
    "SPLIT_RECIPES",
    "CyclicalAnnealedLearningRate",
]
