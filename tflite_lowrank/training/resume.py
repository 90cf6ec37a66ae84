"""Resuming `fit()` from a `BackupAndRestore` backup, and the weights the split takes.

A backup written after the split holds the factors, not the table, and the state of
the fresh optimizer. Before the backup is loaded, the model that `fit()` restarts with
must have the same variables: `resume_split` finds the split marker
(`coordination._find_marker`), swaps the layer from the marker's config and weights
(`swap._swap_from_config`), installs the fresh optimizer and rebuilds the step
functions.

`BestWeights` keeps the weights of the pre-split epoch with the best `monitor` value
for `split_from="best"` (`resolve_monitor`: the callback's `monitor`, else a
coordinated `EarlyStopping`'s, else `"val_loss"`; maximized for accuracy, AUC,
precision, recall and F-scores, as `EarlyStopping(mode="auto")` does), restored right
before the split; without that value in the logs, the last weights are split. With a
coordinated `BackupAndRestore` the copy is also written into its folder
(`tflite_lowrank_best_weights.npz`, atomically), so that a run killed before the split
and restarted splits the same weights as one never killed. Private helpers of
`EmbeddingFactorization`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from tflite_lowrank.layers.swap import _swap_from_config
from tflite_lowrank.training.consumer import training_accuracy
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


_MAXIMIZED = ("acc", "auc", "precision", "recall", "f1", "fbeta")
_BEST_NAME = "tflite_lowrank_best_weights.npz"


def resolve_monitor(monitor: str | None, coordinate_with) -> str:
    """`monitor`, else a coordinated `EarlyStopping`'s, else `"val_loss"`."""
    if monitor is not None:
        return monitor
    for callback in coordinate_with:
        if isinstance(callback, keras.callbacks.EarlyStopping):
            return callback.monitor
    return "val_loss"


def maximized(monitor: str) -> bool:
    """Whether a larger `monitor` value is better (from its name)."""
    name = monitor.lower().removeprefix("val_")
    return any(part in name for part in _MAXIMIZED)


class BestWeights:
    """The model's weights (a host copy) at the best `monitor` value seen so far,
    with that epoch's logged training accuracy (`consumer.training_accuracy`, for
    `fixed_basis_above`), also kept in `folders` (the coordinated backups' folders)."""

    def __init__(self, monitor: str, folders: Sequence[str] = ()):
        self.monitor, self.maximize = monitor, maximized(monitor)
        self.folders = list(folders)
        self.epoch: int | None = None
        self.value: float | None = None
        self.accuracy: float | None = None
        self.last_epoch: int | None = None
        self._weights: list[np.ndarray] | None = None
        self._loaded = False

    def load(self, model) -> None:
        """Reads a copy a killed run left in a backup folder (checked by `start`)."""
        shapes = [tuple(w.shape) for w in model.get_weights()]
        for folder in self.folders:
            path = os.path.join(folder, _BEST_NAME)
            if not os.path.isfile(path):
                continue
            with np.load(path) as saved:
                weights = [saved[f"w{i}"] for i in range(int(saved["count"]))]
                if (
                    str(saved["monitor"]) != self.monitor
                    or [w.shape for w in weights] != shapes
                ):
                    continue
                self.epoch, self.value = int(saved["epoch"]), float(saved["value"])
                accuracy = float(saved.get("accuracy", np.nan))
                self.accuracy = None if np.isnan(accuracy) else accuracy
            self._weights, self._loaded = weights, True
            return

    def start(self, epoch: int) -> None:
        """At the first epoch `fit()` runs: a loaded copy counts only if its epoch
        came before it (the backup holds that epoch); a fresh run drops it."""
        if not self._loaded:
            return
        self._loaded = False
        if self.epoch is not None and self.epoch < epoch:
            self.last_epoch = epoch - 1
            return
        self.epoch = self.value = self.accuracy = self._weights = None

    def _save(self) -> None:
        for folder in self.folders:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, _BEST_NAME)
            temporary = path + ".tmp.npz"
            arrays = {f"w{i}": w for i, w in enumerate(self._weights)}
            np.savez(
                temporary,
                count=len(self._weights),
                epoch=self.epoch,
                value=self.value,
                accuracy=np.nan if self.accuracy is None else self.accuracy,
                monitor=self.monitor,
                **arrays,
            )
            os.replace(temporary, path)

    def update(self, epoch: int, logs: dict | None, model) -> None:
        """Records epoch `epoch` (0-based, as `on_epoch_end` gets it)."""
        self.last_epoch = epoch
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(float(value)):
            return
        value = float(value)
        if self.value is None or (
            value > self.value if self.maximize else value < self.value
        ):
            self.epoch, self.value = epoch, value
            self.accuracy = training_accuracy(logs)
            self._weights = [np.array(w, copy=True) for w in model.get_weights()]
            self._save()

    def restore(self, model, verbose: int = 1) -> int | None:
        """Sets the best epoch's weights unless it is the last; returns its 1-based
        number, or `None` when the model keeps its weights (also when no epoch
        ended before the split, as with `split_now`)."""
        if self._weights is None:
            if self.last_epoch is not None and verbose:
                logger.info(
                    "split_from='best': no '%s' in the logs of the epochs before "
                    "the split (fit() without validation_data?); the split "
                    "factorizes the last epoch's weights.",
                    self.monitor,
                )
            return None
        if self.epoch == self.last_epoch:
            return None
        model.set_weights(self._weights)
        return self.epoch + 1

    def clear(self) -> None:
        """Frees the copy and removes its files (after the split)."""
        self._weights = None
        for folder in self.folders:
            path = os.path.join(folder, _BEST_NAME)
            if os.path.isfile(path):
                os.remove(path)
