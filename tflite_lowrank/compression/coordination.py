"""The other callbacks of the `fit()` that `EmbeddingFactorization` splits in.

Private helpers of `tflite_lowrank.compression.callback`: `_calling_callback_list` finds
the run's `CallbackList`, `_checkpoint_bests` and `_reset_siblings` restart
`EarlyStopping`, `ReduceLROnPlateau` and `ModelCheckpoint` at the split,
`_warn_reduce_lr_on_plateau` warns that a `ReduceLROnPlateau` cannot change the
schedule, and `_post_split_backup` finds a `BackupAndRestore` backup written after the
split (and the rank it holds, read by `_rank_in_backup`).
"""

from __future__ import annotations

import inspect
import os
import re
import warnings

import keras

from tflite_lowrank.compression.layers import LowRankEmbedding

_LOW_RANK_GROUP = re.compile(r"(^|/)low_rank_embedding(_\d+)?$")


def _calling_callback_list(callback):
    """The `CallbackList` calling `callback.set_model`, found on the call stack.

    `fit()` builds its `CallbackList` and immediately calls `set_model` on every
    callback; the list is what lets the split coordinate with `EarlyStopping`,
    `ModelCheckpoint` and `BackupAndRestore` of the same run. `None` if the hook is
    called some other way.
    """
    frame = inspect.currentframe()
    try:
        for _ in range(16):
            frame = frame.f_back if frame is not None else None
            if frame is None:
                return None
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList) and any(
                cb is callback for cb in owner.callbacks
            ):
                return owner
        return None
    finally:
        del frame


def _checkpoint_bests(siblings) -> dict[int, object]:
    """Each `ModelCheckpoint`'s `best` as `fit()` starts, by `id`."""
    return {
        id(cb): cb.best
        for cb in siblings
        if isinstance(cb, keras.callbacks.ModelCheckpoint)
    }


def _reset_siblings(siblings, checkpoint_best: dict[int, object]) -> list[str]:
    """Restarts monitor callbacks so that "best" refers to the factorized model."""
    reset = []
    for cb in siblings:
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


def _warn_reduce_lr_on_plateau(learning_rate, siblings) -> None:
    """Warns (for the caller's caller) if a `ReduceLROnPlateau` meets a schedule."""
    if learning_rate is not None and not isinstance(learning_rate, int | float):
        for cb in siblings:
            if isinstance(cb, keras.callbacks.ReduceLROnPlateau):
                warnings.warn(
                    "`ReduceLROnPlateau` cannot change a learning-rate "
                    "schedule, and `EmbeddingFactorization` installs one at "
                    "the split: the first reduction after the split would "
                    "fail. Pass `learning_rate=None` (keep the current rate) "
                    "or a float. "
                    f"Received: learning_rate={learning_rate!r}",
                    stacklevel=3,
                )


def _post_split_backup(siblings, model, layer):
    """The first `BackupAndRestore` whose backup holds `layer` factorized, and its rank.

    `None` if no backup (or only one written before the split) exists.
    """
    for cb in siblings:
        if not isinstance(cb, keras.callbacks.BackupAndRestore):
            continue
        path = os.fspath(cb._weights_path)
        if not os.path.exists(path):
            continue
        rank = _rank_in_backup(path, model, layer)
        if rank is None:
            continue
        return cb, rank
    return None


def _rank_in_backup(path: str, model, layer) -> int | None:
    """Rank of the factorized `layer` in a weights file, `None` if it is not there.

    A `.weights.h5` file names each layer's group after its class, so a model saved
    after the split has one more `low_rank_embedding` group (with factors of shape
    `(V, k)` and `(k, D)`) than the model has `LowRankEmbedding` layers.
    """
    import h5py

    shape_pairs = []

    def visit(name, item):
        if not isinstance(item, h5py.Group) or not _LOW_RANK_GROUP.search(name):
            return
        group = item.get("vars")
        if group is None or "0" not in group or "1" not in group:
            return
        shape_pairs.append((tuple(group["0"].shape), tuple(group["1"].shape)))

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    ranks = [
        a[1]
        for a, b in shape_pairs
        if len(a) == 2
        and len(b) == 2
        and a[0] == layer.input_dim
        and b == (a[1], layer.output_dim)
    ]
    for existing in model._flatten_layers(include_self=False, recursive=True):
        if (
            isinstance(existing, LowRankEmbedding)
            and existing.input_dim == layer.input_dim
            and existing.output_dim == layer.output_dim
            and existing.rank in ranks
        ):
            ranks.remove(existing.rank)
    return int(ranks[0]) if ranks else None
