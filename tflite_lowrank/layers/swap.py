"""The in-place swap behind `EmbeddingFactorization`: find the table, factorize it.

Private helpers of `tflite_lowrank.training.callback` (and `loading`):
`_find_embedding` picks and checks the `keras.layers.Embedding` to split (a
`ReversibleEmbedding`, or a subclass that overrides nothing but `__init__`,
`get_config` and `from_config`); `_factorized_layout` chooses the factorized class
(reversible for a `ReversibleEmbedding`); `_swap_layer_class` turns it, in place,
into a factorized layer of a given class holding given weights (the one place where
the swap happens, used at the split by `_factorize_in_place` and on resuming from a
backup by `_swap_from_config`); `_relative_error` measures what the factors lose. The
Keras internals the swap needs are in `keras_adapter`.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from tflite_lowrank._keras import adapter, graph
from tflite_lowrank.layers.low_rank import LowRankEmbedding

# Rows per chunk when measuring the reconstruction error (no V x D product in memory;
# about 20 MB of float64 temporaries at D = 300).
_ERROR_CHUNK_ROWS = 1 << 13


def _find_embedding(model, layer_name: str | None):
    layers = graph.flatten_layers(model)
    embeddings = [
        layer
        for layer in layers
        if isinstance(layer, keras.layers.Embedding)
        and not isinstance(layer, LowRankEmbedding)
    ]
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
        if isinstance(layer, LowRankEmbedding | _banded_class()):
            raise ValueError(
                f"Layer '{layer_name}' is already a `{type(layer).__name__}` "
                f"(factorized). Received: layer_name={layer_name!r}"
            )
        if not isinstance(layer, keras.layers.Embedding):
            raise ValueError(
                f"Layer '{layer_name}' is a `{type(layer).__name__}`, not a "
                "`keras.layers.Embedding`. The model's `Embedding` layers are "
                f"{[e.name for e in embeddings]}. "
                f"Received: layer_name={layer_name!r}"
            )
    overrides = _unsafe_overrides(type(layer))
    if overrides:
        base = _splittable_base(type(layer))
        raise ValueError(
            f"Layer '{layer.name}' is a `{type(layer).__qualname__}`, a subclass of "
            f"`keras.layers.{base.__name__}` that overrides {overrides}: the split "
            "replaces the layer by a factorized one with the behaviour of "
            f"`{base.__name__}`, which would drop these. Only `Embedding`, "
            "`ReversibleEmbedding` and subclasses that override nothing but "
            "`__init__`, `get_config` and `from_config` are split; use "
            "`tl.LowRankEmbedding` in your layer's code, or train with a plain "
            f"`Embedding`. Received: layer_name={layer_name!r}"
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


# Methods a splittable `Embedding` subclass may define: the split keeps the layer's
# arguments (its `get_config`), not its code.
_HARMLESS_OVERRIDES = frozenset({"__init__", "get_config", "from_config"})


def _splittable_base(cls: type) -> type:
    """`ReversibleEmbedding` or `Embedding`, the Keras class `cls` behaves as."""
    if issubclass(cls, keras.layers.ReversibleEmbedding):
        return keras.layers.ReversibleEmbedding
    return keras.layers.Embedding


def _unsafe_overrides(cls: type) -> list[str]:
    """Methods and properties a subclass of `_splittable_base(cls)` defines.

    `keras_hub.layers.ReversibleEmbedding` defines none (only export metadata).
    """
    base = _splittable_base(cls)
    names: list[str] = []
    for klass in cls.__mro__:
        if klass is base:
            break
        names += [
            name
            for name, value in vars(klass).items()
            if name not in _HARMLESS_OVERRIDES
            and (
                inspect.isfunction(value)
                or isinstance(value, property | staticmethod | classmethod)
            )
        ]
    return sorted(set(names))


def _is_reversible(layer) -> bool:
    return isinstance(layer, keras.layers.ReversibleEmbedding)


def _banded_class():
    from tflite_lowrank.layers.banded import BandedLowRankEmbedding

    return BandedLowRankEmbedding


def _swap_layer_class(
    layer,
    new_class: type,
    attributes: Mapping[str, object],
    weights: Mapping[str, np.ndarray],
) -> None:
    """Turns a built `keras.layers.Embedding` into a `new_class` layer, in place.

    The layer object stays the same, so every model, node and reference that holds
    it (functional graphs, `Sequential`, attributes of subclassed models, a layer
    called twice) sees the new layer at once. Its full table and its
    Embedding-only attributes are untracked and released; then the class changes,
    `attributes` are set (one per constructor argument of `new_class`, see
    `_constructor_attributes`; the Embedding's `input_dim`, `output_dim`,
    `mask_zero`, name, dtype policy and trainability stay), and each entry of
    `weights` becomes a variable of that name (trainable, except the bases
    `embeddings_b*` of a layer with `train_basis=False`), initialized to those
    values and stored as the attribute of the same name, in the given order (the
    order of `layer.weights`, which weight files follow). Call inside the model's
    distribution strategy scope.
    """
    adapter.release_embedding_state(layer)
    adapter.change_class(layer, new_class)
    for name, value in attributes.items():
        setattr(layer, name, value)
    with (
        adapter.unlocked_tracker(layer),
        keras.name_scope(layer.name, caller=layer),
    ):
        for name, values in weights.items():
            variable = layer.add_weight(
                shape=values.shape,
                initializer=_values_initializer(values),
                name=name,
                trainable=_trainable(layer, name),
            )
            setattr(layer, name, variable)


def _trainable(layer, weight_name: str) -> bool:
    """Whether the swapped `layer`'s weight `weight_name` is trainable."""
    fixed_basis = not getattr(layer, "train_basis", True)
    return not (fixed_basis and weight_name.startswith("embeddings_b"))


def _factorize_in_place(
    layer,
    embeddings_a: np.ndarray,
    embeddings_b: np.ndarray,
    train_basis: bool = True,
    code_quantization: str | None = None,
):
    """Turns a built `Embedding` into a `LowRankEmbedding` holding the factors.

    A `ReversibleEmbedding` becomes a `ReversibleLowRankEmbedding`.
    """
    new_class, config = _factorized_layout(
        layer, (), (int(embeddings_a.shape[1]),), train_basis, code_quantization
    )
    weights = {"embeddings_a": embeddings_a, "embeddings_b": embeddings_b}
    _swap_layer_class(
        layer,
        new_class,
        _constructor_attributes(layer, new_class, config),
        {**weights, **_reverse_weights(layer)},
    )


def _factorized_layout(
    layer,
    boundaries,
    ranks,
    train_basis: bool = True,
    code_quantization: str | None = None,
) -> tuple[type, dict]:
    """The factorized class for `layer` and its config, for these bands and ranks.

    One band gives a `LowRankEmbedding`, more a `BandedLowRankEmbedding`; their
    reversible siblings for a `keras.layers.ReversibleEmbedding`, with its
    `tie_weights`, `reverse_dtype` and `logit_soft_cap`.
    """
    from tflite_lowrank.layers.banded import BandedLowRankEmbedding
    from tflite_lowrank.layers.reversible import (
        REVERSIBLE_ARGUMENTS,
        ReversibleBandedLowRankEmbedding,
        ReversibleLowRankEmbedding,
    )

    config = {
        "input_dim": layer.input_dim,
        "output_dim": layer.output_dim,
        "mask_zero": layer.mask_zero,
        "train_basis": bool(train_basis),
        "code_quantization": code_quantization,
    }
    reversible = _is_reversible(layer)
    if reversible:
        config.update({name: getattr(layer, name) for name in REVERSIBLE_ARGUMENTS})
    if not boundaries:
        (config["rank"],) = (int(rank) for rank in ranks)
        new_class = ReversibleLowRankEmbedding if reversible else LowRankEmbedding
    else:
        config["boundaries"] = tuple(int(edge) for edge in boundaries)
        config["ranks"] = tuple(int(rank) for rank in ranks)
        new_class = (
            ReversibleBandedLowRankEmbedding if reversible else BandedLowRankEmbedding
        )
    return new_class, config


def _reverse_weights(layer) -> dict[str, np.ndarray]:
    """An untied `ReversibleEmbedding`'s `reverse_embeddings`, kept by the split."""
    if not _is_reversible(layer) or layer.tie_weights:
        return {}
    return {"reverse_embeddings": np.asarray(layer.reverse_embeddings)}


def _swap_from_config(
    layer, new_class: type, config: Mapping, weights: Sequence[Mapping]
) -> None:
    """Turns a built `Embedding` into `new_class.from_config(config)`'s layer, in place.

    `weights` are `{"name": ..., "shape": ...}` entries; the variables are zeros,
    placeholders for values that are loaded next (from a `BackupAndRestore` backup).
    """
    placeholders = {
        weight["name"]: np.zeros(tuple(weight["shape"]), dtype="float32")
        for weight in weights
    }
    _swap_layer_class(
        layer,
        new_class,
        _constructor_attributes(layer, new_class, config),
        placeholders,
    )


def _constructor_attributes(
    layer, new_class: type, config: Mapping
) -> dict[str, object]:
    """`new_class`'s attribute for each of its constructor arguments.

    `config` is a `get_config()`-style dictionary (arguments left out take their
    defaults); the arguments of the base
    `keras.layers.Layer` (name, dtype, trainable, ...) are left out, as the swapped
    layer keeps its own. The values come from an unbuilt instance (no variables), so
    serialized initializers and the like come back as objects, exactly as the
    constructor stores them. The instance takes `layer`'s name, so that no layer
    name is used up.
    """
    template = new_class.from_config({**config, "name": layer.name})
    base = _base_layer_arguments()
    return {
        key: getattr(template, key) for key in template.get_config() if key not in base
    }


@functools.cache
def _base_layer_arguments() -> frozenset[str]:
    return frozenset(keras.layers.Layer(name="base").get_config())


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


def _factorize_banded_in_place(
    layer,
    boundaries,
    pairs,
    train_basis: bool = True,
    code_quantization: str | None = None,
) -> None:
    """Turns a built `Embedding` into a `BandedLowRankEmbedding` holding the factors.

    `pairs` holds `(a_i, b_i)` per band of the frequency-sorted ids; the weights are
    created in the order `BandedLowRankEmbedding.build` creates them. A
    `ReversibleEmbedding` becomes a `ReversibleBandedLowRankEmbedding`.
    """
    ranks = tuple(int(a.shape[1]) for a, _ in pairs)
    new_class, config = _factorized_layout(
        layer, boundaries, ranks, train_basis, code_quantization
    )
    weights = {}
    for index, (a, b) in enumerate(pairs):
        weights[f"embeddings_a_{index}"] = a
        weights[f"embeddings_b_{index}"] = b
    _swap_layer_class(
        layer,
        new_class,
        _constructor_attributes(layer, new_class, config),
        {**weights, **_reverse_weights(layer)},
    )
