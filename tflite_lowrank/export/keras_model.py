"""What `convert` reads off a Keras model: the `.keras` file, input length, layers.

Private: `tflite_lowrank.export.converter` re-exports `load_keras_model` and
`model_seq_len`, and that is where they are imported from
(`convert.load_keras_model(path)`). `check_keras_file` is the one check of a `.keras`
path argument, shared with the command line. The private helpers check
`convert_to_tflite(seq_len=...)` against the model's input (`_resolve_seq_len`) and find
its layers, nested models included: the embedding tables and their vocabulary size, and
the recurrent layers to unroll for int8.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tflite_lowrank._keras import graph
from tflite_lowrank.layers.banded import BandedLowRankEmbedding
from tflite_lowrank.layers.loading import load_model
from tflite_lowrank.layers.low_rank import LowRankEmbedding
from tflite_lowrank.utils.files import check_input_file


def load_keras_model(path: os.PathLike[str] | str) -> keras.Model:
    """Loads a `.keras` model for conversion, without its optimizer.

    Importing `tflite_lowrank` registered this package's layers, so models holding a
    `LowRankEmbedding` or the reference models' layers load without `custom_objects`.
    Loads with `tl.load_model`, so an embedding factorized inside a custom layer
    (rebuilt full from the user's code) is factorized again before the weights load.

    Args:
        path: Path-like. A Keras v3 `.keras` file.

    Returns:
        The `keras.Model`, uncompiled.

    Raises:
        TypeError: if `path` is not path-like.
        FileNotFoundError: if the file does not exist.
        ValueError: if the file is not a `.keras` model archive, or uses a layer
            class Keras cannot locate (import the module that registers it first).

    Example:

    ```python
    model = load_keras_model("runs/sst2/model.keras")
    convert_to_tflite(model, "sst2.tflite", quantization="dynamic")
    ```
    """
    path = check_keras_file(path, name="model")
    try:
        model = load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a broken archive.
        text = _chain_text(error)
        missing = re.search(r"Could not locate (class|function) '([^']+)'", text)
        if missing:
            registered = re.search(  # In the object's config, printed after.
                r"'registered_name': '([^']+)'", text[missing.end() :]
            )
            as_name = f" (registered as {registered.group(1)!r})" if registered else ""
            raise ValueError(
                f"Could not locate {missing.group(1)} {missing.group(2)!r}{as_name}: "
                "the model uses code of yours that is not loaded. Import the module "
                "that defines it, decorated with "
                "`@keras.saving.register_keras_serializable()`, before loading. "
                f"Received: model={str(path)!r}"
            ) from error
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


def _chain_text(error: BaseException) -> str:
    """The messages of an error and of the errors that caused it."""
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def check_keras_file(path: os.PathLike[str] | str, *, name: str) -> Path:
    """Checks a path argument naming an existing Keras v3 `.keras` file.

    The one check of a `.keras` path, shared by `load_keras_model` and the command
    line (which calls it before converting anything).

    Raises:
        TypeError: if `path` is not path-like.
        FileNotFoundError: if there is no such file.
        ValueError: if it does not end in `.keras`.
    """
    return check_input_file(
        path, suffix=".keras", name=name, hint=" (Keras v3, saved with `model.save()`)"
    )


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


def model_input_names(model: keras.Model) -> tuple[str, ...]:
    """The names of the model's inputs (empty when not known, e.g. subclassed).

    A model with several inputs keeps these names in its `.tflite` file; a
    model with one input is converted with the input `token_ids`.

    Example:

    ```python
    model_input_names(pair_model)  # ("question", "answer")
    ```
    """
    return tuple(name for name, _ in _named_inputs(model))


def model_vocabulary_size(model: keras.Model) -> int | None:
    """Rows of the token table the model's input feeds (None: no embedding).

    The size a `vocab.txt` for the model must have: the command line refuses a
    `--vocab` of another size (`convert`, as `benchmark` and `compare` do).
    """
    return _vocabulary_size(model)


MAX_SEQ_LEN = 65_536
"""The longest input `convert_to_tflite` takes (`seq_len`, `--seq-len`): its rows and
the model's activations grow with it (10**8 filled 20 GB before conversion began)."""


def check_seq_len(seq_len: object) -> int:
    """Returns `seq_len` as an int; raises unless it is an integer in
    `[1, MAX_SEQ_LEN]`. The one check of a `seq_len` argument, shared with the command
    line (which checks `--seq-len` before it tokenizes anything)."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, int | np.integer):
        raise TypeError(
            f"`seq_len` must be an integer. Received: seq_len={seq_len!r} "
            f"(of type {type(seq_len).__name__})"
        )
    if seq_len < 1:
        raise ValueError(f"`seq_len` must be >= 1. Received: seq_len={seq_len}")
    if seq_len > MAX_SEQ_LEN:
        raise ValueError(
            f"`seq_len` must be at most {MAX_SEQ_LEN:,} token ids: the rows and the "
            "model's activations grow with it. It is the length the tokenizer pads "
            f"to, in tokens, not characters. Received: seq_len={seq_len}"
        )
    return int(seq_len)


def _resolve_seq_len(model: keras.Model, seq_len: int | None) -> int:
    fixed = model_seq_len(model)
    if seq_len is not None:
        seq_len = check_seq_len(seq_len)
        if fixed is not None and fixed != seq_len:
            raise ValueError(
                f"`seq_len` must match the model's input length {fixed}, or be left "
                f"out. Received: seq_len={seq_len}"
            )
        return seq_len
    if fixed is None:
        raise ValueError(
            "The model's input length is not fixed (e.g. `keras.Input(shape=(None,))`"
            ", or the model has no single `(batch, seq_len)` input): pass `seq_len`, "
            "the length the tokenizer pads to; the file's input is int32 "
            f"[1, seq_len]. Received: seq_len=None for model {model.name!r}"
        )
    return fixed


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return graph.flatten_layers(model)


def _embedding_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in _all_layers(model)
        if isinstance(
            layer, keras.layers.Embedding | LowRankEmbedding | BandedLowRankEmbedding
        )
    ]


def _vocabulary_size(model: keras.Model) -> int | None:
    """Rows of the table the token input feeds: the largest valid token id + 1.

    The embedding layers that read the model's input directly (also inside nested
    functional models fed by it) are the token tables; a position or segment
    embedding fed by another tensor is not. Without such a layer (a subclassed
    model, whose graph is not known), the largest table.
    """
    layers = _embedding_layers(model)
    if not layers:
        return None
    token_tables = _token_embeddings(model)
    if token_tables:
        return min(layer.input_dim for layer in token_tables)
    return max(layer.input_dim for layer in layers)


def _token_embeddings(model: keras.Model) -> list[keras.layers.Layer]:
    """The embedding layers called on one of `model`'s inputs (see above)."""
    try:
        inputs = list(model.inputs or ())
    except (AttributeError, ValueError):
        return []
    found: list[keras.layers.Layer] = []
    _collect_token_embeddings(model, {id(tensor) for tensor in inputs}, found)
    return found


def _collect_token_embeddings(model, input_ids: set[int], found: list) -> None:
    for layer in graph.layers_called_on(model, input_ids, _is_embedding):
        if layer not in found:
            found.append(layer)


def _is_embedding(layer) -> bool:
    return isinstance(
        layer, keras.layers.Embedding | LowRankEmbedding | BandedLowRankEmbedding
    )


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.RNN) and not layer.unroll
    ]


@dataclasses.dataclass(frozen=True)
class _TokenInput:
    """One token-id input of a model: its name, length and token table rows."""

    name: str
    seq_len: int
    vocabulary_size: int | None


def _named_inputs(model: keras.Model) -> list[tuple[str, Any]]:
    """`(name, KerasTensor)` of a functional model's inputs, in `model.inputs` order.

    The name is the key of a dict-structured model's input, else the tensor's name.
    Empty for a model whose inputs are not known (subclassed, not built).
    """
    try:
        inputs = list(model.inputs or ())
        structure = model.input if inputs else None
    except (AttributeError, ValueError):
        return []
    if isinstance(structure, dict) and len(structure) == len(inputs):
        by_tensor = {id(tensor): key for key, tensor in structure.items()}
        return [(str(by_tensor.get(id(t), t.name)), t) for t in inputs]
    return [(str(tensor.name), tensor) for tensor in inputs]


def _check_token_inputs(model: keras.Model) -> None:
    """Refuses inputs that are not token ids, naming the input and its dtype.

    An input is token ids when its dtype is an integer, or when it is a float
    tensor fed straight into an embedding (`keras.Input((seq_len,))` before an
    `Embedding`, which casts it). Strings (a `TextVectorization` inside the model),
    booleans and float features are refused.
    """
    for name, tensor in _named_inputs(model):
        dtype = str(getattr(tensor, "dtype", ""))
        if dtype.startswith(("int", "uint")):
            continue
        if dtype.startswith(("float", "bfloat")):
            found: list = []
            _collect_token_embeddings(model, {id(tensor)}, found)
            if found:
                continue
        hint = (
            "; tokenize outside the model (a `TextVectorization` or "
            "`tflite_lowrank.data.Tokenizer` in front of it) and convert the model "
            "that takes the ids"
            if dtype == "string"
            else "; only inputs of token ids can be converted"
        )
        raise ValueError(
            "`model` must take token ids: integer inputs (batch, seq_len) that feed "
            f"an embedding. Its input {name!r} has dtype {dtype} and shape "
            f"{tuple(tensor.shape)}{hint}. Received: model={model.name!r}"
        )


def _token_inputs(model: keras.Model, seq_len: int | None) -> tuple[_TokenInput, ...]:
    """The token-id inputs of a model with several inputs (see `_check_token_inputs`).

    Each must be `(batch, length)`; a length that is not fixed is `seq_len`.
    """
    found = []
    for name, tensor in _named_inputs(model):
        shape = tuple(tensor.shape)
        length = shape[1] if len(shape) == 2 else None
        if len(shape) != 2 or (length is None and seq_len is None):
            raise ValueError(
                f"Every input of `model` must be token ids (batch, seq_len) with a "
                f"fixed seq_len (or pass `seq_len`). Its input {name!r} has shape "
                f"{shape}. Received: model={model.name!r}, seq_len={seq_len}"
            )
        tables: list = []
        _collect_token_embeddings(model, {id(tensor)}, tables)
        found.append(
            _TokenInput(
                name=name,
                seq_len=int(length if length is not None else seq_len),
                vocabulary_size=min((t.input_dim for t in tables), default=None),
            )
        )
    names = [spec.name for spec in found]
    if len(set(names)) != len(names):
        raise ValueError(
            "The inputs of `model` must have distinct names, which become the "
            f"input names of the `.tflite` file. Received: model={model.name!r} "
            f"with inputs {names}"
        )
    return tuple(found)


def _call_structure(model: keras.Model, by_name: dict[str, Any]):
    """Inputs keyed by name, in the structure `model` is called with."""
    named = _named_inputs(model)
    try:
        structure = model.input
    except (AttributeError, ValueError):
        structure = None
    if isinstance(structure, dict):
        return {name: by_name[name] for name, _ in named}
    return [by_name[name] for name, _ in named]
