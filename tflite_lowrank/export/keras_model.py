"""What `convert` reads off a Keras model: the `.keras` file, input length, layers.

Private: `tflite_lowrank.export.converter` re-exports `load_keras_model` and
`model_seq_len`, and that is where they are imported from
(`convert.load_keras_model(path)`). The private helpers check
`convert_to_tflite(seq_len=...)` against the model's input (`_resolve_seq_len`) and find
its layers, nested models included: the embedding tables and their vocabulary size, and
the recurrent layers to unroll for int8.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from tflite_lowrank.compression.layers import LowRankEmbedding


def load_keras_model(path: os.PathLike[str] | str) -> keras.Model:
    """Loads a `.keras` model for conversion, without its optimizer.

    Imports the modules that register this package's layers first, so that models
    holding a `LowRankEmbedding` or the reference models' layers load without
    `custom_objects`.

    Args:
        path: Path-like. A Keras v3 `.keras` file.

    Returns:
        The `keras.Model`, uncompiled.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the file is not a `.keras` model archive.

    Example:

    ```python
    model = load_keras_model("runs/sst2/model.keras")
    convert_to_tflite(model, "sst2.tflite", quantization="dynamic")
    ```
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"`model` must be an existing `.keras` file. Received: model={str(path)!r}"
        )
    if path.suffix != ".keras":
        raise ValueError(
            "`model` must be a Keras v3 `.keras` file (saved with `model.save(...)`). "
            f"Received: model={str(path)!r}"
        )
    # Import the modules that register this package's serializable layers.
    import tflite_lowrank.compression.layers  # noqa: F401
    import tflite_lowrank.models.paper  # noqa: F401

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a broken archive.
        raise ValueError(
            f"Could not load a Keras model from the file ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). "
            f"Received: model={str(path)!r}"
        ) from error
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"The file holds a {type(model).__name__}, not a `keras.Model`. "
            f"Received: model={str(path)!r}"
        )
    return model


def model_seq_len(model: keras.Model) -> int | None:
    """The fixed length of the model's `token_ids` input, or None if not fixed.

    Example:

    ```python
    tokenizer = Tokenizer.load("export/", seq_len=model_seq_len(model))
    ```
    """
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) != 2:
        return None
    length = inputs[0].shape[1]
    return None if length is None else int(length)


def _resolve_seq_len(model: keras.Model, seq_len: int | None) -> int:
    fixed = model_seq_len(model)
    if seq_len is not None:
        if isinstance(seq_len, bool) or not isinstance(seq_len, int | np.integer):
            raise TypeError(
                f"`seq_len` must be an integer. Received: seq_len={seq_len!r} "
                f"(of type {type(seq_len).__name__})"
            )
        if seq_len < 1:
            raise ValueError(f"`seq_len` must be >= 1. Received: seq_len={seq_len}")
        if fixed is not None and fixed != seq_len:
            raise ValueError(
                f"`seq_len` must match the model's input length {fixed}, or be left "
                f"out. Received: seq_len={seq_len}"
            )
        return int(seq_len)
    if fixed is None:
        raise ValueError(
            "The model's input length is not fixed (or the model has no single "
            "`(batch, seq_len)` input): pass `seq_len`, the tokenizer's length. "
            f"Received: seq_len=None for model {model.name!r}"
        )
    return fixed


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return list(model._flatten_layers(include_self=False, recursive=True))


def _embedding_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.Embedding | LowRankEmbedding)
    ]


def _vocabulary_size(model: keras.Model) -> int | None:
    layers = _embedding_layers(model)
    return min(layer.input_dim for layer in layers) if layers else None


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.RNN) and not layer.unroll
    ]
