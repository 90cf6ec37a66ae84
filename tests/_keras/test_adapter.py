"""Tests of `keras_adapter`: the Keras internals the package relies on still behave.

Every test here names the Keras internal it checks. After a Keras upgrade, this file
fails first: update the adapter function named in the failure (and its "Checked
against" line), then `SUPPORTED_KERAS_VERSIONS`.
"""

import re
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from tflite_lowrank._keras import adapter, graph
from tflite_lowrank.layers.low_rank import LowRankEmbedding

VOCAB, DIM, SEQ = 50, 8, 5
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _model():
    inputs = keras.Input((SEQ,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(inputs)
    inner_inputs = keras.Input((SEQ, DIM))
    inner = keras.Model(
        inner_inputs, keras.layers.LSTM(4, name="lstm")(inner_inputs), name="encoder"
    )
    x = inner(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


# ------------------------------------------------------------------- version


def test_keras_adapter_installed_keras_is_in_the_checked_range():
    assert adapter.is_supported_keras_version(), (
        f"Keras {keras.__version__} is outside the range the adapter was checked "
        f"against, {adapter.SUPPORTED_KERAS_VERSIONS} (minimum included, "
        "maximum excluded). Run this file, fix the adapter, then widen the range."
    )


def test_keras_adapter_range_matches_pyproject():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (keras_requirement,) = [d for d in dependencies if re.match(r"keras\W", d)]
    minimum, maximum = adapter.SUPPORTED_KERAS_VERSIONS
    assert keras_requirement.replace(" ", "") == f"keras>={minimum},<{maximum}"


@pytest.mark.parametrize(
    "version, supported",
    [("3.15.0", True), ("3.15.1", True), ("3.16.0rc0", True), ("3.14.9", False)]
    + [("4.0.0", False), ("3", False)],
    ids=lambda value: str(value),
)
def test_keras_adapter_version_range_compares_major_minor(version, supported):
    assert adapter.is_supported_keras_version(version) is supported


# -------------------------------------------------------------------- layers


def test_keras_adapter_flatten_layers_is_recursive():
    """`Layer._flatten_layers(include_self=False, recursive=True)`."""
    model = _model()
    names = [layer.name for layer in graph.flatten_layers(model)]
    assert {"embedding", "encoder", "lstm", "head"} <= set(names)
    assert model.name not in names
    assert len(names) == len(set(names))


def test_keras_adapter_embedding_only_attributes_are_complete():
    """The instance attributes of a built `Embedding` that a factorized layer lacks."""
    embedding = keras.layers.Embedding(VOCAB, DIM)
    embedding.build()
    factorized = LowRankEmbedding(VOCAB, DIM, 3)
    factorized.build()
    extra = set(vars(embedding)) - set(vars(factorized))
    expected = {
        adapter.EMBEDDING_TABLE_ATTRIBUTE,
        *adapter.EMBEDDING_ONLY_ATTRIBUTES,
    }
    assert extra == expected, (
        "`keras.layers.Embedding` changed its instance attributes: update "
        "`EMBEDDING_TABLE_ATTRIBUTE`/`EMBEDDING_ONLY_ATTRIBUTES`. "
        f"Extra: {sorted(extra - expected)}, gone: {sorted(expected - extra)}"
    )
    table = getattr(embedding, adapter.EMBEDDING_TABLE_ATTRIBUTE)
    assert table is embedding.embeddings and isinstance(table, keras.Variable)


def test_keras_adapter_instance_bound_methods_exist():
    """`Layer.__new__` binds wrapped `build` and `quantize` to each instance."""
    layer = keras.layers.Embedding(VOCAB, DIM)
    for name in adapter.INSTANCE_BOUND_METHODS:
        assert name in vars(layer), f"`Layer.__new__` no longer binds `{name}`"


def test_keras_adapter_release_embedding_state_untracks_the_table():
    """`Layer.__delattr__` untracks a variable attribute."""
    model = _model()
    layer = model.get_layer("embedding")
    count = len(model.weights)
    adapter.release_embedding_state(layer)
    assert layer.weights == []
    assert len(model.weights) == count - 1
    for name in (
        adapter.EMBEDDING_TABLE_ATTRIBUTE,
        *adapter.EMBEDDING_ONLY_ATTRIBUTES,
        *adapter.INSTANCE_BOUND_METHODS,
    ):
        assert name not in vars(layer)


def test_keras_adapter_unlocked_tracker_allows_add_weight_after_build():
    """`Layer._tracker.unlock()`/`.lock()`: a built layer's tracker is locked."""
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="already built"):
        layer.add_weight(shape=(1,), name="extra")
    with adapter.unlocked_tracker(layer):
        layer.extra = layer.add_weight(shape=(1,), name="extra")
    assert any(weight is layer.extra for weight in layer.weights)
    with pytest.raises(ValueError, match="already built"):
        layer.add_weight(shape=(1,), name="more")


# ------------------------------------------------------ optimizer and compile


def test_keras_adapter_learning_rate_object_is_the_schedule_or_variable():
    """`optimizer._learning_rate` holds the schedule object, or a variable."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert adapter.learning_rate_object(keras.optimizers.SGD(schedule)) is (schedule)
    rate = adapter.learning_rate_object(keras.optimizers.SGD(0.25))
    assert isinstance(rate, keras.Variable)
    np.testing.assert_allclose(float(rate.numpy()), 0.25)


def test_keras_adapter_compiled_optimizer_is_what_save_writes():
    """`model._compile_config.config["optimizer"]`, serialized by save()."""
    model = _model()
    assert adapter.compiled_optimizer(model) is model.optimizer
    replacement = keras.optimizers.SGD(0.5)
    adapter.set_compiled_optimizer(model, replacement)
    assert adapter.compiled_optimizer(model) is replacement
    config = model.get_compile_config()["optimizer"]
    assert config["class_name"] == "SGD"
    assert config["config"]["learning_rate"] == 0.5
    uncompiled = keras.Sequential([keras.layers.Dense(1)])
    assert adapter.compiled_optimizer(uncompiled) is None
    adapter.set_compiled_optimizer(uncompiled, replacement)  # no-op


def test_keras_adapter_step_functions_reset_and_rebuild(rng):
    """`model.train_function` etc. and the TF trainer's `make_*_function(force)`."""
    model = _model()
    x = rng.integers(0, VOCAB, (4, SEQ)).astype("int32")
    model.fit(x, np.zeros((4, 2)), verbose=0)
    model.predict(x, verbose=0)
    assert model.train_function is not None and model.predict_function is not None
    adapter.reset_step_functions(model)
    assert model.train_function is None
    assert model.test_function is None and model.predict_function is None
    adapter.rebuild_step_functions(model)
    for function in (model.train_function, model.test_function):
        assert callable(function)
    assert callable(model.predict_function)


# ----------------------------------------------------------- functional graph


def test_keras_adapter_node_history_of_a_functional_graph():
    """`_nodes_by_depth`, `_inbound_nodes`, `_outbound_nodes`, `_keras_history`,
    `Node.arguments`."""
    model = _model()
    assert graph.is_functional_graph(model)
    assert not graph.is_functional_graph(keras.layers.Dense(1))
    ids = graph.graph_node_ids(model)
    embedding, head = model.get_layer("embedding"), model.get_layer("head")
    (node,) = [n for n in graph.inbound_nodes(embedding) if id(n) in ids]
    assert node.operation is embedding
    (consumer,) = [n for n in graph.outbound_nodes(embedding) if id(n) in ids]
    assert consumer.operation is model.get_layer("encoder")
    assert graph.producing_operation(model.outputs[0]) is head
    args, kwargs = graph.node_call_arguments(node)
    assert len(args) == 1 and isinstance(args[0], keras.KerasTensor)
    assert args[0] is model.inputs[0] and isinstance(kwargs, dict)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: keras.layers.Dense(3), (DIM, 3)),
        (lambda: keras.layers.Conv1D(3, 2), (2, DIM, 3)),
        (lambda: keras.layers.LSTM(3), (DIM, 12)),
        (lambda: keras.layers.GRU(3), (DIM, 9)),
        (lambda: keras.layers.SimpleRNN(3), (DIM, 3)),
    ],
    ids=["dense", "conv1d", "lstm", "gru", "simple_rnn"],
)
def test_keras_adapter_input_kernel_variable(make, shape):
    """`Dense._kernel`/`Conv1D._kernel` and `cell.kernel` of recurrent layers."""
    layer = make()
    layer.build((None, SEQ, DIM))
    kernel = adapter.input_kernel_variable(layer)
    assert isinstance(kernel, keras.Variable) and tuple(kernel.shape) == shape
    assert any(weight is kernel for weight in layer.weights)


def test_keras_adapter_input_kernel_variable_ignores_lora():
    """With LoRA on, `Dense.kernel` is a merged tensor; `_kernel` is the variable."""
    layer = keras.layers.Dense(3)
    layer.build((None, DIM))
    base = adapter.input_kernel_variable(layer)
    layer.enable_lora(2)
    assert adapter.input_kernel_variable(layer) is base


# ------------------------------------------------------------ masks and saving


def test_keras_adapter_set_keras_mask_is_read_by_the_next_layer():
    """`keras.src.backend.set_keras_mask` marks a tensor as masked."""
    from keras.src.backend import get_keras_mask

    tensor = keras.ops.ones((1, 3, 2))
    mask = keras.ops.convert_to_tensor([[True, True, False]])
    adapter.set_keras_mask(tensor, mask)
    np.testing.assert_array_equal(get_keras_mask(tensor), mask)


def test_keras_adapter_model_from_config_rebuilds_the_saved_model():
    """`ObjectSharingScope` + `deserialize_keras_object`, as `load_model` does."""
    model = _model()
    config = keras.saving.serialize_keras_object(model)
    config["compile_config"] = None
    rebuilt = adapter.model_from_config(config)
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in model.layers
    ]
    assert rebuilt.built and getattr(rebuilt, "optimizer", None) is None


@keras.saving.register_keras_serializable(package="tests")
class Holder(keras.layers.Layer):
    """Sublayers as an attribute and in a list: lists' items, like the model's
    `layers`, are named by class in weight files."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = keras.layers.Embedding(VOCAB, DIM)
        self.heads = [keras.layers.Dense(2), keras.layers.Dense(3)]

    def call(self, ids):
        hidden = self.table(ids)
        return [head(hidden) for head in self.heads]


def test_keras_adapter_weight_paths_match_the_weights_file(tmp_path):
    """`saving_lib._walk_saveable` and the naming of `_save_state`: every `vars`
    group of a weights file is at the path `weight_paths` gives its layer."""
    import h5py

    inputs = keras.Input((SEQ,), dtype="int32")
    first, second = Holder(name="holder")(inputs)
    model = keras.Model(inputs, [first, keras.layers.Dense(1)(second)])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    groups = {}
    with h5py.File(path, "r") as file:

        def collect(name, item):
            if name.endswith("vars") and len(item):
                groups[name.rpartition("/")[0]] = item.attrs["name"]

        file.visititems(collect)

    paths = adapter.weight_paths(model)

    holder = model.get_layer("holder")
    assert paths["layers/holder/table"] is holder.table
    assert paths["layers/holder/heads/dense_1"] is holder.heads[1]
    assert len(groups) == 4
    for group, name in groups.items():
        assert paths[group].name == name, group


def test_keras_adapter_saved_variables_are_the_vars_group(tmp_path):
    """`Layer.save_own_variables`: a layer's `vars` group holds its own variables
    (`_trainable_variables + _non_trainable_variables`), not its sub-layers'."""
    import h5py

    inputs = keras.Input((SEQ,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, DIM, name="table")(inputs)
    hidden = keras.layers.LSTM(3, name="lstm")(hidden)
    hidden = keras.layers.BatchNormalization(name="norm")(hidden)
    model = keras.Model(inputs, hidden)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    paths = adapter.weight_paths(model)
    with h5py.File(path, "r") as file:
        for name in ("embedding", "lstm", "lstm/cell", "batch_normalization"):
            layer = paths[f"layers/{name}"]
            group = file[f"layers/{name}/vars"]
            saved = [tuple(group[key].shape) for key in sorted(group, key=int)]
            expected = [tuple(v.shape) for v in adapter.saved_variables(layer)]
            assert saved == expected, name
    assert adapter.saved_variables(paths["layers/lstm"]) == []
    assert len(adapter.saved_variables(paths["layers/batch_normalization"])) == 4
