"""Private: the Keras internals of layers, optimizers and saving.

The in-place swap of a built `Embedding`, the fresh optimizer installed mid-`fit()`,
the loader of factorized files and the folding of a projection into its consumer
need a few Keras attributes and methods that are not public API: a layer's variable
tracker and class, the model's compile config, an optimizer's learning-rate object,
the step functions of the TensorFlow trainer and the saving walk. Each is reached
through one small function here (the layer graph through `graph`), and nothing
outside `tflite_lowrank/_keras/` touches a private Keras name. Each was checked
against the Keras versions in `SUPPORTED_KERAS_VERSIONS` (the range of
`pyproject.toml`, `keras>=3.15,<4`). `tests/_keras/test_adapter.py` checks the
installed Keras is in that range and that every internal used here still exists
and behaves as described on a tiny model: after a Keras upgrade, that file is the
first to fail, with a message naming the internal that changed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import keras

# [minimum, maximum): the range of `pyproject.toml`, `keras>=3.15,<4`.
SUPPORTED_KERAS_VERSIONS = ("3.15", "4")

# Where a built `keras.layers.Embedding` keeps its table (`embeddings` is a property
# reading it, merged with the LoRA factors when LoRA is enabled).
EMBEDDING_TABLE_ATTRIBUTE = "_embeddings"
# Instance attributes of a built `keras.layers.Embedding` that a factorized layer
# does not have: removed at the swap, with the table.
EMBEDDING_ONLY_ATTRIBUTES = (
    "embeddings_initializer",
    "embeddings_regularizer",
    "embeddings_constraint",
    "lora_rank",
    "lora_alpha",
    "lora_enabled",
    "quantization_config",
)
# `ReversibleEmbedding(tie_weights=False)`'s own variable: removed at the swap too,
# which re-creates it after the factors, in the order of the factorized layer's
# `build` (the order weight files follow).
REVERSIBLE_ONLY_ATTRIBUTES = ("reverse_embeddings",)
# Methods that `Layer.__new__` wraps and binds to each instance; the bound wrappers
# call the *old* class's method, so they must go when the class changes.
INSTANCE_BOUND_METHODS = ("build", "quantize")


def _major_minor(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"Not a version number. Received: version={version!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def is_supported_keras_version(version: str | None = None) -> bool:
    """Whether `version` (default: the installed Keras) is in the checked range.

    Compares major.minor with `SUPPORTED_KERAS_VERSIONS` (minimum included, maximum
    excluded), so `3.15.1` and `3.16.0rc0` are in, `4.0.0` is out.
    """
    version = keras.__version__ if version is None else version
    minimum, maximum = (_major_minor(v) for v in SUPPORTED_KERAS_VERSIONS)
    return minimum <= _major_minor(version) < maximum


# ------------------------------------------------------------------- layers


def release_embedding_state(layer) -> None:
    """Untracks and deletes a built `Embedding`'s table and Embedding-only state.

    Deleting the table attribute goes through `Layer.__delattr__`, which untracks
    the variable (it leaves `layer.weights` and the model's variables) and collects
    garbage, so the table's memory is released once nothing else holds it. The
    instance-bound `build`/`quantize` wrappers of `Layer.__new__` are removed too, so
    that after a class change the new class's methods apply. Checked against:
    Keras 3.15.
    """
    delattr(layer, EMBEDDING_TABLE_ATTRIBUTE)
    names = (
        *EMBEDDING_ONLY_ATTRIBUTES,
        *REVERSIBLE_ONLY_ATTRIBUTES,
        *INSTANCE_BOUND_METHODS,
    )
    for name in names:
        if name in vars(layer):
            delattr(layer, name)


@contextlib.contextmanager
def unlocked_tracker(layer) -> Iterator[None]:
    """Lets a built layer create variables (`add_weight`) inside the block.

    A built layer's `_tracker` is locked (`Layer._lock_state`): `add_weight` would
    raise. The tracker is unlocked for the block and locked again after it, also on
    error. Checked against: Keras 3.15.
    """
    layer._tracker.unlock()
    try:
        yield
    finally:
        layer._tracker.lock()


def change_class(layer, new_class: type) -> None:
    """Makes the built `layer` an instance of `new_class`, in place.

    The object stays the same, so every model, node and reference that holds it sees
    the new class at once. Call `release_embedding_state` first: the instance-bound
    wrappers of the old class's methods must be gone. Checked against: Keras 3.15.
    """
    layer.__class__ = new_class


def set_untracked_attribute(layer, name: str, value) -> None:
    """Sets `layer.<name>` without Keras' attribute tracking (`Layer.__setattr__`).

    For bookkeeping that must not become part of the layer's state (its weights,
    sub-layers or saved config). Checked against: Keras 3.15.
    """
    object.__setattr__(layer, name, value)


def delete_untracked_attribute(layer, name: str) -> None:
    """Deletes an attribute set by `set_untracked_attribute`."""
    object.__delattr__(layer, name)


# ---------------------------------------------------- optimizer, compiled model


def learning_rate_object(optimizer):
    """The optimizer's learning rate as given: a `LearningRateSchedule` or a variable.

    `optimizer.learning_rate` evaluates a schedule at the current step; the object
    itself is `optimizer._learning_rate`. Checked against: Keras 3.15.
    """
    return optimizer._learning_rate


def compiled_optimizer(model):
    """The optimizer stored in the model's compile config (`None` if none).

    `model.save()` writes this one; `model.get_compile_config()` serializes it.
    Checked against: Keras 3.15.
    """
    compile_config = getattr(model, "_compile_config", None)
    if compile_config is None:
        return None
    return compile_config.config.get("optimizer")


def set_compiled_optimizer(model, optimizer) -> None:
    """Makes the compile config hold `optimizer` (if it held an optimizer).

    `compile()` keeps its `optimizer` argument in `model._compile_config`, which
    `model.save()` writes and which keeps the old optimizer (and its slots) alive.
    Checked against: Keras 3.15.
    """
    compile_config = getattr(model, "_compile_config", None)
    if compile_config is not None and "optimizer" in compile_config.config:
        compile_config.config["optimizer"] = optimizer


def reset_step_functions(model) -> None:
    """Drops the model's compiled train, test and predict functions.

    They capture the model's variables and optimizer; `fit()`, `evaluate()` and
    `predict()` rebuild them when they are `None`. Checked against: Keras 3.15
    (TensorFlow trainer).
    """
    model.train_function = None
    model.test_function = None
    model.predict_function = None


def rebuild_step_functions(model) -> None:
    """Rebuilds the train, test and predict functions for the current variables.

    `make_*_function(force=True)` of the TensorFlow trainer; `fit()` keeps using the
    train function it holds, so a rebuild is needed mid-`fit()`. Checked against:
    Keras 3.15 (TensorFlow trainer).
    """
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)


# ------------------------------------------------------------- consumer kernel


def input_kernel_variable(layer):
    """The variable holding a layer's input kernel, or `None`.

    `Dense` and `Conv1D` store it as `_kernel` (their `kernel` property returns it
    merged with the LoRA factors when LoRA is on); the cells of `LSTM`, `GRU` and
    `SimpleRNN` as `cell.kernel`. Checked against: Keras 3.15.
    """
    owner = layer.cell if hasattr(layer, "cell") else layer
    kernel = getattr(owner, "_kernel", None)
    if kernel is None:
        kernel = getattr(owner, "kernel", None)
    return kernel


# ----------------------------------------------------------- masks and saving


def set_keras_mask(tensor, mask) -> None:
    """Attaches `mask` to a layer's output inside `call`.

    `keras.src.backend.set_keras_mask`, as `ReversibleEmbedding.call` does (its
    `compute_mask` cannot tell a reverse call). Checked against: Keras 3.15.
    """
    from keras.src.backend import set_keras_mask as _set_keras_mask

    _set_keras_mask(tensor, mask)


def model_from_config(config: dict, custom_objects=None, safe_mode: bool = True):
    """The model a `.keras` file's `config.json` describes, as `load_model` builds it.

    `saving_lib._model_from_config`: deserialization inside an `ObjectSharingScope`
    (objects shared in the config are built once). Checked against: Keras 3.15.
    """
    from keras.src.saving.serialization_lib import ObjectSharingScope

    with ObjectSharingScope():
        return keras.saving.deserialize_keras_object(
            config, custom_objects=custom_objects, safe_mode=safe_mode
        )


def saved_variables(layer) -> list:
    """The variables `Layer.save_own_variables` writes to the layer's `vars` group.

    `layer._trainable_variables + layer._non_trainable_variables`, in that order: the
    layer's own variables, not its sub-layers' (a layer that overrides
    `save_own_variables` may write others). Checked against: Keras 3.15.
    """
    return [*layer._trainable_variables, *layer._non_trainable_variables]


def weight_paths(model) -> dict[str, object]:
    """Where each layer's variables are in a `.keras` file's `model.weights.h5`.

    Mirrors `saving_lib._save_state`: an object's children are the values of its
    attributes (`saving_lib._walk_saveable`: a Functional or Sequential model's
    `layers` first, then attributes sorted, private ones last), at
    `<parent path>/<attribute>`; items of a list, tuple or dict attribute are at
    `<container path>/<snake_case class name>` (`_1`, `_2`... for repeats); each
    object is saved once, at the first path visited. The layer's variables are in
    the group `<path>/vars` (`vars` for the model). Checked against: Keras 3.15.
    """
    from keras.src.saving import saving_lib
    from keras.src.saving.keras_saveable import KerasSaveable
    from keras.src.utils import naming

    paths: dict[str, object] = {}
    visited: set[int] = set()

    def join(parent: str, child: str) -> str:
        return f"{parent}/{child}" if parent else child

    def visit(saveable, path: str) -> None:
        if id(saveable) in visited:
            return
        visited.add(id(saveable))
        if isinstance(saveable, keras.layers.Layer):
            paths[path] = saveable
        for attribute, child in saving_lib._walk_saveable(saveable):
            if isinstance(child, KerasSaveable):
                visit(child, join(path, attribute))
            elif isinstance(child, list | dict | tuple):
                visit_container(child, join(path, attribute), set())

    def visit_container(container, path: str, seen: set[int]) -> None:
        if id(container) in seen:
            return
        seen.add(id(container))
        used: dict[str, int] = {}
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            if isinstance(item, KerasSaveable):
                name = naming.to_snake_case(type(item).__name__)
                visit(item, join(path, saving_lib._get_unique_name(name, used)))
            elif isinstance(item, list | dict | tuple):
                name = saving_lib._get_unique_name("container", used)
                visit_container(item, join(path, name), seen)

    visit(model, "")
    return paths
