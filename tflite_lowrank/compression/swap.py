"""The in-place swap behind `EmbeddingFactorization`: find the table, factorize it.

Private helpers of `tflite_lowrank.compression.callback`: `_find_embedding` picks and
checks the `keras.layers.Embedding` to split, `_factorize_in_place` turns it into a
`LowRankEmbedding` holding the given factors, and `_relative_error` measures what the
factors lose.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
from keras import ops

from tflite_lowrank.compression.layers import LowRankEmbedding

# Attributes of `keras.layers.Embedding` that a `LowRankEmbedding` does not have.
_EMBEDDING_ONLY_ATTRIBUTES = (
    "embeddings_initializer",
    "embeddings_regularizer",
    "embeddings_constraint",
    "lora_rank",
    "lora_alpha",
    "lora_enabled",
    "quantization_config",
)
# Rows per chunk when measuring the reconstruction error (no V x D product in memory;
# about 20 MB of float64 temporaries at D = 300).
_ERROR_CHUNK_ROWS = 1 << 13


def _find_embedding(model, layer_name: str | None):
    layers = model._flatten_layers(include_self=False, recursive=True)
    embeddings = [layer for layer in layers if type(layer) is keras.layers.Embedding]
    if layer_name is None:
        if len(embeddings) != 1:
            raise ValueError(
                "`layer_name=None` means the model's only `Embedding` layer, but "
                f"the model has {len(embeddings)}: "
                f"{[layer.name for layer in embeddings]}. Pass `layer_name`. "
                "Received: layer_name=None"
            )
        layer = embeddings[0]
    else:
        matches = [layer for layer in layers if layer.name == layer_name]
        if not matches:
            raise ValueError(
                f"The model has no layer named '{layer_name}'. Its `Embedding` "
                f"layers are {[layer.name for layer in embeddings]}. "
                f"Received: layer_name={layer_name!r}"
            )
        layer = matches[0]
        if isinstance(layer, LowRankEmbedding):
            raise ValueError(
                f"Layer '{layer_name}' is already a `LowRankEmbedding` (factorized). "
                f"Received: layer_name={layer_name!r}"
            )
        if type(layer) is not keras.layers.Embedding:
            raise ValueError(
                f"Layer '{layer_name}' is a `{type(layer).__name__}`, not a "
                "`keras.layers.Embedding` (subclasses are not supported). The "
                f"model's `Embedding` layers are {[e.name for e in embeddings]}. "
                f"Received: layer_name={layer_name!r}"
            )
    if layer.quantization_mode is not None or getattr(layer, "lora_enabled", False):
        raise ValueError(
            f"Layer '{layer.name}' is quantized or has LoRA enabled; factorize the "
            "float table before quantizing, without LoRA. "
            f"Received: layer_name={layer_name!r}"
        )
    if layer.embeddings_regularizer is not None or layer.embeddings_constraint:
        warnings.warn(
            f"Layer '{layer.name}' has an `embeddings_regularizer` or "
            "`embeddings_constraint`; the factors after the split have neither.",
            stacklevel=3,
        )
    return layer


def _factorize_in_place(layer, embeddings_a: np.ndarray, embeddings_b: np.ndarray):
    """Turns a built `keras.layers.Embedding` into a `LowRankEmbedding`, in place.

    The layer object stays the same, so every model, node and reference that holds
    it (functional graphs, `Sequential`, attributes of subclassed models, a layer
    called twice) sees the factors at once. Its full table is untracked and
    released. Call inside the model's distribution strategy scope.
    """
    rank = int(embeddings_a.shape[1])
    del layer._embeddings  # Layer.__delattr__ untracks it and collects garbage
    for name in _EMBEDDING_ONLY_ATTRIBUTES:
        if name in vars(layer):
            delattr(layer, name)
    # `Layer.__new__` bound wrappers of `Embedding.build`/`quantize` to the instance.
    for name in ("build", "quantize"):
        if name in vars(layer):
            delattr(layer, name)
    layer.__class__ = LowRankEmbedding
    layer.rank = rank
    layer.embeddings_a_initializer = keras.initializers.get("uniform")
    layer.embeddings_b_initializer = keras.initializers.get("glorot_uniform")
    layer._tracker.unlock()
    try:
        with keras.name_scope(layer.name, caller=layer):
            layer.embeddings_a = layer.add_weight(
                shape=embeddings_a.shape,
                initializer=_values_initializer(embeddings_a),
                name="embeddings_a",
                trainable=True,
            )
            layer.embeddings_b = layer.add_weight(
                shape=embeddings_b.shape,
                initializer=_values_initializer(embeddings_b),
                name="embeddings_b",
                trainable=True,
            )
    finally:
        layer._tracker.lock()


def _values_initializer(values: np.ndarray):
    def initializer(shape, dtype=None):
        return ops.convert_to_tensor(values, dtype=dtype)

    return initializer


def _relative_error(table: np.ndarray, embeddings_a, embeddings_b) -> float:
    """`||W - A B||_F / ||W||_F` for truncated-SVD factors, in O(V k^2).

    `A B` is the orthogonal projection of `W` onto its top-k singular subspace (for
    either split of Σ), so `||W - A B||^2 = ||W||^2 - ||A B||^2` with
    `||A B||^2 = <A^T A, B B^T>`. That avoids the V x D x k product of the direct
    formula (seconds for a 400k x 300 table). Accumulated in float64.
    """
    squared_norm = 0.0
    gram_a = np.zeros((embeddings_a.shape[1],) * 2, dtype=np.float64)
    for start in range(0, table.shape[0], _ERROR_CHUNK_ROWS):
        stop = start + _ERROR_CHUNK_ROWS
        rows = np.asarray(table[start:stop], dtype=np.float64)
        squared_norm += float(np.vdot(rows, rows))
        factor = np.asarray(embeddings_a[start:stop], dtype=np.float64)
        gram_a += factor.T @ factor
    if squared_norm == 0.0:
        return 0.0
    b = np.asarray(embeddings_b, dtype=np.float64)
    squared_kept = float(np.vdot(gram_a, b @ b.T))
    return math.sqrt(max(squared_norm - squared_kept, 0.0) / squared_norm)


def _factorize_banded_in_place(layer, boundaries, pairs) -> None:
    """Turns a built `keras.layers.Embedding` into a `BandedLowRankEmbedding`.

    As `_factorize_in_place`: the same layer object, its full table released, one
    `(a_i, b_i)` weight pair per band of the frequency-sorted ids.
    """
    from tflite_lowrank.compression.banded import BandedLowRankEmbedding

    del layer._embeddings
    for name in _EMBEDDING_ONLY_ATTRIBUTES:
        if name in vars(layer):
            delattr(layer, name)
    for name in ("build", "quantize"):
        if name in vars(layer):
            delattr(layer, name)
    layer.__class__ = BandedLowRankEmbedding
    layer.boundaries = tuple(int(edge) for edge in boundaries)
    layer.ranks = tuple(int(a.shape[1]) for a, _ in pairs)
    layer.projection = True
    layer.embeddings_a_initializer = keras.initializers.get("uniform")
    layer.embeddings_b_initializer = keras.initializers.get("glorot_uniform")
    layer._tracker.unlock()
    try:
        with keras.name_scope(layer.name, caller=layer):
            layer.embeddings_a, layer.embeddings_b = [], []
            for index, (a, b) in enumerate(pairs):
                for values, prefix, weights in (
                    (a, "embeddings_a", layer.embeddings_a),
                    (b, "embeddings_b", layer.embeddings_b),
                ):
                    weights.append(
                        layer.add_weight(
                            shape=values.shape,
                            initializer=_values_initializer(values),
                            name=f"{prefix}_{index}",
                            trainable=True,
                        )
                    )
    finally:
        layer._tracker.lock()
