"""The consumer weighting of the split (`weighting="consumer"`), and when
`weighting="auto"` takes it with a fixed basis (`consumer_kind`, `fits_training_data`).

The split's data-free weighting reads the input kernel `K` (D x n) of the layer that
reads the embedding's vectors (its first linear consumer, found by
`tflite_lowrank._keras.graph.find_consumer`): the model sees an embedding vector `e`
only through `K^T e`, so the directions of the embedding space that `K` reads are
the ones to keep, and `K K^T` (D x D) weights the split as the loss gradient's
covariance does with calibration data. `export.fold` folds the factors' projection
into the same kernel.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from tflite_lowrank._keras.graph import (
    RECURRENT_LAYERS,
    NoConsumer,
    find_consumer,
    input_kernel,
)

# The fallback messages are the callback's (`consumer_weighting` runs in its split),
# as `calibration.split_covariance`'s are.
logger = logging.getLogger("tflite_lowrank.training.callback")


def check_consumer(model: keras.Model, embedding) -> None:
    """For `weighting="consumer"`: raises `ValueError` unless `embedding` has one."""
    try:
        find_consumer(model, embedding)
    except NoConsumer as error:
        raise ValueError(
            '`weighting="consumer"` needs a linear layer reading the vectors of '
            f"layer '{embedding.name}' (LSTM, GRU, SimpleRNN, Dense, Conv1D, or a "
            f'mean over time then Dense), but {error}. Use weighting="none" (the '
            'plain SVD). Received: weighting="consumer"'
        ) from None


def consumer_kind(model: keras.Model, embedding) -> str | None:
    """`"recurrent"` when a recurrent layer (also in `Bidirectional`) reads
    `embedding`'s vectors, `"linear"` for another linear consumer that
    `weighting="consumer"` reads, None when there is none (`NoConsumer`)."""
    try:
        consumer, _ = find_consumer(model, embedding)
    except NoConsumer:
        return None
    recurrent = type(consumer).__name__ in (*RECURRENT_LAYERS, "Bidirectional")
    return "recurrent" if recurrent else "linear"


def is_recurrent(model: keras.Model, embedding) -> bool:
    """Whether a recurrent layer (also in `Bidirectional`) reads `embedding`'s vectors.

    `False` when the consumer is another layer or there is none (`NoConsumer`).
    """
    return consumer_kind(model, embedding) == "recurrent"


def consumer_weighting(
    model: keras.Model, embedding
) -> tuple[np.ndarray | None, str | None]:
    """The covariance that weights the split of `embedding`, and its consumer's name.

    `weighting="consumer"`'s counterpart of `calibration.split_covariance`:
    `consumer_covariance` of the layer reading the vectors. `(None, None)`, with a
    log line, when there is none (`check_consumer` refused that when `fit()`
    started) or its kernel is zero or not finite: the split is then the plain SVD.
    """
    try:
        consumer, _ = find_consumer(model, embedding)
    except NoConsumer as error:
        logger.warning(
            "weighting: no linear consumer for layer '%s' (%s); using the "
            "plain truncated SVD.",
            embedding.name,
            error,
        )
        return None, None
    covariance = consumer_covariance(consumer)
    if not (np.all(np.isfinite(covariance)) and np.trace(covariance) > 0.0):
        logger.info(
            "weighting: the input kernel of '%s' is zero or not finite; using "
            "the plain truncated SVD for layer '%s'.",
            consumer.name,
            embedding.name,
        )
        return None, None
    return covariance, consumer.name


def consumer_covariance(consumer) -> np.ndarray:
    """`sum K K^T` (D x D, float64) over the consumer's input kernels.

    A `Conv1D` kernel `(w, D, f)` counts each of its `w` taps; a `Bidirectional`
    layer both directions.
    """
    owners = (
        (consumer.forward_layer, consumer.backward_layer)
        if type(consumer).__name__ == "Bidirectional"
        else (consumer,)
    )
    covariance = None
    for owner in owners:
        kernel = np.asarray(
            keras.ops.convert_to_numpy(input_kernel(owner)), dtype=np.float64
        )
        if kernel.ndim == 3:  # Conv1D: (width, D, filters) -> (D, width * filters).
            kernel = np.transpose(kernel, (1, 0, 2)).reshape(kernel.shape[1], -1)
        part = kernel @ kernel.T
        covariance = part if covariance is None else covariance + part
    return covariance


def training_accuracy(logs) -> float | None:
    """The mean of a `fit()` epoch's logged training accuracies, or None.

    Every logged metric whose name ends in `accuracy` or `acc` counts
    (`"accuracy"`, `"sparse_categorical_accuracy"`, `"head_a_accuracy"`, ...), the
    validation ones (`"val_..."`) excepted; None when there is none or one is not a
    finite number.
    """
    values = [
        value
        for name, value in (logs or {}).items()
        if not name.startswith("val_") and name.endswith(("accuracy", "acc"))
    ]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    if not values or not all(np.isfinite(values)):
        return None
    return float(np.mean(values))


def fits_training_data(accuracy: float | None, threshold: float | None) -> bool:
    """Whether a training accuracy reaches a recipe's `fixed_basis_above`.

    >>> fits_training_data(0.97, 0.95), fits_training_data(0.9, 0.95)
    (True, False)
    >>> fits_training_data(None, 0.95), fits_training_data(0.99, None)
    (False, False)
    """
    return accuracy is not None and threshold is not None and accuracy >= threshold
