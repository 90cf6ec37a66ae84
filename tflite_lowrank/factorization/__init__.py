"""The maths of the split, in NumPy only (no Keras, no TensorFlow).

Truncated SVD and rank rules (`svd`), frequency bands (`bands`), the allocation of a
parameter budget over bands (`band_ranks`), the lookups bands cost and a layout chosen
under a latency budget too (`layout`), and the metric weighting of the SVD
(`weighting`).
"""

from tflite_lowrank.factorization.band_ranks import (
    DEFAULT_NUM_BANDS,
    BandAllocation,
    allocate_band_ranks,
    frequency_order,
    parameter_budget,
)
from tflite_lowrank.factorization.bands import (
    band_slices,
    banded_svd,
    geometric_boundaries,
    num_band_parameters,
    reconstruct_table,
)
from tflite_lowrank.factorization.layout import (
    Layout,
    LookupStep,
    lookup_steps,
    num_lookup_ops,
    plan_layout,
)
from tflite_lowrank.factorization.svd import (
    SVD_METHODS,
    rank_for_compression,
    rank_for_energy,
    singular_values,
    truncated_svd,
)

__all__ = [
    "SVD_METHODS",
    "truncated_svd",
    "singular_values",
    "rank_for_compression",
    "rank_for_energy",
    "DEFAULT_NUM_BANDS",
    "BandAllocation",
    "allocate_band_ranks",
    "frequency_order",
    "parameter_budget",
    "band_slices",
    "banded_svd",
    "geometric_boundaries",
    "num_band_parameters",
    "reconstruct_table",
    "Layout",
    "LookupStep",
    "lookup_steps",
    "num_lookup_ops",
    "plan_layout",
]
