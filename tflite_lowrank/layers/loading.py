"""`load_model`: reload a `.keras` file whose nested embeddings were factorized.

Keras rebuilds a model from its config, i.e. from the user's code: an `Embedding`
that a custom layer creates in `__init__` (and does not serialize) comes back as a
full `Embedding`, and loading the factors into it fails ("expected 1 variables, but
received 2"). `load_model` rebuilds the model the same way, reads which tables the
file holds factorized from the shapes in its weights file (`model.weights.h5`),
swaps those layers for the factorized ones (`swap._swap_from_config`, as on
resuming from a backup) and only then loads the weights.
"""

from __future__ import annotations

import json
import os
import zipfile

import h5py
import keras

from tflite_lowrank._keras import adapter
from tflite_lowrank.layers.swap import _factorized_layout, _swap_from_config

_CONFIG_FILENAME = "config.json"
_WEIGHTS_FILENAME = "model.weights.h5"


def load_model(
    filepath: os.PathLike[str] | str,
    custom_objects: dict | None = None,
    compile: bool = True,
    safe_mode: bool = True,
):
    """Loads a `.keras` model, also when a custom layer's embedding was factorized.

    `keras.saving.load_model` rebuilds a model from its own code: a
    `keras.layers.Embedding` that a custom layer creates in `__init__` and does not
    serialize (the keras.io transformer example's `TokenAndPositionEmbedding`,
    `keras_hub.layers.TokenAndPositionEmbedding`) comes back full, and the file's
    factors do not fit it ("Layer 'embedding_8' expected 1 variables, but received
    2"). This function rebuilds the model the same way, finds the embeddings the
    file holds factorized (from the shapes of their weights: one `(V, k)` and
    `(k, D)` pair per band, plus an untied `ReversibleEmbedding`'s
    `(D, V)`), turns them into the `LowRankEmbedding`, `BandedLowRankEmbedding` or
    reversible layers of those ranks and bands, then loads the weights (and the
    optimizer's state). Other files load exactly as with `keras.saving.load_model`.

    The error of `keras.saving.load_model` on such a file comes from Keras' own
    `Embedding` while it loads, and cannot name this function without patching
    Keras. Layers the custom layer keeps in a list or dict attribute are not
    matched (Keras names their weights by class); layers held as attributes and
    all the model's top-level layers are.

    Args:
        filepath: `os.PathLike` or string. Path to a `.keras` file.
        custom_objects: Dictionary or `None`. The user's classes and functions, as
            for `keras.saving.load_model`; registered ones need not be listed.
            Defaults to `None`.
        compile: Boolean. Whether to compile the model as it was saved (with the
            optimizer and its state). Defaults to `True`.
        safe_mode: Boolean. As `keras.saving.load_model`: refuses to deserialize
            lambdas. Defaults to `True`.

    Returns:
        The `keras.Model`, with the file's weights.

    Raises:
        TypeError: if `filepath` is not a string or `os.PathLike`.
        FileNotFoundError: if `filepath` does not exist (or is a symbolic link
            that leads to no file).
        ValueError: if `filepath` is a folder or not a `.keras` file (a zip archive
            with `config.json` and `model.weights.h5`), or if the archive's
            `config.json` and `model.weights.h5` do not belong together (the
            message names the file and the first layer whose weights differ).

    Example:

    ```python
    import tflite_lowrank as tl

    split = tl.EmbeddingFactorization("token_emb", compression=0.9, at_epoch=2)
    model.fit(x, y, epochs=4, callbacks=[split])  # token_emb: in a custom layer
    model.save("model.keras")
    model = tl.load_model("model.keras")
    ```
    """
    if not isinstance(filepath, str | os.PathLike):
        raise TypeError(
            "`filepath` must be the path of a `.keras` file (a string or "
            f"`os.PathLike`). Received: filepath={filepath!r} (of type "
            f"{type(filepath).__name__})"
        )
    filepath = os.fspath(filepath)
    if os.path.isdir(filepath):
        raise ValueError(_folder_message(filepath))
    if not os.path.isfile(filepath):
        why = (
            " (a symbolic link that leads to no file: dangling, or a loop)"
            if os.path.islink(filepath)
            else ""
        )
        raise FileNotFoundError(
            f"No such file: '{filepath}'{why}. Received: filepath={filepath!r}"
        )
    config, saved_shapes = _read_archive(filepath)
    if not isinstance(config, dict):
        raise ValueError(
            f"'{filepath}': its {_CONFIG_FILENAME} does not describe a model (it "
            f"holds a {type(config).__name__}). Received: filepath={filepath!r}"
        )
    compile_config = config.get("compile_config")
    config["compile_config"] = None
    try:
        model = adapter.model_from_config(config, custom_objects, safe_mode)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(
            f"'{filepath}': Keras cannot build the model its {_CONFIG_FILENAME} "
            f"describes: {_first_line(error)} Received: filepath={filepath!r}"
        ) from error
    _factorize_saved_embeddings(model, saved_shapes)
    if compile and compile_config:
        model.compile_from_config(compile_config)
    try:
        model.load_weights(filepath)
    except ValueError as error:
        mismatch = _first_mismatch(model, saved_shapes)
        if mismatch is None:
            raise
        raise ValueError(
            f"'{filepath}': its {_WEIGHTS_FILENAME} does not fit the model its "
            f"{_CONFIG_FILENAME} describes: {mismatch}. Was one of the two files "
            "inside the archive replaced or edited? Received: "
            f"filepath={filepath!r}"
        ) from error
    return model


def _folder_message(filepath: str) -> str:
    """The error for a folder given as `filepath`: names the `.keras` files in it."""
    try:
        inside = sorted(
            name for name in os.listdir(filepath) if name.endswith(".keras")
        )
    except OSError:
        inside = []
    hint = f" (it holds {', '.join(inside[:5])}: pass one of them)" if inside else ""
    return (
        f"'{filepath}' is a folder, not a `.keras` file{hint}. `tl.load_model` "
        "reads the single file `model.save('model.keras')` writes; a SavedModel "
        "or a `BackupAndRestore` folder is not one. "
        f"Received: filepath={filepath!r}"
    )


def _first_line(error: BaseException, limit: int = 400) -> str:
    """The first line of Keras' message, without the full object config it adds."""
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    line = line.split(" Full object config:")[0].strip()
    if len(line) > limit:
        line = line[:limit].rstrip() + "..."
    return line if line.endswith(".") else f"{line}."


def _first_mismatch(model, saved_shapes) -> str | None:
    """The first layer whose variables differ from the weights file's, described."""
    for path, layer in adapter.weight_paths(model).items():
        expected = [tuple(v.shape) for v in adapter.saved_variables(layer)]
        saved = saved_shapes.get(path)
        if saved is None:
            if expected:
                return (
                    f"layer '{layer.name}' ({type(layer).__name__}) has weights of "
                    f"shapes {expected} in {_CONFIG_FILENAME}, and "
                    f"{_WEIGHTS_FILENAME} has none for it (no group '{path}/vars')"
                )
            continue
        saved = [tuple(shape) for shape in saved]
        if saved != expected:
            return (
                f"layer '{layer.name}' ({type(layer).__name__}) has weights of shapes "
                f"{expected} by {_CONFIG_FILENAME}, but {_WEIGHTS_FILENAME} holds "
                f"{saved}"
            )
    return None


def _read_archive(filepath: str) -> tuple[dict, dict[str, list[tuple[int, ...]]]]:
    """The model config and, per `vars` group of the weights file, its shapes."""
    if not filepath.endswith(".keras") or not zipfile.is_zipfile(filepath):
        raise ValueError(
            "`filepath` must be a `.keras` file, a zip archive written by "
            f"`model.save()`. Received: filepath={filepath!r}"
        )
    with zipfile.ZipFile(filepath) as archive:
        names = set(archive.namelist())
        missing = {_CONFIG_FILENAME, _WEIGHTS_FILENAME} - names
        if missing:
            raise ValueError(
                f"`filepath` must be a `.keras` file holding {_CONFIG_FILENAME} and "
                f"{_WEIGHTS_FILENAME}; it lacks {sorted(missing)}. "
                f"Received: filepath={filepath!r}"
            )
        try:
            config = json.loads(archive.read(_CONFIG_FILENAME))
        except json.JSONDecodeError as error:
            raise ValueError(
                f"'{filepath}': its {_CONFIG_FILENAME} is not valid JSON (line "
                f"{error.lineno}, column {error.colno}: {error.msg}); was it edited "
                f"by hand? Received: filepath={filepath!r}"
            ) from error
        shapes: dict[str, list[tuple[int, ...]]] = {}
        with archive.open(_WEIGHTS_FILENAME) as file, h5py.File(file, "r") as h5:

            def collect(name, item):
                if isinstance(item, h5py.Group) and name.split("/")[-1] == "vars":
                    keys = sorted(item, key=int)
                    path = name.rpartition("/")[0]
                    shapes[path] = [tuple(item[key].shape) for key in keys]

            h5.visititems(collect)
    return config, shapes


def _factorize_saved_embeddings(model, saved_shapes) -> None:
    """Swaps every full `Embedding` whose saved weights are factors, in place."""
    for path, layer in adapter.weight_paths(model).items():
        if not isinstance(layer, keras.layers.Embedding) or path not in saved_shapes:
            continue
        layout = _factor_layout(layer, saved_shapes[path])
        if layout is None:
            continue
        boundaries, ranks = layout
        if not layer.built:
            layer.build()
        new_class, config = _factorized_layout(layer, boundaries, ranks)
        if boundaries:
            names = [
                f"embeddings_{factor}_{index}"
                for index in range(len(ranks))
                for factor in ("a", "b")
            ]
        else:
            names = ["embeddings_a", "embeddings_b"]
        if getattr(layer, "tie_weights", True) is False:
            names.append("reverse_embeddings")
        weights = [
            {"name": name, "shape": shape}
            for name, shape in zip(names, saved_shapes[path], strict=True)
        ]
        with model.distribute_strategy.scope():
            _swap_from_config(layer, new_class, config, weights)


def _factor_layout(layer, shapes) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """`(boundaries, ranks)` if `shapes` are factors of `layer`'s table, else `None`.

    Factors are `(n_i, k_i)`, `(k_i, D)` per band with `sum(n_i) = V`, followed by
    `(D, V)` for an untied `ReversibleEmbedding`. A full table (`(V, D)`) or
    anything else is `None`, and Keras reports it when it loads the weights.
    """
    input_dim, output_dim = layer.input_dim, layer.output_dim
    shapes = list(shapes)
    if getattr(layer, "tie_weights", True) is False:
        if not shapes or shapes[-1] != (output_dim, input_dim):
            return None
        shapes.pop()
    if len(shapes) < 2 or len(shapes) % 2:
        return None
    rows, ranks = [], []
    for a, b in zip(shapes[::2], shapes[1::2], strict=True):
        if len(a) != 2 or len(b) != 2 or a[1] != b[0] or b[1] != output_dim:
            return None
        rows.append(a[0])
        ranks.append(a[1])
    if sum(rows) != input_dim:
        return None
    boundaries = tuple(int(sum(rows[: i + 1])) for i in range(len(rows) - 1))
    return boundaries, tuple(int(rank) for rank in ranks)
