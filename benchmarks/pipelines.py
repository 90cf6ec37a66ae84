"""The callback's recipes across pipelines: dataset x model x training protocol.

The callback's defaults were chosen on dev with one training protocol, the
benchmarks' own. This study repeats the comparison under several protocols, so a
default can be chosen by its WORST pipeline on dev (issue 29). A pipeline is a
dataset (`rotten_tomatoes`, `r8`, `bbc`, `20newsgroups`, the package's splits
with their dev split) x a model (the paper's DAN; the LSTM optionally) x a
training protocol:

- `bench`: the benchmarks' fixed schedule. Vocabulary: the training words known to
  GloVe; GloVe-50 rows. CALR pretraining (peak 1e-2) for 3 epochs, then a fresh
  Adam with the retraining CALR for 5 (ours splits after epoch 3); batch 50;
  length RT 40, R8 100, BBC 200, 20NG 150; the best dev epoch is kept (for ours
  among the post-split epochs).
- `user`: what a user writes. Vocabulary: every training word (min count 1);
  GloVe-50 rows where known, small random rows (uniform in +-0.05) for the rest.
  Adam 3e-3 constant, batch 32, 12 epochs (ours splits after epoch 4), length 128
  (BBC, 20NG: 256), `EarlyStopping(monitor="val_accuracy", patience=3,
  restore_best_weights=True)` on the dev split.
- `scratch`: no pretrained vectors. Vocabulary: training words seen at least
  twice; Keras' random initialization. Adam 1e-3 constant, batch 32, 12 epochs
  (ours splits after epoch 6), length 64; the best dev epoch is kept (the same
  `EarlyStopping` with patience 12).

`bench` re-implements `benchmarks/experiment.py` and `frontier.py` with public
names: one pretraining per (dataset, model, seed) shared by every run of the seed,
then each run rebuilds the pretrained model with a fresh Adam and the retraining
CALR and fits epochs 3-8 (`initial_epoch=3`; ours splits at `at_epoch=3`). The
`user` and `scratch` runs are one `fit()` each from `keras.utils.set_random_seed`
(the same initial weights and batch order for every run of a seed); ours names
the `EarlyStopping` in `coordinate_with`.

Recipes, all `tl.EmbeddingFactorization("embedding", compression=0.9,
at_epoch=<the protocol's split>)` with the callback's learning rate (its default
`"calr"`) and:

- `baseline`: no split (the uncompressed model of the same seed and protocol);
- `default`: the defaults before `split_from` (6 frequency bands, both factors
  trained, the last pre-split epoch's weights split); every recipe below but
  `best_start` also splits the last epoch's weights (`split_from="last"`);
- `consumer_fixed`: `weighting="consumer", train_basis=False`;
- `single`: `bands=1`;
- `calibrated_fixed`: `calibration_data=` 3,200 random training rows,
  `train_basis=False`;
- `hedged`: `recipe="hedged"` (consumer-weighted, codes at the table's scale, the
  basis trained at a tenth of the codes' rate: `basis_learning_rate=0.1`);
- `hedged_03`: `recipe="hedged", basis_learning_rate=0.3` (the hedge nearer a
  trained basis);
- `slow_basis`: the defaults with `basis_learning_rate=0.3` (plain SVD, the basis
  trained at 0.3 of the codes' rate);
- `two_bands`: `bands=2` (a head and a tail: at most two lookups per token, the
  latency layout of `benchmarks/latency_layouts.py`);
- `qat_int4`, `qat_int4_rows`: the defaults with `quantization_aware="int4"` or
  `"int4_rows"` (the codes retrained on the grid of that file, which is measured);
- `default_p08`: the defaults at `compression=0.8` (for the 5% target);
- `best_start`: `default` with `split_from="best"`, the callback's default since
  this study (the split factorizes the weights of the pre-split epoch with the
  best `val_accuracy`, the monitor of the coordinated `EarlyStopping`; the `bench`
  retraining has no validation logs, so there it is `default`'s split);
- `thaw_2_consumer`: `weighting="consumer", basis_frozen_epochs=2` (codes at the
  table's scale, the basis held fixed for the first 2 epochs after the split, then
  trained at the codes' rate; `split_from="best"`); `thaw_1`, `thaw_2`: the same
  with the plain SVD, held 1 or 2 epochs (stopped after the `bench` RT and R8
  pipelines of seeds 0 and 1: dev 1.5 and 1.7 points below `default` on RT,
  0.8 and 1.0 on R8);
- `consumer_trained`: `weighting="consumer", train_basis=True` (the consumer-weighted
  SVD with `default`'s code scale and trained basis; `split_from="best"`);
- `fitted_fixed`: the callback's defaults since this recipe won (`split_from="best"`
  and `fixed_basis_above=0.95`: a model whose logged training accuracy at the split
  epoch reached 0.95 takes the consumer-weighted fixed-basis recipe; every recipe
  above pins `fixed_basis_above=None`, the behaviour they ran with);
- `freeze_drop`, `freeze_drop_rescale` (a prototype in this script, `bench` and
  `user` of seeds 0 and 1 only): `best_start`, and at the first post-split epoch
  whose dev accuracy falls, the best post-split weights restored and the basis held
  fixed from then on (`_rescale`: the codes first moved to the table's scale);
- `small_scratch` (control, `user` only): the same model with a
  `tl.LowRankEmbedding` of rank `tl.rank_for_compression(V, D, 0.9)` trained from
  random initialization for the same epochs, no split.

Each trained model is converted with `tl.convert_to_tflite` to float32, dynamic
int8 (`quantization="dynamic"`), 4-bit (`"int4"`, one scale per column) and, in
the runs added with `qat_*`, `"int4_rows"` files (4-bit, one scale per row), and
each file is scored on the dev and the test rows in LiteRT (`ai_edge_litert`
Interpreter, 1 thread). One JSON line per finished (dataset, model, protocol,
recipe, seed) goes to `results/pipelines.jsonl` (appended and fsync'ed; a restart
skips finished keys, so the run can be killed at any moment). The work is
breadth first: seed 0 of every pipeline and recipe, then seed 1, and so on.
`--report` writes `results/pipelines.md`, `results/pipelines_summary.json` and
`results/pipelines.png` (also written after every run). Test accuracy is only
reported, never used for choosing.

Usage (from the repository root):

```bash
python -m benchmarks.pipelines --smoke                      # tiny, temporary store
python -m benchmarks.pipelines --models dan --seeds 0 1 2 3 4
python -m benchmarks.pipelines --report
```
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

for _name, _value in (
    ("KERAS_BACKEND", "tensorflow"),
    ("TF_CPP_MIN_LOG_LEVEL", "2"),
    ("TF_NUM_INTRAOP_THREADS", "1"),
    ("TF_NUM_INTEROP_THREADS", "1"),
    ("OMP_NUM_THREADS", "1"),
):
    os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402

from benchmarks import harness, store  # noqa: E402

logger = logging.getLogger("pipelines")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUTPUT = RESULTS / "pipelines.jsonl"

DATASETS = ("rotten_tomatoes", "r8", "bbc", "20newsgroups")
MODELS = ("dan", "lstm")
PROTOCOLS = ("bench", "user", "scratch")
SEEDS = (0, 1, 2, 3, 4)
COMPRESSION = 0.9
GLOVE_DIM = 50
SPLIT_SEED = 0
"""The datasets' split is fixed (as in the benchmarks); the run seed changes the
initialization, the random rows and the batch order."""
CALIBRATION_EXAMPLES = 3200
"""Rows given as `calibration_data` (the callback's default 100 batches of 32)."""

KEY = ("dataset", "model", "protocol", "recipe", "seed")
_LAST = {"split_from": "last", "fixed_basis_above": None}
_BEST = {"split_from": "best", "fixed_basis_above": None}
RECIPES: dict[str, dict] = {
    "baseline": {},
    "default": {**_LAST},
    "consumer_fixed": {"weighting": "consumer", "train_basis": False, **_LAST},
    "single": {"bands": 1, **_LAST},
    "calibrated_fixed": {"train_basis": False, **_LAST},  # + calibration_data
    "hedged": {"recipe": "hedged", **_LAST},
    "small_scratch": {},
    "hedged_03": {"recipe": "hedged", "basis_learning_rate": 0.3, **_LAST},
    "slow_basis": {"basis_learning_rate": 0.3, **_LAST},
    "two_bands": {"bands": 2, **_LAST},
    "qat_int4": {"quantization_aware": "int4", **_LAST},
    "qat_int4_rows": {"quantization_aware": "int4_rows", **_LAST},
    "default_p08": {"compression": 0.8, **_LAST},
    "best_start": {**_BEST},
    "thaw_1": {"basis_frozen_epochs": 1, **_BEST},
    "thaw_2": {"basis_frozen_epochs": 2, **_BEST},
    "thaw_2_consumer": {
        "weighting": "consumer",
        "basis_frozen_epochs": 2,
        **_BEST,
    },
    "consumer_trained": {"weighting": "consumer", "train_basis": True, **_BEST},
    "freeze_drop": {"freeze_on_drop": "keep", **_BEST},
    "freeze_drop_rescale": {"freeze_on_drop": "rescale", **_BEST},
    "fitted_fixed": {},
}
"""The recipes before `best_start` ran when the callback split the last epoch's
weights by default (`split_from="last"`, pinned here so that a re-run repeats
them); every recipe but `fitted_fixed` ran before `fixed_basis_above` (pinned to
None); `fitted_fixed` is the callback's defaults."""
CANDIDATES = (
    *("default", "consumer_fixed", "single", "calibrated_fixed", "hedged"),
    *("hedged_03", "slow_basis", "two_bands", "best_start"),
    *("thaw_2_consumer", "consumer_trained", "fitted_fixed"),
)
"""The recipes a default is chosen among (`small_scratch` is a control)."""
CONTROL_PROTOCOLS = {"small_scratch": ("user",)}
"""Recipes run under some protocols only."""
MODES = {
    "float32": "float32",
    "int8": "dynamic",
    "int4": "int4",
    "int4_rows": "int4_rows",
}
"""File variant -> `convert_to_tflite(quantization=...)`."""
REFERENCE = ("baseline", "float32")
"""Deltas are taken against the uncompressed model's float32 file."""
CHOICE_VARIANT = "int8"


# ---------------------------------------------------------------- protocols


@dataclasses.dataclass(frozen=True)
class Data:
    """Token ids of one dataset under one protocol's vocabulary and length."""

    dataset: str
    vocabulary: tuple[str, ...]
    seq_len: int
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    y_dev: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What a protocol fixes for every run of a (dataset, model, seed)."""

    name: str
    data: Data
    table: Callable[[int], np.ndarray | None]
    """Seed -> initial embedding table (None: Keras' random initialization)."""
    batch_size: int
    epochs: int
    split_epoch: int
    train: Callable
    """`train(protocol, model_name, seed, recipe, state) -> Trained`."""
    learning_rate: float | None = None
    patience: int | None = None


@dataclasses.dataclass
class Trained:
    model: object
    keras_dev_accuracy: float
    best_epoch: int
    epochs_run: int
    dev_curve: list[float]
    split: dict | None
    train_seconds: float


def load_splits(dataset: str, smoke: bool):
    """Texts and labels of the package's train/dev/test splits (`SPLIT_SEED`)."""
    import tflite_lowrank as tl

    data = tl.load_dataset(dataset, seed=SPLIT_SEED)
    limits = (400, 120, 120) if smoke else (None, None, None)
    splits = []
    for split, limit in zip((data.train, data.dev, data.test), limits, strict=True):
        texts = list(split.texts[:limit])
        labels = np.asarray(split.labels[: len(texts)], dtype=np.int32)
        splits.append((texts, labels))
    return splits, data.num_classes


@functools.lru_cache(maxsize=4)
def encode(
    dataset: str,
    seq_len: int,
    min_count: int,
    glove_only: bool,
    smoke: bool,
) -> Data:
    """Builds the vocabulary on the training texts and encodes every split."""
    import tflite_lowrank as tl

    (train, dev, test), num_classes = load_splits(dataset, smoke)
    restrict = frozenset(tl.load_glove().words) if glove_only else None
    # The study's runs use the tokenizer rules they started with (v1, ASCII only),
    # so that every run of a pipeline sees the same vocabulary.
    tokenizer = tl.Tokenizer.from_texts(
        train[0],
        seq_len=seq_len,
        min_count=min_count,
        restrict_to=restrict,
        mode="clean_v1",
    )
    return Data(
        dataset=dataset,
        vocabulary=tuple(tokenizer.vocabulary),
        seq_len=seq_len,
        num_classes=num_classes,
        x_train=tokenizer.encode(train[0]),
        y_train=train[1],
        x_dev=tokenizer.encode(dev[0]),
        y_dev=dev[1],
        x_test=tokenizer.encode(test[0]),
        y_test=test[1],
    )


def glove_table(vocabulary: Sequence[str], seed: int, missing: str) -> np.ndarray:
    """GloVe-50 rows; rows GloVe lacks are random, row 0 (padding) is zero.

    `missing="glove_sd"`: normal rows with the found vectors' standard deviation
    (the benchmarks' `glove_embeddings`); `"small"`: uniform in +-0.05 (Keras'
    `Embedding` initializer), what a user typically writes.
    """
    import tflite_lowrank as tl

    glove = tl.load_glove(vocabulary)
    table = np.array(glove.vectors, dtype=np.float32, copy=True)
    lacks = ~np.asarray(glove.found)
    lacks[0] = False
    rng = np.random.default_rng(seed)
    if missing == "glove_sd":
        scale = float(glove.vectors[glove.found].std())
        rows = rng.normal(0.0, scale, size=(int(lacks.sum()), table.shape[1]))
    else:
        rows = rng.uniform(-0.05, 0.05, size=(int(lacks.sum()), table.shape[1]))
    table[lacks] = rows
    table[0] = 0.0
    return table


BENCH = harness.recipe_for(quick=False)
"""The benchmarks' fixed schedule (`harness.Recipe`), at `harness.SEQ_LEN`."""


def bench(dataset: str, smoke: bool = False) -> Protocol:
    """The benchmarks' protocol (`experiment.py`, `frontier.py`)."""
    data = encode(dataset, harness.SEQ_LEN[dataset], 1, True, smoke)
    pre, post = (1, 1) if smoke else (BENCH.pretrain_epochs, BENCH.retrain_epochs)
    return Protocol(
        name="bench",
        data=data,
        table=lambda seed: glove_table(data.vocabulary, seed, "glove_sd"),
        batch_size=BENCH.batch_size,
        epochs=pre + post,
        split_epoch=pre,
        train=train_bench,
    )


def user(dataset: str, smoke: bool = False) -> Protocol:
    """What a user writes: full vocabulary, GloVe where known, Adam 3e-3, stopping."""
    seq_len = 256 if dataset in ("bbc", "20newsgroups") else 128
    data = encode(dataset, seq_len, 1, False, smoke)
    return Protocol(
        name="user",
        data=data,
        table=lambda seed: glove_table(data.vocabulary, seed, "small"),
        batch_size=32,
        epochs=2 if smoke else 12,
        split_epoch=1 if smoke else 4,
        train=train_one_fit,
        learning_rate=3e-3,
        patience=3,
    )


def scratch(dataset: str, smoke: bool = False) -> Protocol:
    """No pretrained vectors: random table, Adam 1e-3, best dev epoch kept."""
    data = encode(dataset, 64, 2, False, smoke)
    return Protocol(
        name="scratch",
        data=data,
        table=lambda seed: None,
        batch_size=32,
        epochs=2 if smoke else 12,
        split_epoch=1 if smoke else 6,
        train=train_one_fit,
        learning_rate=1e-3,
        patience=12,
    )


PROTOCOL_BUILDERS = {"bench": bench, "user": user, "scratch": scratch}


# ---------------------------------------------------------------- training


def build_model(model_name: str, data: Data, table: np.ndarray | None):
    import tflite_lowrank as tl

    builder = {"dan": tl.build_dan, "lstm": tl.build_lstm}[model_name]
    return builder(
        data.vocab_size,
        data.num_classes,
        seq_len=data.seq_len,
        embedding_dim=GLOVE_DIM,
        embeddings=table,
    )


def low_rank_clone(model, rank: int):
    """The same model with a `tl.LowRankEmbedding` of `rank` (random init)."""
    import keras

    import tflite_lowrank as tl

    def clone(layer):
        if layer.name == "embedding":
            return tl.LowRankEmbedding(
                layer.input_dim,
                layer.output_dim,
                rank,
                mask_zero=True,
                name="embedding",
            )
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def calibration_sample(data: Data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random sample of the training rows, in their order."""
    rng = np.random.default_rng(seed)
    count = min(CALIBRATION_EXAMPLES, len(data.x_train))
    index = np.sort(rng.permutation(len(data.x_train))[:count])
    return data.x_train[index], data.y_train[index]


def split_callback(protocol: Protocol, recipe: str, seed: int, coordinate=()):
    import tflite_lowrank as tl

    options = dict(RECIPES[recipe])
    options.pop("freeze_on_drop", None)  # `FreezeOnDrop`, a callback of its own.
    compression = options.pop("compression", COMPRESSION)
    # Recipe fields without an argument of their own go into the recipe.
    fields = {
        name: options.pop(name)
        for name in ("basis_frozen_epochs", "fixed_basis_above")
        if name in options
    }
    if fields:
        preset = options.pop("recipe", "default")
        options["recipe"] = tl.SplitRecipe.preset(preset).replace(**fields)
    if recipe == "calibrated_fixed":
        options["calibration_data"] = calibration_sample(protocol.data, seed)
    return tl.EmbeddingFactorization(
        "embedding",
        compression=compression,
        at_epoch=protocol.split_epoch,
        verbose=0,
        coordinate_with=list(coordinate),
        **options,
    )


def train_one_fit(protocol: Protocol, model_name: str, seed: int, recipe: str, state):
    """`user` and `scratch`: one `fit()` with `EarlyStopping` on the dev split."""
    import keras

    import tflite_lowrank as tl

    data = protocol.data
    keras.utils.set_random_seed(seed)
    model = build_model(model_name, data, protocol.table(seed))
    if recipe == "small_scratch":
        rank = tl.rank_for_compression(data.vocab_size, GLOVE_DIM, COMPRESSION)
        model = low_rank_clone(model, rank)
    compile_for(model, protocol)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=protocol.patience, restore_best_weights=True
    )
    callbacks = [stopping]
    split = None
    if recipe not in ("baseline", "small_scratch"):
        split = split_callback(protocol, recipe, seed, coordinate=[stopping])
        callbacks.append(split)
        freeze = freeze_on_drop(recipe, split, data)
        if freeze is not None:
            callbacks.append(freeze)
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=protocol.batch_size,
        epochs=protocol.epochs,
        validation_data=(data.x_dev, data.y_dev),
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    curve = [float(v) for v in history.history.get("val_accuracy", [])]
    return Trained(
        model=model,
        keras_dev_accuracy=harness.accuracy(model, data.x_dev, data.y_dev),
        best_epoch=int(stopping.best_epoch) + 1,
        epochs_run=len(curve),
        dev_curve=curve,
        split=_split_result(split),
        train_seconds=seconds,
    )


def freeze_on_drop(recipe: str, split, data):
    """The `freeze_drop*` recipes' callback (a prototype, not in the package), or None.

    After the split the default recipe trains; at the end of the first post-split
    epoch whose dev accuracy (`val_accuracy`, else scored here) is below the best
    post-split one, the best post-split weights are restored and the basis is held
    fixed from then on (`BasisDamping` at 0). `"rescale"` also moves each band to
    the table's scale first (`B^T = Q R`: `A <- A R^T`, `B <- Q^T`, the same product).
    """
    import keras

    from tflite_lowrank.training.optimizer import BasisDamping

    mode = RECIPES[recipe].get("freeze_on_drop")
    if mode is None or split is None:
        return None

    class FreezeOnDrop(keras.callbacks.Callback):
        best, weights, frozen_at = None, None, None

        def on_epoch_end(self, epoch, logs=None):
            if split.result is None or self.frozen_at is not None:
                return
            value = (logs or {}).get("val_accuracy")
            if value is None:
                value = harness.accuracy(self.model, data.x_dev, data.y_dev)
            if self.best is None or value > self.best:
                self.best, self.weights = value, self.model.get_weights()
                return
            self.model.set_weights(self.weights)
            layer = split._layer
            if mode == "rescale":
                for a, b in zip(layer.embeddings_a, layer.embeddings_b, strict=True):
                    a_value, b_value = np.asarray(a), np.asarray(b)
                    q, r = np.linalg.qr(b_value.T)
                    a.assign((a_value @ r.T).astype(a_value.dtype))
                    b.assign(q.T.astype(b_value.dtype))
            split._damping = BasisDamping(layer, 0.0)
            self.frozen_at = epoch

    return FreezeOnDrop()


def compile_for(model, protocol: Protocol) -> None:
    """Compiles `model` for `protocol`'s training before the split: `bench`'s
    pretraining CALR, or Adam at the protocol's constant rate."""
    import keras

    if protocol.name == "bench":
        _bench_compile(model, bench_calr(protocol, "pretrain"))
        return
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=protocol.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def _split_result(split) -> dict | None:
    if split is None or split.result is None:
        return None
    return split.result.to_dict()


def bench_calr(protocol: Protocol, phase: str):
    """`experiment.calr`: peak 1e-2, floor peak*1e-5 (pretrain) or *1e-3, half-epoch
    half cycle, peak x0.1 per epoch."""
    import tflite_lowrank as tl

    steps = -(-len(protocol.data.x_train) // protocol.batch_size)
    peak = BENCH.peak_learning_rate
    return tl.CyclicalAnnealedLearningRate(
        initial_learning_rate=peak,
        minimal_learning_rate=peak * (1e-5 if phase == "pretrain" else 1e-3),
        step_size=steps / 2,
        decay=BENCH.decay,
        steps_per_epoch=steps,
    )


def _bench_compile(model, rate) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate, epsilon=BENCH.adam_epsilon),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def train_bench(protocol: Protocol, model_name: str, seed: int, recipe: str, state):
    """`bench`: the shared pretraining (cached in `state`), then this run's retraining.

    As `experiment.pretrain` and `retrain_uncompressed` / `retrain_online`.
    """
    import keras

    data = protocol.data
    key = (data.dataset, model_name, seed, protocol.epochs)
    if state.get("bench_key") != key:
        state.clear()
        keras.utils.set_random_seed(seed)
        model = build_model(model_name, data, protocol.table(seed))
        compile_for(model, protocol)
        selection = harness.DevSelection(data)
        start = time.perf_counter()
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=protocol.batch_size,
            epochs=protocol.split_epoch,
            shuffle=True,
            verbose=0,
            callbacks=[selection],
        )
        state.update(
            bench_key=key,
            weights=model.get_weights(),
            selection=selection,
            seconds=time.perf_counter() - start,
        )
    keras.utils.set_random_seed(seed + 1000)
    model = build_model(model_name, data, None)
    model.set_weights(state["weights"])
    _bench_compile(model, bench_calr(protocol, "retrain"))
    compressed = recipe != "baseline"
    selection = harness.DevSelection(
        data,
        select_from=protocol.split_epoch if compressed else 0,
        start=state["selection"],
    )
    split = split_callback(protocol, recipe, seed) if compressed else None
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=protocol.batch_size,
        epochs=protocol.epochs,
        initial_epoch=protocol.split_epoch,
        shuffle=True,
        verbose=0,
        callbacks=[
            c
            for c in (split, selection, freeze_on_drop(recipe, split, data))
            if c is not None
        ],
    )
    seconds = time.perf_counter() - start
    selection.restore_best()
    return Trained(
        model=model,
        keras_dev_accuracy=harness.accuracy(model, data.x_dev, data.y_dev),
        best_epoch=selection.result.best_epoch,
        epochs_run=len(selection.result.dev_curve),
        dev_curve=selection.result.dev_curve,
        split=_split_result(split),
        train_seconds=state["seconds"] + seconds,
    )


# ---------------------------------------------------------------- files


def measure_files(model, data: Data, work: Path) -> dict:
    """Converts to each variant and scores every file on dev and test in LiteRT."""
    import tflite_lowrank as tl

    files = {}
    for variant, mode in MODES.items():
        path = work / f"model_{variant}.tflite"
        start = time.perf_counter()
        try:
            result = tl.convert_to_tflite(
                model,
                path,
                quantization=mode,
                overwrite=True,
                representative_data=data.x_train[:16],
            )
        except Exception as error:  # Recorded: a mode that does not convert.
            logger.warning("%s conversion failed: %s", variant, error)
            files[variant] = {"error": f"{type(error).__name__}: {error}"}
            continue
        convert_seconds = time.perf_counter() - start
        start = time.perf_counter()
        files[variant] = {
            "quantization": result.quantization,
            "bytes": int(result.size_bytes),
            "embedding_bytes": int(result.embedding_bytes),
            "embedding_share": result.embedding_bytes / result.size_bytes,
            "embedding_tensors": [
                {"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)}
                for t in result.embedding_tensors
            ],
            "folded_into": list(result.folded_into),
            "max_output_difference": float(result.max_output_difference),
            "dev_accuracy": harness.litert_accuracy(path, data.x_dev, data.y_dev),
            "test_accuracy": harness.litert_accuracy(path, data.x_test, data.y_test),
            "convert_seconds": convert_seconds,
            "eval_seconds": time.perf_counter() - start,
        }
        path.unlink(missing_ok=True)
    return files


def run_one(key: dict, protocol: Protocol, state: dict, work: Path, smoke: bool):
    import tflite_lowrank as tl

    data = protocol.data
    start = time.perf_counter()
    trained = protocol.train(protocol, key["model"], key["seed"], key["recipe"], state)
    files = measure_files(trained.model, data, work)
    compressed = key["recipe"] != "baseline"
    compression = RECIPES[key["recipe"]].get("compression", COMPRESSION)
    return {
        **key,
        "compression": compression if compressed else None,
        "vocab_size": data.vocab_size,
        "seq_len": data.seq_len,
        "train_rows": len(data.x_train),
        "dev_rows": len(data.x_dev),
        "test_rows": len(data.x_test),
        "rank": tl.rank_for_compression(data.vocab_size, GLOVE_DIM, compression),
        "batch_size": protocol.batch_size,
        "epochs": protocol.epochs,
        "split_epoch": protocol.split_epoch,
        "keras_dev_accuracy": trained.keras_dev_accuracy,
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.epochs_run,
        "dev_curve": trained.dev_curve,
        "split": trained.split,
        "split_happened": trained.split is not None,
        "train_seconds": trained.train_seconds,
        "run_seconds": time.perf_counter() - start,
        "files": files,
        "smoke": smoke,
        "tflite_lowrank": tl.__version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def plan(args, done: set) -> list[dict]:
    """Breadth first: every pipeline and recipe of a seed before the next seed."""
    keys = []
    for seed in args.seeds:
        for model in args.models:
            for protocol in args.protocols:
                for dataset in args.datasets:
                    for recipe in args.recipes:
                        allowed = CONTROL_PROTOCOLS.get(recipe)
                        if allowed is not None and protocol not in allowed:
                            continue
                        key = {
                            "dataset": dataset,
                            "model": model,
                            "protocol": protocol,
                            "recipe": recipe,
                            "seed": seed,
                        }
                        if store.run_key(key, KEY) not in done:
                            keys.append(key)
    return keys


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=("dan",))
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=PROTOCOLS)
    parser.add_argument(
        "--recipes", nargs="+", choices=tuple(RECIPES), default=tuple(RECIPES)
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="Tiny slices, 1 epoch before and 1 after the split; writes to a "
        "temporary store (never into results/).",
    )
    parser.add_argument("--report", action="store_true", help="Only write the report.")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    logger.setLevel(logging.INFO)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    if args.smoke:
        args.output = Path(tempfile.mkdtemp(prefix="pipelines_smoke_")) / "smoke.jsonl"
        logger.info("Smoke run: store %s", args.output)
    if args.report:
        report(store.read_rows(args.output), args.output)
        return 0
    import tensorflow as tf
    from tqdm import tqdm

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keys = plan(args, store.finished_keys(args.output, KEY))
    logger.info("%d runs to do (%s).", len(keys), args.output)
    work = Path(tempfile.mkdtemp(prefix="pipelines_files_"))
    state: dict = {}
    for key in tqdm(keys, desc="pipelines", disable=args.no_progress):
        protocol = PROTOCOL_BUILDERS[key["protocol"]](key["dataset"], args.smoke)
        row = run_one(key, protocol, state, work, args.smoke)
        store.append_row(args.output, row)
        int8 = row["files"].get("int8", {})
        logger.info(
            "%s %s %s %s seed %d: keras dev %.4f, int8 dev %s test %s, %s bytes, "
            "best epoch %d/%d, split %s, %.0f s",
            key["dataset"],
            key["model"],
            key["protocol"],
            key["recipe"],
            key["seed"],
            row["keras_dev_accuracy"],
            _fmt(int8.get("dev_accuracy")),
            _fmt(int8.get("test_accuracy")),
            int8.get("bytes"),
            row["best_epoch"],
            row["epochs_run"],
            "yes" if row["split_happened"] else "no",
            row["run_seconds"],
        )
        try:
            report(store.read_rows(args.output), args.output)
        except Exception:  # The report never stops the runs.
            logger.exception("Report failed.")
    report(store.read_rows(args.output), args.output)
    return 0


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------- report


def _se(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def _accuracy(row: dict, variant: str, split: str) -> float | None:
    value = row.get("files", {}).get(variant, {}).get(f"{split}_accuracy")
    return None if value is None else 100.0 * value


def pipeline_cells(rows: list[dict]) -> list[dict]:
    """Per (pipeline, recipe, variant): accuracies and paired deltas over seeds."""
    by_key = {store.run_key(r, KEY): r for r in rows}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["model"], row["protocol"], row["recipe"])].append(
            row
        )
    cells = []
    for (dataset, model, protocol, recipe), members in sorted(groups.items()):
        members.sort(key=lambda r: r["seed"])
        for variant in MODES:
            cell = {
                "dataset": dataset,
                "model": model,
                "protocol": protocol,
                "recipe": recipe,
                "variant": variant,
                "no_split_seeds": [
                    r["seed"]
                    for r in members
                    if recipe in CANDIDATES and not r.get("split_happened")
                ],
            }
            for split in ("dev", "test"):
                values = [
                    (r["seed"], _accuracy(r, variant, split))
                    for r in members
                    if _accuracy(r, variant, split) is not None
                ]
                cell[f"{split}_seeds"] = [s for s, _ in values]
                cell[f"{split}_values"] = [v for _, v in values]
                cell[f"{split}_mean"] = (
                    statistics.fmean(v for _, v in values) if values else None
                )
                deltas = []
                for seed, value in values:
                    base = by_key.get(
                        store.run_key(
                            {
                                "dataset": dataset,
                                "model": model,
                                "protocol": protocol,
                                "recipe": REFERENCE[0],
                                "seed": seed,
                            },
                            KEY,
                        )
                    )
                    reference = base and _accuracy(base, REFERENCE[1], split)
                    if reference is not None:
                        deltas.append((seed, value - reference))
                cell[f"{split}_delta_seeds"] = [s for s, _ in deltas]
                cell[f"{split}_deltas"] = [d for _, d in deltas]
                cell[f"{split}_delta_mean"] = (
                    statistics.fmean(d for _, d in deltas) if deltas else None
                )
                cell[f"{split}_delta_se"] = (
                    _se([d for _, d in deltas]) if deltas else None
                )
            sized = [
                r["files"][variant]
                for r in members
                if "bytes" in r["files"].get(variant, {})
            ]
            cell["bytes_median"] = (
                statistics.median(f["bytes"] for f in sized) if sized else None
            )
            cell["embedding_share_median"] = (
                statistics.median(f["embedding_share"] for f in sized)
                if sized
                else None
            )
            cell["keras_dev_mean"] = statistics.fmean(
                100.0 * r["keras_dev_accuracy"] for r in members
            )
            cells.append(cell)
    return cells


FINALISTS = 2
"""How many of the screened candidates are compared again on all their seeds."""


def choose(rows: list[dict], variant: str = CHOICE_VARIANT) -> dict:
    """The dev-chosen recipe: screened on shared seeds, confirmed on all seeds.

    Screening (`compare` over every candidate) ranks the candidates by their worst
    pipeline on dev (ties: the better mean) on the seeds that all of them share;
    the best `FINALISTS` are compared again on the seeds that they share (more,
    when they ran more), and the better worst pipeline there is chosen. Test is
    only reported.
    """
    screening = compare(rows, CANDIDATES, variant)
    ranked = sorted(
        screening["recipes"],
        key=lambda t: (t["worst_dev"], t["mean_dev"]),
        reverse=True,
    )
    finalists = tuple(t["recipe"] for t in ranked[:FINALISTS])
    confirmation = compare(rows, finalists, variant) if finalists else None
    return {
        **screening,
        "finalists": list(finalists),
        "confirmation": confirmation,
        "chosen": confirmation["chosen"] if confirmation else None,
    }


def compare(rows: list[dict], candidates, variant: str = CHOICE_VARIANT) -> dict:
    """Per candidate recipe: worst and mean pipeline on dev, on the same seeds.

    A pipeline counts when the baseline and every candidate have at least one
    seed in common; each recipe's Δ in it is the mean over those common seeds (its
    `variant` file against the baseline's float32 file). `chosen` has the best
    worst-pipeline Δ dev (ties: the better mean).
    """
    by_key = {store.run_key(r, KEY): r for r in rows}
    pipelines = sorted({(r["dataset"], r["model"], r["protocol"]) for r in rows})
    used = []
    per_recipe: dict[str, dict[str, list]] = {
        recipe: {"dev": [], "test": []} for recipe in candidates
    }
    for pipeline in pipelines:
        seeds_of = {}
        for recipe in (REFERENCE[0], *candidates):
            seeds_of[recipe] = {
                r["seed"]
                for r in rows
                if (r["dataset"], r["model"], r["protocol"]) == pipeline
                and r["recipe"] == recipe
                and _accuracy(
                    r, variant if recipe != REFERENCE[0] else REFERENCE[1], "dev"
                )
                is not None
            }
        common = sorted(set.intersection(*seeds_of.values()))
        if not common:
            continue
        used.append({"pipeline": list(pipeline), "seeds": common})
        for recipe in candidates:
            for split in ("dev", "test"):
                deltas = []
                for seed in common:
                    dataset, model, protocol = pipeline
                    head = {"dataset": dataset, "model": model, "protocol": protocol}
                    row = by_key[
                        store.run_key({**head, "recipe": recipe, "seed": seed}, KEY)
                    ]
                    base = by_key[
                        store.run_key(
                            {**head, "recipe": REFERENCE[0], "seed": seed}, KEY
                        )
                    ]
                    deltas.append(
                        _accuracy(row, variant, split)
                        - _accuracy(base, REFERENCE[1], split)
                    )
                per_recipe[recipe][split].append((pipeline, statistics.fmean(deltas)))
    table = []
    for recipe in candidates:
        dev, test = per_recipe[recipe]["dev"], per_recipe[recipe]["test"]
        if not dev:
            continue
        worst = min(dev, key=lambda item: item[1])
        worst_test = min(test, key=lambda item: item[1])
        table.append(
            {
                "recipe": recipe,
                "pipelines": len(dev),
                "worst_dev": worst[1],
                "worst_dev_pipeline": "/".join(worst[0]),
                "mean_dev": statistics.fmean(d for _, d in dev),
                "worst_test": worst_test[1],
                "worst_test_pipeline": "/".join(worst_test[0]),
                "mean_test": statistics.fmean(d for _, d in test),
                "dev_by_pipeline": {"/".join(p): d for p, d in dev},
                "test_by_pipeline": {"/".join(p): d for p, d in test},
            }
        )
    chosen = (
        max(table, key=lambda t: (t["worst_dev"], t["mean_dev"]))["recipe"]
        if table
        else None
    )
    return {"variant": variant, "pipelines": used, "recipes": table, "chosen": chosen}


def _pm(mean, se, digits: int = 2, n: int = 2) -> str:
    """`+m ± se`; the mean alone for one seed (no standard error)."""
    if mean is None:
        return "–"
    if n < 2:
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} ± {se:.{digits}f}"


def report(rows: list[dict], output: Path) -> None:
    """Writes `<stem>.md`, `<stem>_summary.json` and `<stem>.png` next to `output`."""
    if not rows:
        return
    folder, stem = output.parent, output.stem
    cells = pipeline_cells(rows)
    choice = choose(rows)
    seeds_done = defaultdict(int)
    for row in rows:
        seeds_done[row["seed"]] += 1
    protocols_text = (
        "`bench`: the benchmarks' schedule (train words known to GloVe, GloVe-50 "
        "init, 3 epochs CALR pretraining shared by the runs of a seed, then 5 with a "
        "fresh Adam and the retraining CALR, batch 50, split after epoch 3, best dev "
        "epoch); `user`: every train word, GloVe-50 where known and small random "
        "rows otherwise, Adam 3e-3, batch 32, 12 epochs, split after epoch 4, "
        "`EarlyStopping(val_accuracy, patience=3, restore_best_weights=True)`, "
        "length 128 (BBC, 20NG 256); `scratch`: train words seen twice, random init, "
        "Adam 1e-3, batch 32, 12 epochs, split after epoch 6, best dev epoch "
        "(`EarlyStopping` with patience 12), length 64."
    )
    lines = [
        "# The callback's recipes across pipelines (`benchmarks/pipelines.py`)",
        "",
        "A pipeline is dataset x model x training protocol. " + protocols_text,
        "",
        "Recipes at `compression=0.9`, each with the callback's own learning rate: "
        "`default` (the defaults until this study: 6 frequency bands, both factors "
        "trained, the last pre-split epoch's weights split, as in every recipe but "
        "`best_start`), "
        '`consumer_fixed` (`weighting="consumer", train_basis=False`), `single` '
        "(`bands=1`), `calibrated_fixed` (`calibration_data=` 3,200 training rows, "
        '`train_basis=False`), `hedged` (`recipe="hedged"`, the basis at 0.1 of '
        "the codes' rate), `hedged_03` (the same at 0.3), `slow_basis` (the "
        "defaults, basis at 0.3), `two_bands` (`bands=2`), `qat_int4` and "
        "`qat_int4_rows` (`quantization_aware=` that file's mode), `default_p08` "
        "(the defaults at `compression=0.8`), `best_start` (`default` with "
        '`split_from="best"`, the default since: the weights of the best pre-split '
        "dev epoch are split; in `bench` the same split as `default`), "
        '`thaw_2_consumer` (`weighting="consumer", basis_frozen_epochs=2`: the '
        "basis held fixed for 2 epochs after the split, then trained; `thaw_1` and "
        "`thaw_2` the same with the plain SVD, run on two pipelines only), "
        '`consumer_trained` (`weighting="consumer", train_basis=True`), '
        "`freeze_drop` and `freeze_drop_rescale` (a prototype, `bench` and `user` "
        "only: the basis held fixed, after restoring the best post-split weights, "
        "from the first post-split epoch whose dev accuracy falls), "
        "`fitted_fixed` (`best_start` with `fixed_basis_above=0.95`: the "
        "consumer-weighted fixed basis when the logged training accuracy of the split "
        "epoch reached 0.95; every other recipe ran without that rule); control "
        "`small_scratch` "
        "(`user` only): a `LowRankEmbedding` of the single-SVD rank trained from "
        "random initialization, no split. Every model is converted to float32, dynamic "
        "int8 and int4 `.tflite` files (and `int4_rows` in the runs added with the "
        "QAT recipes), and each file is scored on dev and test in LiteRT (1 "
        "thread).",
        "",
        f"Rows: {len(rows)} runs; per seed: "
        + ", ".join(f"seed {s}: {n}" for s, n in sorted(seeds_done.items()))
        + ".",
        "",
        "## Per pipeline",
        "",
        "Baseline: the uncompressed model's float32 file, accuracy in % (mean ± sd "
        "over seeds). Recipes: their int8 file; Δ = that file's accuracy minus the "
        "baseline float32 file's, paired by seed, mean ± standard error, in points. "
        "n: seeds.",
        "",
        "| dataset | model | protocol | recipe | n | dev (%) | test (%) "
        "| Δ dev int8 | Δ test int8 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cells_by = {
        (c["dataset"], c["model"], c["protocol"], c["recipe"], c["variant"]): c
        for c in cells
    }
    pipelines = sorted(
        {(c["dataset"], c["model"], c["protocol"]) for c in cells},
        key=lambda p: (p[1], PROTOCOLS.index(p[2]), DATASETS.index(p[0])),
    )
    no_split = 0
    for pipeline in pipelines:
        for recipe in _recipes_of(cells, pipeline):
            if recipe == REFERENCE[0]:
                cell = cells_by[(*pipeline, recipe, REFERENCE[1])]
                lines.append(
                    f"| {pipeline[0]} | {pipeline[1]} | {pipeline[2]} | "
                    f"**baseline** (float32) | {len(cell['dev_values'])} | "
                    f"{_mean_sd(cell['dev_values'])} | {_mean_sd(cell['test_values'])} "
                    "| | |"
                )
                continue
            cell = cells_by[(*pipeline, recipe, CHOICE_VARIANT)]
            n_dev, n_test = len(cell["dev_deltas"]), len(cell["test_deltas"])
            mark = ""
            if cell["no_split_seeds"]:
                no_split += len(cell["no_split_seeds"])
                mark = (
                    " (no split: seeds "
                    + ", ".join(map(str, cell["no_split_seeds"]))
                    + ")"
                )
            lines.append(
                f"| {pipeline[0]} | {pipeline[1]} | {pipeline[2]} | {recipe}{mark} | "
                f"{len(cell['dev_values'])} | {_mean_sd(cell['dev_values'])} | "
                f"{_mean_sd(cell['test_values'])} | "
                f"{_pm(cell['dev_delta_mean'], cell['dev_delta_se'], n=n_dev)} | "
                f"{_pm(cell['test_delta_mean'], cell['test_delta_se'], n=n_test)} |"
            )
    lines += [
        "",
        "## Per recipe: worst pipeline on dev",
        "",
        "Over the pipelines where the baseline and every candidate recipe have "
        "finished a common seed, on those seeds: the recipe's int8 file against the "
        "baseline's float32 file, mean Δ per pipeline, in points. The two with the "
        "best worst pipeline on dev are compared again on all the seeds they share, "
        "and the better worst pipeline there is the dev-chosen recipe. Test columns "
        "are reported only.",
        "",
        "| recipe | pipelines | worst Δ dev (pipeline) | mean Δ dev | worst Δ test "
        "(pipeline) | mean Δ test |",
        "|---|---|---|---|---|---|",
    ]
    for t in choice["recipes"]:
        lines.append(
            f"| {t['recipe']} | {t['pipelines']} | {t['worst_dev']:+.2f} "
            f"({t['worst_dev_pipeline']}) | {t['mean_dev']:+.2f} | "
            f"{t['worst_test']:+.2f} ({t['worst_test_pipeline']}) | "
            f"{t['mean_test']:+.2f} |"
        )
    if choice["chosen"]:
        seeds = sorted({s for p in choice["pipelines"] for s in p["seeds"]})
        confirmation = choice["confirmation"]
        again = sorted({s for p in confirmation["pipelines"] for s in p["seeds"]})
        lines += [
            "",
            f"Screening: {len(choice['pipelines'])} pipelines, seeds "
            f"{', '.join(map(str, seeds))} (each pipeline on the seeds that its "
            "baseline and every candidate share). The best "
            f"{len(choice['finalists'])} by worst pipeline are compared again on "
            f"the seeds that they share ({', '.join(map(str, again))}):",
            "",
            "| finalist | pipelines | worst Δ dev (pipeline) | mean Δ dev | worst Δ "
            "test (pipeline) | mean Δ test |",
            "|---|---|---|---|---|---|",
        ]
        for t in confirmation["recipes"]:
            lines.append(
                f"| {t['recipe']} | {t['pipelines']} | {t['worst_dev']:+.2f} "
                f"({t['worst_dev_pipeline']}) | {t['mean_dev']:+.2f} | "
                f"{t['worst_test']:+.2f} ({t['worst_test_pipeline']}) | "
                f"{t['mean_test']:+.2f} |"
            )
        lines += [
            "",
            f"**Dev-chosen recipe (best worst pipeline): `{choice['chosen']}`**.",
            "",
            "Per model and protocol (the same per-pipeline Δ dev of the int8 "
            "file): worst dataset and mean over datasets, in points; last column: "
            "the worst pipeline of the model.",
            "",
            "| model | recipe | "
            + " | ".join(f"{p}: worst | {p}: mean" for p in PROTOCOLS)
            + " | worst of the model |",
            "|---|---|" + "---|---|" * len(PROTOCOLS) + "---|",
        ]
        models = sorted(
            {
                name.split("/")[1]
                for t in choice["recipes"]
                for name in t["dev_by_pipeline"]
            }
        )
        for model in models:
            for t in choice["recipes"]:
                parts = []
                for protocol in PROTOCOLS:
                    got = {
                        name: d
                        for name, d in t["dev_by_pipeline"].items()
                        if name.split("/")[1:] == [model, protocol]
                    }
                    if not got:
                        parts += ["–", "–"]
                        continue
                    worst = min(got, key=got.get)
                    parts += [
                        f"{got[worst]:+.2f} ({worst.split('/')[0]})",
                        f"{statistics.fmean(got.values()):+.2f}",
                    ]
                own = {
                    name: d
                    for name, d in t["dev_by_pipeline"].items()
                    if name.split("/")[1] == model
                }
                worst = min(own, key=own.get)
                parts.append(f"{own[worst]:+.2f} ({worst})")
                lines.append(f"| {model} | {t['recipe']} | " + " | ".join(parts) + " |")
    else:
        lines += ["", "No pipeline has every candidate recipe yet."]
    if no_split:
        lines += [
            "",
            f"{no_split} compressed runs stopped early (`EarlyStopping`) before the "
            "split: their files are the uncompressed model.",
        ]
    lines += [
        "",
        "## Files",
        "",
        "Median `.tflite` bytes per variant and the embedding's share of the int8 "
        "file (bytes of the stored table or factors over the file's bytes, from "
        "`ConversionResult`).",
        "",
        "| dataset | model | protocol | recipe | "
        + " | ".join(f"{v} bytes" for v in MODES)
        + " | embedding share (int8) | Δ test float32 | Δ test int4 |",
        "|---|---|---|---|" + "---|" * len(MODES) + "---|---|---|",
    ]
    for pipeline in pipelines:
        for recipe in _recipes_of(cells, pipeline):
            got = {v: cells_by.get((*pipeline, recipe, v)) for v in MODES}
            lines.append(
                f"| {pipeline[0]} | {pipeline[1]} | {pipeline[2]} | {recipe} | "
                + " | ".join(_bytes(got[v]) for v in MODES)
                + f" | {_share(got['int8'])} | "
                + (
                    "– | – |"
                    if recipe == REFERENCE[0]
                    else f"{_pm_test(got['float32'])} | {_pm_test(got['int4'])} |"
                )
            )
    targets = target_table(rows)
    lines += target_lines(targets)
    lines.append("")
    _write_text(folder / f"{stem}.md", "\n".join(lines))
    summary = {"cells": cells, "choice": choice, "targets": targets, "runs": len(rows)}
    _write_text(folder / f"{stem}_summary.json", json.dumps(summary, indent=1) + "\n")
    try:
        plot(cells, pipelines, folder / f"{stem}.png")
    except ModuleNotFoundError as error:
        logger.warning("No plot: %s", error)


TARGETS = (
    {
        "target": "<= 1.0 pt at <= 2.5% of the table's bytes",
        "max_drop": 1.0,
        "budget": 0.025,
        "options": (
            ("default", "int8"),
            ("best_start", "int8"),
            ("fitted_fixed", "int8"),
            ("qat_int4_rows", "int4_rows"),
            ("default_p08", "int4"),
        ),
    },
    {
        "target": "<= 1.5 pt at <= 1.3% (4-bit)",
        "max_drop": 1.5,
        "budget": 0.013,
        "options": (
            ("default", "int4"),
            ("best_start", "int4"),
            ("fitted_fixed", "int4"),
            ("qat_int4", "int4"),
        ),
    },
    {
        "target": "<= 0.5 pt at <= 5%",
        "max_drop": 0.5,
        "budget": 0.05,
        "options": (("default_p08", "int8"), ("default", "int8")),
    },
)
"""The issue's targets and the (recipe, file) pairs measured against each: the
file's bytes beyond the baseline float32 file's other weights, over its table's
bytes, must be within `budget`, and the mean test drop (paired by seed) at most
`max_drop`."""


def target_table(rows: list[dict]) -> list[dict]:
    """Per target, option and pipeline: the share of the table's bytes, Δ dev and
    Δ test (mean over the seeds with a baseline), and whether the target is met."""
    by_key = {store.run_key(r, KEY): r for r in rows}
    pipelines = sorted({(r["dataset"], r["model"], r["protocol"]) for r in rows})
    table = []
    for target in TARGETS:
        for recipe, variant in target["options"]:
            for dataset, model, protocol in pipelines:
                head = {"dataset": dataset, "model": model, "protocol": protocol}
                shares, deltas, no_split = [], {"dev": [], "test": []}, 0
                for row in rows:
                    if row["recipe"] != recipe or any(
                        row[k] != v for k, v in head.items()
                    ):
                        continue
                    if not row.get("split_happened", True):
                        # Early stopping ended the run before the split: its file
                        # is the uncompressed model, not a measurement of the recipe.
                        no_split += 1
                        continue
                    base = by_key.get(
                        store.run_key(
                            {**head, "recipe": REFERENCE[0], "seed": row["seed"]},
                            KEY,
                        )
                    )
                    file = row["files"].get(variant, {})
                    if base is None or "bytes" not in file:
                        continue
                    reference = base["files"][REFERENCE[1]]
                    table_bytes = reference["embedding_bytes"]
                    # Everything the file holds beyond the baseline's other
                    # weights: codes, their scales, bases or folded kernels; at
                    # least the stored codes (a fold can shrink the consumer's
                    # kernel, as an LSTM's, below the baseline's).
                    rest = reference["bytes"] - table_bytes
                    stored = max(file["bytes"] - rest, file["embedding_bytes"])
                    shares.append(stored / table_bytes)
                    for split in deltas:
                        deltas[split].append(
                            _accuracy(row, variant, split)
                            - _accuracy(base, REFERENCE[1], split)
                        )
                if not shares:
                    continue
                test = statistics.fmean(deltas["test"])
                share = statistics.median(shares)
                table.append(
                    {
                        "target": target["target"],
                        "recipe": recipe,
                        "variant": variant,
                        "pipeline": f"{dataset}/{model}/{protocol}",
                        "seeds": len(shares),
                        "no_split": no_split,
                        "share": share,
                        "dev_delta": statistics.fmean(deltas["dev"]),
                        "test_delta": test,
                        "test_se": _se(deltas["test"]),
                        "met": share <= target["budget"]
                        and test >= -target["max_drop"],
                    }
                )
    return table


def target_lines(table: list[dict]) -> list[str]:
    """The targets section of the report: a summary and the per-pipeline table."""
    if not table:
        return []
    lines = [
        "",
        "## The targets",
        "",
        "Each target against the (recipe, file) pairs measured for it: the file's "
        "bytes beyond the baseline float32 file's other weights (codes, their "
        "scales, bases or folded kernels; at least the stored codes, since a fold "
        "can shrink an LSTM's kernel below the baseline's) over the uncompressed "
        "float32 table's "
        "bytes (median over seeds), and the file's accuracy minus the baseline float32 "
        "file's, paired by seed (mean over the seeds run; test ± standard error). A "
        "pipeline meets the target when the share is within the budget and the mean "
        "test drop within the limit. `qat_*`: `quantization_aware=` the file's "
        "mode; `default_p08`: the defaults at `compression=0.8` (its 4-bit file "
        "spends the int8 budget on twice the parameters).",
        "",
        "| target | recipe, file | pipelines met | worst pipeline (Δ test) | "
        "share of the table (median) |",
        "|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for entry in table:
        groups[(entry["target"], entry["recipe"], entry["variant"])].append(entry)
    for (target, recipe, variant), entries in groups.items():
        worst = min(entries, key=lambda e: e["test_delta"])
        met = sum(e["met"] for e in entries)
        share = statistics.median(e["share"] for e in entries)
        lines.append(
            f"| {target} | {recipe}, {variant} | {met} / {len(entries)} | "
            f"{worst['pipeline']} ({worst['test_delta']:+.2f}) | {100 * share:.2f}% |"
        )
    lines += [
        "",
        "| target | recipe, file | pipeline | seeds | share | Δ dev | Δ test | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in table:
        lines.append(
            f"| {e['target']} | {e['recipe']}, {e['variant']} | {e['pipeline']} | "
            f"{e['seeds']}{_no_split(e)} | {100 * e['share']:.2f}% | "
            f"{e['dev_delta']:+.2f} | "
            f"{_pm(e['test_delta'], e['test_se'], n=e['seeds'])} | "
            f"{'yes' if e['met'] else 'no'} |"
        )
    return lines


def _no_split(entry: dict) -> str:
    """ " (+k without a split)" for runs early stopping ended before the split."""
    count = entry.get("no_split", 0)
    return f" (+{count} without a split)" if count else ""


def _recipes_of(cells: list[dict], pipeline: tuple) -> list[str]:
    """The recipes with a cell in `pipeline`, in `RECIPES` order."""
    order = {r: i for i, r in enumerate(RECIPES)}
    found = {
        c["recipe"]
        for c in cells
        if (c["dataset"], c["model"], c["protocol"]) == pipeline
    }
    return sorted(found, key=order.get)


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) < 2:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def _pm_test(cell) -> str:
    if not cell:
        return "–"
    return _pm(
        cell["test_delta_mean"], cell["test_delta_se"], n=len(cell["test_deltas"])
    )


def _bytes(cell) -> str:
    return (
        "–"
        if not cell or cell["bytes_median"] is None
        else f"{int(cell['bytes_median']):,}"
    )


def _share(cell) -> str:
    if not cell or cell["embedding_share_median"] is None:
        return "–"
    return f"{100 * cell['embedding_share_median']:.1f}%"


def _write_text(path: Path, text: str) -> None:
    """Writes through a temporary file and `os.replace` (readers never see half)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def plot(cells: list[dict], pipelines: list[tuple], path: Path) -> None:
    """Paired Δ dev (int8 file vs baseline float32) per pipeline and recipe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recipes = [r for r in RECIPES if r != REFERENCE[0]]
    palette = [plt.get_cmap("tab20")(i % 20) for i in range(len(recipes))]
    colors = dict(zip(recipes, palette, strict=True))
    by = {
        (c["dataset"], c["model"], c["protocol"], c["recipe"]): c
        for c in cells
        if c["variant"] == CHOICE_VARIANT
    }
    fig, axis = plt.subplots(figsize=(max(8.0, 0.9 * len(pipelines) + 3), 4.8))
    width = 0.8 / len(recipes)
    for j, recipe in enumerate(recipes):
        xs, means, errors = [], [], []
        for i, pipeline in enumerate(pipelines):
            cell = by.get((*pipeline, recipe))
            if not cell or not cell["dev_deltas"]:
                continue
            x = i - 0.4 + (j + 0.5) * width
            axis.scatter(
                [x] * len(cell["dev_deltas"]),
                cell["dev_deltas"],
                s=8,
                color=colors[recipe],
                alpha=0.35,
            )
            xs.append(x)
            means.append(cell["dev_delta_mean"])
            errors.append(cell["dev_delta_se"])
        if xs:
            axis.errorbar(
                xs,
                means,
                yerr=errors,
                fmt="o",
                color=colors[recipe],
                capsize=3,
                label=recipe,
            )
    axis.axhline(0.0, color="grey", linewidth=0.8)
    axis.axhline(-1.0, color="grey", linewidth=0.8, linestyle=":")
    shown = [
        d
        for (*_, recipe), cell in by.items()
        if recipe in CANDIDATES
        for d in cell["dev_deltas"]
    ]
    if shown:
        low = min(min(shown), -1.0) - 1.0
        axis.set_ylim(low, max(max(shown), 0.0) + 1.0)
        for i, pipeline in enumerate(pipelines):
            for j, recipe in enumerate(recipes):
                cell = by.get((*pipeline, recipe))
                if cell and cell["dev_deltas"] and cell["dev_delta_mean"] < low:
                    x = i - 0.4 + (j + 0.5) * width
                    axis.annotate(
                        f"{recipe}\n{cell['dev_delta_mean']:+.1f}",
                        (x, low),
                        xytext=(x, low + 0.25 * abs(low)),
                        fontsize=6,
                        ha="center",
                        color=colors[recipe],
                        arrowprops={"arrowstyle": "->", "color": colors[recipe]},
                    )
    axis.set_xticks(range(len(pipelines)))
    axis.set_xticklabels(
        [f"{d}\n{m}/{p}" for d, m, p in pipelines], fontsize=7, rotation=0
    )
    axis.set_ylabel("Δ dev accuracy, int8 file vs float32 baseline (points)")
    axis.set_title("Paired Δ dev per pipeline (dots: seeds; bars: mean ± se)")
    axis.grid(True, axis="y", alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(
            fontsize=8,
            ncol=len(recipes),
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
        )
    fig.tight_layout()
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(temporary, dpi=110)
    plt.close(fig)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
