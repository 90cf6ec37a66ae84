"""The callbacks `EmbeddingFactorization` coordinates with, and its backup marker.

Private helpers of `tflite_lowrank.training.callback`. The callbacks are the ones the
user lists in `coordinate_with` (checked by `_check_coordinate_with`); nothing here
looks at the call stack or at private attributes of Keras callbacks.

- `_checkpoint_bests` and `_reset_siblings` restart `EarlyStopping`,
  `ReduceLROnPlateau` and `ModelCheckpoint` at the split. A coordinated
  `ReduceLROnPlateau` scales the schedule through a float rate that the callback sets
  before each batch (`optimizer._drive_learning_rate`); `_warn_reduce_lr_on_plateau`
  warns that with `steps_per_execution > 1` that rate changes only every `n` steps;
  `_warn_not_attached` warns about a listed callback that `fit()` was not given.
- `BackupAndRestore` (through its public `backup_dir` only): `_SplitMarkers` writes
  the marker `tflite_lowrank_split.json` into the folder once a file there has been
  written after the split (so the backup holds the factorized model), and
  `_find_marker` finds it when a run restarts. The marker is JSON:

  ```
  {"format": 1, "layer_name": "embedding", "class_name": "LowRankEmbedding",
   "registered_name": "tflite_lowrank>LowRankEmbedding",
   "config": {... the factorized layer's get_config() ...},
   "weights": [{"name": "embeddings_a", "shape": [V, k]},
               {"name": "embeddings_b", "shape": [k, D]}],
   "epoch": 3}
  ```

  `epoch` counts the epochs completed before the split. The layer's class is named
  generically (its registered name and config), so any registered factorized layer
  class resumes the same way.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence

import keras
import numpy as np

from tflite_lowrank._keras import adapter
from tflite_lowrank.layers.swap import _base_layer_arguments

logger = logging.getLogger(__name__)

_MARKER_NAME = "tflite_lowrank_split.json"
_MARKER_FORMAT = 1


# ------------------------------------------------------------ the argument


def _check_coordinate_with(coordinate_with) -> tuple:
    """The callbacks to coordinate with, as a tuple; raises for anything else."""
    if isinstance(coordinate_with, keras.callbacks.Callback | str | bytes) or (
        not isinstance(coordinate_with, Sequence)
    ):
        raise TypeError(
            "`coordinate_with` must be a list or tuple of `keras.callbacks.Callback` "
            "objects (the ones also passed to `fit()`), e.g. "
            "`coordinate_with=[early_stopping, backup]`. "
            f"Received: coordinate_with={coordinate_with!r} (of type "
            f"{type(coordinate_with).__name__})"
        )
    for index, callback in enumerate(coordinate_with):
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(
                "`coordinate_with` must hold `keras.callbacks.Callback` objects "
                f"only; item {index} is a {type(callback).__name__}. "
                f"Received: coordinate_with={coordinate_with!r}"
            )
    return tuple(coordinate_with)


# ------------------------------------------------- restarts at the split


def _checkpoint_bests(callbacks) -> dict[int, object]:
    """Each `ModelCheckpoint`'s `best` as `fit()` starts, by `id`."""
    return {
        id(cb): cb.best
        for cb in callbacks
        if isinstance(cb, keras.callbacks.ModelCheckpoint)
    }


def _reset_siblings(callbacks, checkpoint_best: dict[int, object]) -> list[str]:
    """Restarts monitor callbacks so that "best" refers to the factorized model."""
    reset = []
    for cb in callbacks:
        if isinstance(
            cb, keras.callbacks.EarlyStopping | keras.callbacks.ReduceLROnPlateau
        ):
            cb.on_train_begin()
        elif isinstance(cb, keras.callbacks.ModelCheckpoint):
            cb.best = checkpoint_best.get(id(cb))
        else:
            continue
        reset.append(type(cb).__name__)
    return reset


def _warn_reduce_lr_on_plateau(learning_rate, callbacks) -> None:
    """Warns (for the caller's caller) if a driven schedule steps `n` steps at a time.

    A coordinated `ReduceLROnPlateau` with a schedule (a CALR name, a schedule, or
    `None` over a schedule) gets a float rate set before each batch; with
    `steps_per_execution=n` a batch is `n` steps, and the rate is constant over them.
    """
    for cb in callbacks:
        if not isinstance(cb, keras.callbacks.ReduceLROnPlateau) or cb.model is None:
            continue
        steps = getattr(cb.model, "steps_per_execution", 1) or 1
        if learning_rate is None:
            optimizer = cb.model.optimizer
            inner = getattr(optimizer, "inner_optimizer", optimizer)
            scheduled = inner is not None and isinstance(
                adapter.learning_rate_object(inner),
                keras.optimizers.schedules.LearningRateSchedule,
            )
        else:
            scheduled = not isinstance(
                learning_rate, int | float | np.integer | np.floating
            )
        if scheduled and int(steps) > 1:
            warnings.warn(
                "With a `ReduceLROnPlateau` in `coordinate_with`, "
                "`EmbeddingFactorization` sets the learning rate along its "
                "schedule before each batch; with `steps_per_execution` > 1 a "
                "batch is several steps, so the rate changes every "
                f"{int(steps)} steps only. Received: steps_per_execution="
                f"{int(steps)}, learning_rate={learning_rate!r}",
                stacklevel=3,
            )
            return


def _warn_not_attached(callbacks, model) -> None:
    """Warns about listed callbacks that this `fit()` was not given."""
    detached = [type(cb).__name__ for cb in callbacks if cb.model is not model]
    if detached:
        warnings.warn(
            "`EmbeddingFactorization` coordinates with callbacks that this `fit()` "
            f"was not given: {detached}. Pass the same objects to `fit(callbacks=...)` "
            "and to `coordinate_with`.",
            stacklevel=3,
        )


# ------------------------------------------------- the BackupAndRestore marker


def _backup_dirs(callbacks) -> list[str]:
    """The `backup_dir` of each `BackupAndRestore`, in order."""
    return [
        os.fspath(cb.backup_dir)
        for cb in callbacks
        if isinstance(cb, keras.callbacks.BackupAndRestore)
    ]


def _marker_payload(layer, epoch: int) -> dict:
    """The marker's content for a factorized `layer` (see the module docstring)."""
    return {
        "format": _MARKER_FORMAT,
        "layer_name": layer.name,
        "class_name": type(layer).__name__,
        "registered_name": keras.saving.get_registered_name(type(layer)),
        "config": layer.get_config(),
        "weights": [
            {"name": weight.name, "shape": [int(n) for n in weight.shape]}
            for weight in layer.weights
        ],
        "epoch": int(epoch),
    }


def _folder_state(folder: str) -> dict[str, tuple[int, int, int]]:
    """`(mtime_ns, size, inode)` of each file in `folder` but the marker's own."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    state = {}
    for entry in entries:
        if entry.name.startswith(_MARKER_NAME):  # the marker and its temporary
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:
            continue
        state[entry.name] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return state


class _SplitMarkers:
    """Writes the marker into each backup folder once it holds post-split weights.

    Created at the split, it records the state of each folder (the files' times,
    sizes and inodes). `write_ready()` is called from the callback's later hooks:
    when a file of a folder was created or rewritten since the split, the backup
    there was written by the factorized model, and the marker is written next to it,
    atomically (a temporary file, then `os.replace`). A folder that no longer
    exists (`BackupAndRestore` deletes it when training ends) is left alone. On a
    file system with coarse timestamps a rewrite within the same tick still shows
    in the size: the post-split weights file holds the factors, not the table.
    """

    def __init__(self, folders: Sequence[str], payload: dict):
        self._payload = payload
        self._pending = {folder: _folder_state(folder) for folder in folders}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def write_ready(self) -> None:
        for folder, before in list(self._pending.items()):
            after = _folder_state(folder)
            if any(before.get(name) != state for name, state in after.items()):
                del self._pending[folder]
                if _write_marker(folder, self._payload):
                    logger.debug("Wrote the split marker into '%s'.", folder)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Not JSON serializable: {value!r}")


def _write_marker(folder: str, payload: dict) -> bool:
    path = os.path.join(folder, _MARKER_NAME)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(payload, file, indent=1, default=_json_default)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except FileNotFoundError:  # The folder was deleted meanwhile.
        return False
    return True


def _find_marker(callbacks, layer) -> tuple[str, dict, type] | None:
    """The first backup folder with a marker, the marker and the class it names.

    Raises if the marker does not match `layer`. A marker in a folder that holds
    nothing else (its backup was deleted by hand) is stale: `BackupAndRestore` will
    start from scratch, so the marker is removed, with a warning, and ignored.
    """
    for folder in _backup_dirs(callbacks):
        path = os.path.join(folder, _MARKER_NAME)
        try:
            with open(path, encoding="utf-8") as file:
                marker = json.load(file)
        except FileNotFoundError:
            continue
        except json.JSONDecodeError as error:
            raise ValueError(
                f"The split marker '{path}' is not valid JSON. Delete the backup "
                f"folder to start training over. Received: backup_dir={folder!r}"
            ) from error
        if not _folder_state(folder):
            logger.warning(
                "'%s' holds a split marker but no backup: removed the marker.", folder
            )
            os.remove(path)
            continue
        return folder, marker, _factorized_class(marker, layer, folder)
    return None


def _factorized_class(marker: dict, layer, folder: str) -> type:
    """The layer class a marker names, after checking it matches `layer`."""
    if marker.get("format") != _MARKER_FORMAT:
        raise ValueError(
            f"The split marker in '{folder}' has an unknown format. Delete the "
            f"backup folder to start over. Received: format={marker.get('format')!r}"
        )
    new_class = keras.saving.get_registered_object(marker["registered_name"])
    if new_class is None:
        raise ValueError(
            f"The backup in '{folder}' holds a `{marker['class_name']}` layer, which "
            "is not registered: import the module that defines it before `fit()`. "
            f"Received: registered_name={marker['registered_name']!r}"
        )
    # Constructor arguments both layers have (input_dim, output_dim, mask_zero).
    embedding_config = layer.get_config()
    mismatched = {
        key: (value, embedding_config[key])
        for key, value in marker["config"].items()
        if key in embedding_config
        and key not in _base_layer_arguments()
        and value != embedding_config[key]
    }
    if marker["layer_name"] != layer.name or mismatched:
        raise ValueError(
            f"The backup in '{folder}' holds layer '{marker['layer_name']}' "
            f"factorized, which does not match this model's layer '{layer.name}' "
            f"(backup vs model: {mismatched}). Use another `backup_dir` for "
            f"another model. Received: backup_dir={folder!r}"
        )
    return new_class
