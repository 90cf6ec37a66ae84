"""The split itself: the SVD of a trained table and the swap to its factors.

`split_embedding` is what `EmbeddingFactorization` runs at the split (and
`split_now` outside `fit()`): it checks the table, runs the calibration pass,
installs the fresh optimizer (before the SVD, so the old one's slots are freed
first), computes the factors (`factors.plan_factors`) and swaps them into the layer
in place (`tflite_lowrank.layers.swap`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from tflite_lowrank.factorization.svd import _kept_fraction
from tflite_lowrank.training.arguments import (
    _rank_at_split,
    _resolve_train_basis,
    _resolve_weighting,
)
from tflite_lowrank.training.calibration import split_covariance
from tflite_lowrank.training.consumer import is_recurrent
from tflite_lowrank.training.factors import (
    install_factors,
    plan_factors,
    to_table_scale,
)
from tflite_lowrank.training.guards import _check_finite_table
from tflite_lowrank.training.optimizer import _finish_swap
from tflite_lowrank.training.result import FactorizationResult

logger = logging.getLogger("tflite_lowrank.training.callback")


def split_embedding(
    model,
    layer,
    settings,
    epoch: int,
    *,
    prepare: Callable[[float, np.ndarray | None], tuple],
) -> FactorizationResult:
    """Splits `layer` of `model` at `epoch` as `settings` (the callback) says.

    `prepare(kept, covariance)` weights the split and installs the fresh optimizer
    for a split keeping `kept` of the parameters; it returns
    `(covariance, consumer, fixed_basis)`.
    """
    start = time.perf_counter()
    input_dim, output_dim = layer.input_dim, layer.output_dim
    _check_finite_table(layer, epoch)  # Before anything changes.
    # The calibration pass needs the full model and its compiled loss.
    covariance, batches = split_covariance(
        model, layer, settings.calibration_data, settings.calibration_steps
    )

    def rank_at_split(table):
        return _rank_at_split(
            layer,
            table,
            rank=settings.rank,
            compression=settings.compression,
            energy=settings.energy,
        )

    # The fresh optimizer goes in before the SVD, so that the old one's slots
    # (as large as the table each, for Adam) are freed first; its default
    # schedule depends on the budget, so the rank comes first (`energy=`
    # needs the table's spectrum for it, computed with the old slots alive).
    if settings.energy is None:
        rank, wanted = rank_at_split(None)
        covariance, consumer, fixed_basis = prepare(
            _kept_fraction(rank, input_dim, output_dim), covariance
        )
    # One float32 copy (`ops.convert_to_numpy` would make two on the way).
    table = np.asarray(layer.embeddings)
    if settings.energy is not None:
        rank, wanted = rank_at_split(table)
        covariance, consumer, fixed_basis = prepare(
            _kept_fraction(rank, input_dim, output_dim), covariance
        )
    if wanted > rank:
        logger.warning(
            "energy=%s needs rank %d for layer '%s', which would not save "
            "parameters; using rank %d.",
            settings.energy,
            wanted,
            layer.name,
            rank,
        )
    factors = plan_factors(
        table,
        rank=rank,
        bands=settings.bands,
        token_counts=settings.token_counts,
        svd_method=settings.svd_method,
        balanced=settings.balanced,
        gradient_covariance=covariance,
    )
    del table, covariance
    if fixed_basis:
        factors = to_table_scale(factors)
    with model.distribute_strategy.scope():
        install_factors(layer, factors, train_basis=not fixed_basis)
    _finish_swap(model)
    result = FactorizationResult(
        epoch=epoch,
        layer_name=layer.name,
        input_dim=input_dim,
        output_dim=output_dim,
        rank=rank,
        params_before=input_dim * output_dim,
        params_after=factors.num_parameters,
        relative_error=factors.relative_error,
        seconds=time.perf_counter() - start,
        boundaries=factors.boundaries,
        band_ranks=factors.ranks,
        calibration_batches=batches,
        train_basis=not fixed_basis,
        consumer=consumer,
    )
    del factors
    return result


def resolve_recipe(model, layer, settings, kept: float) -> tuple[str, bool]:
    """`(weighting, fixed_basis)` for a split keeping `kept` of the parameters.

    `weighting` is `"none"` or `"consumer"`: `settings.weighting="auto"` resolved
    for this model and budget (`arguments._resolve_weighting`).
    """
    auto = settings.weighting == "auto"
    weighting = _resolve_weighting(
        settings.weighting,
        kept,
        calibrated=settings.calibration_data is not None,
        recurrent=auto and is_recurrent(model, layer),
    )
    recipe = auto and weighting == "consumer"
    return weighting, not _resolve_train_basis(settings.train_basis, kept, recipe)
