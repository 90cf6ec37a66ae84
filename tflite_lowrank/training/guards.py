"""The run's guards: one callback per layer, and the checks around the split.

`_check_token_counts` (in the constructor) refuses counts that cannot weight the
bands; `_claim_layer` (at `set_model`) refuses a second `EmbeddingFactorization` for
the same layer in one `fit()` and `_release_layer` (at `on_train_begin`) lets it go;
`_check_finite_table` refuses a table with NaN or infinite values at the split,
before the optimizer is replaced; `_warn_if_not_split` says when `fit()` ended
before the split.
"""

from __future__ import annotations

import logging
import weakref

import keras
import numpy as np

from tflite_lowrank._keras import adapter

# The messages are the callback's.
logger = logging.getLogger("tflite_lowrank.training.callback")

_OWNER_ATTRIBUTE = "_tflite_lowrank_split_owner"


def _warn_if_not_split(at_epoch: int, params, layer_name) -> None:
    """At the end of a `fit()` that ended before the split: a warning saying so."""
    epochs = (params or {}).get("epochs")
    if epochs is not None and at_epoch < epochs:
        logger.warning(
            "Training ended before epoch %d completed: layer '%s' was not "
            "factorized (did a callback such as EarlyStopping stop training?).",
            at_epoch,
            layer_name,
        )


def _check_token_counts(token_counts) -> None:
    """Raises unless `token_counts` is `None` or 1-D counts, finite, >= 0, not all 0.

    Their length is checked against the layer's `input_dim` when `fit()` starts.
    """
    if token_counts is None:
        return
    try:
        counts = np.asarray(token_counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "`token_counts` must be a 1-D array of counts, one per token id. "
            f"Received: token_counts={token_counts!r} (of type "
            f"{type(token_counts).__name__})"
        ) from None
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(
            "`token_counts` must be a 1-D array of counts, one per token id. "
            f"Received: token_counts with shape {counts.shape}"
        )
    bad = ~np.isfinite(counts) | (counts < 0)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "`token_counts` must hold how often each id occurs: finite counts >= 0. "
            f"{int(bad.sum())} of its {counts.size} values are negative, NaN or "
            f"infinite. Received: token_counts[{index}]={float(counts[index])!r}"
        )
    if not counts.sum() > 0:
        raise ValueError(
            f"`token_counts` are all 0 ({counts.size} ids): they would give every "
            "band the weight 0. Pass the counts of the training split, or "
            "`token_counts=None` for ids sorted by frequency. "
            "Received: token_counts with sum 0"
        )


def _claim_layer(callback, layer) -> None:
    """Marks `layer` as `callback`'s for this `fit()`; raises if another one has it.

    Keras calls every callback's `set_model` before any `on_train_begin`, so two
    `EmbeddingFactorization`s given to the same `fit()` for the same layer meet here,
    before any training. The mark is a weak reference stored on the layer object
    (`_tflite_lowrank_split_owner`); `_release_layer` removes it at the owner's
    `on_train_begin`. A mark left by a `fit()` that failed before training started
    is replaced when its callback is gone or is given to `fit()` again.
    """
    reference = getattr(layer, _OWNER_ATTRIBUTE, None)
    owner = reference() if reference is not None else None
    if owner is not None and owner is not callback:
        _release_layer(owner, layer)  # This `fit()` stops here: nothing is held.
        raise ValueError(
            f"Two `EmbeddingFactorization` callbacks split layer '{layer.name}' in "
            "the same `fit()`; a layer is split once. Give `fit()` one of them "
            "(the other's `layer_name` may name another Embedding). "
            f"Received: layer_name={layer.name!r} for both"
        )
    adapter.set_untracked_attribute(layer, _OWNER_ATTRIBUTE, weakref.ref(callback))


def _release_layer(callback, layer) -> None:
    """Removes `callback`'s mark from `layer` (see `_claim_layer`), if it is there."""
    reference = getattr(layer, _OWNER_ATTRIBUTE, None)
    if reference is not None and reference() in (callback, None):
        adapter.delete_untracked_attribute(layer, _OWNER_ATTRIBUTE)


def _check_finite_table(layer, epoch: int) -> None:
    """Raises at the split if `layer`'s table holds NaN or infinite values.

    Checked before anything changes (the optimizer included): the SVD of such a
    table has no meaning, and the factors would carry the NaNs on.
    """
    finite = keras.ops.isfinite(layer.embeddings)
    if bool(keras.ops.all(finite)):
        return
    rows = np.flatnonzero(~np.all(keras.ops.convert_to_numpy(finite), axis=1))
    raise ValueError(
        f"The table of layer '{layer.name}' holds NaN or infinite values after "
        f"epoch {epoch} ({len(rows)} of {layer.input_dim} rows, e.g. row "
        f"{int(rows[0])}): training diverged before the split, and a table that "
        "is not finite cannot be factorized. A common cause is a masked mean "
        "(`GlobalAveragePooling1D` after `mask_zero=True`) over a row that is "
        "all padding (id 0), which divides by zero; drop such rows or lower the "
        f"learning rate. Received: layer_name={layer.name!r}, epoch={epoch}"
    )
