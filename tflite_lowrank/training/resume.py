"""Resuming `fit()` from a `BackupAndRestore` backup written after the split.

A backup written after the split holds the factors, not the table, and the state of
the fresh optimizer. Before the backup is loaded, the model that `fit()` restarts with
must have the same variables: `resume_split` finds the split marker
(`coordination._find_marker`), swaps the layer from the marker's config and weights
(`swap._swap_from_config`), installs the fresh optimizer and rebuilds the step
functions. A private helper of `EmbeddingFactorization`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

from tflite_lowrank.layers.swap import _swap_from_config
from tflite_lowrank.training.coordination import _find_marker
from tflite_lowrank.training.optimizer import _describe, _finish_swap
from tflite_lowrank.training.recipe import FactorizationResult, SplitRecipe

# The callback's message (it runs in its `set_params`): the callback's logger, the
# name users configure.
logger = logging.getLogger("tflite_lowrank.training.callback")


def resume_split(
    model,
    layer,
    coordinate_with: Sequence,
    install_optimizer: Callable[[float, bool], None],
    *,
    verbose: int = 1,
) -> FactorizationResult | None:
    """Factorizes `layer` as the backup's marker says; `None` without a marker.

    Args:
        model: The model `fit()` trains, not yet restored from the backup.
        layer: The `keras.layers.Embedding` the callback splits.
        coordinate_with: The callbacks given to the callback (their
            `BackupAndRestore` folders are searched for the marker).
        install_optimizer: Installs the fresh optimizer for a split keeping the
            given fraction of the table's parameters, with a fixed basis or not
            (the second argument, from the backup's layer config).
        verbose: Logs the resumption when truthy.

    Returns:
        The `FactorizationResult` of the resumed split (`resumed=True`, no
        reconstruction error), or `None` if no backup is post-split.
    """
    found = _find_marker(coordinate_with, layer)
    if found is None:
        return None
    folder, marker, new_class = found
    start = time.perf_counter()
    input_dim, output_dim = layer.input_dim, layer.output_dim
    params_after = sum(math.prod(w["shape"]) for w in marker["weights"])
    fixed_basis = not marker["config"].get("train_basis", True)
    install_optimizer(params_after / (input_dim * output_dim), fixed_basis)
    with model.distribute_strategy.scope():
        _swap_from_config(layer, new_class, marker["config"], marker["weights"])
    _finish_swap(model)
    rank = marker["config"].get("rank")
    result = FactorizationResult(
        epoch=int(marker["epoch"]),
        layer_name=layer.name,
        input_dim=input_dim,
        output_dim=output_dim,
        rank=rank,
        params_before=input_dim * output_dim,
        params_after=params_after,
        relative_error=math.nan,
        seconds=time.perf_counter() - start,
        resumed=True,
        train_basis=not fixed_basis,
        recipe=(
            SplitRecipe.from_config(marker["recipe"]) if "recipe" in marker else None
        ),
    )
    if verbose:
        logger.info(
            "Resuming after the split: the backup in '%s' holds layer '%s' "
            "factorized (%s, rank %s); factorized the model and installed a "
            "fresh optimizer (%s) before the backup is loaded.",
            folder,
            layer.name,
            marker["class_name"],
            rank,
            _describe(model.optimizer),
        )
    return result
