"""An accuracy budget instead of a size budget (`max_dev_drop`).

Right before the split, `choose_compression` evaluates each candidate compression on
the callback's `validation_data`, with forward passes only: the table is replaced by
the product of that candidate's factors (the plain SVD in the split's bands), the
model's accuracy is measured, and the table is put back. It keeps the
highest compression whose accuracy is within `max_dev_drop` points of the full
model's (the least compressed candidate if none is). Retraining after the split
then usually recovers part of that drop, and a weighted split (calibration or
consumer weighting) is closer to the full model than the plain SVD, so the budget is
conservative.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from tflite_lowrank.factorization.bands import reconstruct_table
from tflite_lowrank.factorization.svd import rank_for_compression
from tflite_lowrank.layers.factors import plan_factors
from tflite_lowrank.utils.checks import check_compression

logger = logging.getLogger("tflite_lowrank.training.callback")

_BATCH_SIZE = 256


def check_budget(compression, max_dev_drop, validation_data, *, rank, energy):
    """Checks the accuracy-budget arguments; returns `compression` to store.

    Without `max_dev_drop`, `compression` is a float or `None` (checked with the
    other arguments). With it, `compression` is a sequence of candidate
    compressions (returned as a sorted tuple), `rank` and `energy` are `None`, and
    `validation_data` is an `(x, y)` pair of arrays of the same length.
    """
    is_sequence = isinstance(compression, list | tuple | np.ndarray)
    if max_dev_drop is None:
        if is_sequence:
            raise ValueError(
                "A sequence of compressions is a set of candidates for an accuracy "
                "budget: pass `max_dev_drop` (and `validation_data`) too, or one "
                f"compression. Received: compression={compression!r}"
            )
        if validation_data is not None:
            raise ValueError(
                "`validation_data` is for the accuracy budget: pass `max_dev_drop` "
                "too, or leave it out. Received: max_dev_drop=None"
            )
        return compression
    if isinstance(max_dev_drop, bool) or not isinstance(
        max_dev_drop, int | float | np.integer | np.floating
    ):
        raise TypeError(
            "`max_dev_drop` must be a number of accuracy points (e.g. 0.5). "
            f"Received: max_dev_drop={max_dev_drop!r}"
        )
    if not 0.0 <= max_dev_drop < 100.0:
        raise ValueError(
            "`max_dev_drop` must be in [0, 100) accuracy points. "
            f"Received: max_dev_drop={max_dev_drop!r}"
        )
    if (
        rank is not None
        or energy is not None
        or not is_sequence
        or not len(compression)
    ):
        raise ValueError(
            "With `max_dev_drop`, pass the candidate budgets as `compression`, a "
            "sequence of fractions such as (0.8, 0.9, 0.95), and neither `rank` nor "
            f"`energy`. Received: compression={compression!r}, rank={rank!r}, "
            f"energy={energy!r}"
        )
    for value in compression:
        check_compression(value)
    if (
        not isinstance(validation_data, tuple | list)
        or len(validation_data) != 2
        or len(validation_data[0]) != len(validation_data[1])
        or not len(validation_data[0])
    ):
        raise ValueError(
            "`max_dev_drop` needs `validation_data=(x_dev, y_dev)`, two arrays of "
            "the same (non-zero) length, to measure the drop on. Received: "
            f"validation_data={_describe_data(validation_data)}"
        )
    return tuple(sorted({float(value) for value in compression}))


def _describe_data(data) -> str:
    if isinstance(data, tuple | list):
        lengths = [len(part) if hasattr(part, "__len__") else "?" for part in data]
        return f"a {type(data).__name__} of {len(data)} with lengths {lengths}"
    return repr(data)


def choose_compression(model, layer, settings) -> tuple[float, tuple]:
    """`(compression, evaluations)`: the candidate the accuracy budget keeps.

    `evaluations` lists `(compression, accuracy)`, the full model first as
    `(0.0, accuracy)`, accuracies in [0, 1].
    """
    x, y = settings.validation_data
    table = np.array(layer.embeddings)
    input_dim, output_dim = table.shape
    baseline = _accuracy(model, x, y)
    evaluations = [(0.0, baseline)]
    chosen = None
    try:
        for compression in sorted(settings.compression, reverse=True):
            rank = rank_for_compression(input_dim, output_dim, compression)
            factors = settings_factors(table, rank, settings)
            layer.embeddings.assign(reconstruct_table(factors.pairs))
            accuracy = _accuracy(model, x, y)
            evaluations.append((float(compression), accuracy))
            if 100.0 * (baseline - accuracy) <= settings.max_dev_drop:
                chosen = float(compression)
                break
    finally:
        layer.embeddings.assign(table)
    if chosen is None:
        chosen = float(min(settings.compression))
    logger.info(
        "Accuracy budget (max_dev_drop=%s points): full model %.4f; %s; chose "
        "compression=%s.",
        settings.max_dev_drop,
        baseline,
        ", ".join(f"compression {c}: {a:.4f}" for c, a in evaluations[1:]),
        chosen,
    )
    return chosen, tuple(evaluations)


def settings_factors(table, rank: int, settings, covariance=None):
    """`plan_factors` of `table` at `rank` in the bands and SVD `settings` name."""
    return plan_factors(
        table,
        rank=rank,
        bands=settings.bands,
        token_counts=settings.token_counts,
        svd_method=settings.svd_method,
        balanced=settings.balanced,
        gradient_covariance=covariance,
    )


def _accuracy(model, x, y) -> float:
    """The model's accuracy on `(x, y)`: argmax, or threshold 0.5 for one output."""
    outputs = model.predict(x, batch_size=_BATCH_SIZE, verbose=0)
    outputs = np.asarray(keras.tree.flatten(outputs)[0])
    labels = np.asarray(y).reshape(len(outputs), -1)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        predictions = (outputs[:, 0] > _threshold(model)).astype(labels.dtype)
        return float(np.mean(predictions == labels[:, 0]))
    if labels.shape[1] > 1:  # one-hot labels
        labels = np.argmax(labels, axis=1)[:, None]
    return float(np.mean(np.argmax(outputs, axis=-1) == labels[:, 0]))


def _threshold(model) -> float:
    """0.5 for a sigmoid output; 0 for a logit (the same decision)."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    return 0.5 if activation == "sigmoid" else 0.0
