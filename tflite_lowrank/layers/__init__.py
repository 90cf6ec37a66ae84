"""The factorized embedding layers, the in-place swap to them, and `load_model`.

`LowRankEmbedding` (one pair of factors) and `BandedLowRankEmbedding` (one pair per
frequency band) replace a `keras.layers.Embedding`; their reversible siblings replace a
KerasHub `ReversibleEmbedding`. `swap` turns a built embedding into one of them in
place; `loading` reads a `.keras` file whose factorized layer sits inside a custom
layer.
"""

from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.loading import load_model
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.layers.reversible import (
    ReversibleBandedLowRankEmbedding,
    ReversibleLowRankEmbedding,
)

__all__ = [
    "LowRankEmbedding",
    "BandedLowRankEmbedding",
    "ReversibleLowRankEmbedding",
    "ReversibleBandedLowRankEmbedding",
    "load_model",
]
