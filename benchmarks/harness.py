"""What the benchmark scripts share: environment, data, training, LiteRT files.

- **Environment.** Importing this module sets `KERAS_BACKEND=tensorflow` and
  `TF_CPP_MIN_LOG_LEVEL=2` unless they are set (every script imports it before
  Keras); `setup_logging` configures the log lines, `limit_threads` TensorFlow's
  threads and `progress` the progress bars (stderr).
- **Data.** `prepare_data`: a dataset tokenized with the training vocabulary ∩
  GloVe, as the paper, at `SEQ_LEN`; `initial_table`: the GloVe-50 rows (or their
  fixed projection to D = 300).
- **Training with dev selection.** The paper's DAN or LSTM pretrained once per
  (dataset, model, seed) (`pretrain`, `pretrained_start`), then retrained from that
  state without a split (`retrain_uncompressed`) or with `EmbeddingFactorization`
  (`retrain_online`). Every phase keeps the weights of its best dev epoch
  (`DevSelection`); the test split is scored once, on those weights.
- **LiteRT files.** `convert` (exactly the given model), `peer_files` (the float32
  baseline and the post-training peers), `our_files` (the folded factors, float32,
  int8 and 4-bit) and `measure` (accuracy, bytes and latency in LiteRT, 1 thread).

Keras, TensorFlow and `tflite_lowrank` are imported by the functions that need
them, so the report-only paths of the scripts (and their tests) stay fast.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

ENVIRONMENT = {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
"""Environment variables every script sets (unless set) before importing Keras."""


def set_environment() -> None:
    """Sets `ENVIRONMENT`'s variables that are not set yet (done on import)."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


set_environment()

logger = logging.getLogger("harness")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
"""The committed results (`benchmarks/results/`)."""

LOG_FORMAT = "%(asctime)s %(name)s %(message)s"

DATASETS = ("rotten_tomatoes", "r8", "bbc", "20newsgroups")
SHORT_NAMES = {
    "rotten_tomatoes": "RT",
    "r8": "R8",
    "bbc": "BBC",
    "20newsgroups": "20NG",
}
"""Column headers of the report tables."""

SEQ_LEN = {"rotten_tomatoes": 40, "r8": 100, "bbc": 200, "20newsgroups": 150}
"""Tokens kept per text: the paper's 40 for the snippets; 100 for R8 (median 66);
200 for BBC News (median 376) and 150 for 20 Newsgroups (median 162), to keep each
epoch cheap."""

SPLIT_SEED = 0
"""The dataset split is fixed; the run seed changes initialisation and batch order."""

PROJECTION_SEED = 12345
"""Seed of the fixed GloVe-50 -> 300 random projection of the D = 300 variant."""

GLOVE_DIM = 50
DIM = 50
"""The embedding width of every study but the grid's D = 300 rows."""

CALIBRATION_EXAMPLES = 3200
"""Training examples given as `calibration_data`: 100 batches of 32 (the callback's
default number of calibration batches)."""


# ------------------------------------------------------------------ environment


def setup_logging(level: int = logging.INFO) -> None:
    """One log line format for every script (`LOG_FORMAT`)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)


def limit_threads(threads: int) -> None:
    """Limits TensorFlow to `threads` threads; call before any TensorFlow op."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran an op in this process (tests).
        logger.info("TensorFlow is initialized; thread limits left as they are.")


def progress(
    iterable: Iterable | None = None,
    *,
    desc: str,
    total: float | None = None,
    unit: str = "it",
    disable: bool = False,
):
    """A progress bar on stderr (`tqdm`); `disable` for `--no-progress`."""
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=disable,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def timestamp() -> str:
    """UTC time of a finished run, as the rows store it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Training recipe shared by every method (the paper's, with stated changes).

    Args:
        batch_size: Batch size (paper: 50).
        pretrain_epochs: Epochs before the split (paper: 3).
        retrain_epochs: Epochs after the split (paper: 5).
        peak_learning_rate: CALR upper bound (paper: 1e-3; see README for why 1e-2).
        adam_epsilon: Adam's epsilon (paper: 0.01; Keras default 1e-7).
        decay: CALR peak decay per epoch (paper: 0.1).
    """

    batch_size: int = 50
    pretrain_epochs: int = 3
    retrain_epochs: int = 5
    peak_learning_rate: float = 1e-2
    adam_epsilon: float = 1e-7
    decay: float = 0.1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def recipe_for(quick: bool) -> Recipe:
    """The default recipe, or 1 + 2 epochs for a smoke run (`--quick`)."""
    return Recipe(pretrain_epochs=1, retrain_epochs=2) if quick else Recipe()


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Token ids of one dataset, with the vocabulary and the GloVe-50 rows."""

    name: str
    tokenizer: object
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    y_dev: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocabulary_size

    @property
    def seq_len(self) -> int:
        return self.tokenizer.seq_len

    def steps_per_epoch(self, batch_size: int) -> int:
        return -(-len(self.x_train) // batch_size)


@functools.lru_cache(maxsize=8)
def prepare_data(name: str, *, quick: bool = False) -> PreparedData:
    """Loads, tokenizes and encodes a dataset (train vocabulary ∩ GloVe, as the paper).

    `quick` keeps a small slice (600 train, 200 dev, 200 test, a 2,000-word vocabulary)
    for the smoke test.
    """
    import tflite_lowrank as tl

    data = tl.load_dataset(name, seed=SPLIT_SEED)
    train, dev, test = data.train, data.dev, data.test
    glove_words = frozenset(tl.load_glove().words)
    limits = (600, 200, 200) if quick else (None, None, None)
    train_texts, dev_texts, test_texts = (
        list(split.texts[:limit])
        for split, limit in zip((train, dev, test), limits, strict=True)
    )
    tokenizer = tl.Tokenizer.from_texts(
        train_texts,
        seq_len=SEQ_LEN.get(name, 40),
        restrict_to=glove_words,
        max_size=2000 if quick else None,
    )
    return PreparedData(
        name=name,
        tokenizer=tokenizer,
        num_classes=data.num_classes,
        x_train=tokenizer.encode(train_texts),
        y_train=np.asarray(train.labels[: len(train_texts)], dtype=np.int32),
        x_dev=tokenizer.encode(dev_texts),
        y_dev=np.asarray(dev.labels[: len(dev_texts)], dtype=np.int32),
        x_test=tokenizer.encode(test_texts),
        y_test=np.asarray(test.labels[: len(test_texts)], dtype=np.int32),
    )


def initial_table(data: PreparedData, dim: int, seed: int) -> np.ndarray:
    """The pretrained table the embedding starts from.

    D = 50: GloVe 6B 50-d rows (random rows for `<unk>` and the rare misses).
    D = 300: the same rows times a fixed Gaussian 50 x 300 projection with variance
    1/300, which keeps each row's expected norm. The table is then rank 50 and is
    trained freely at 300 dimensions (GloVe 300-d is not available offline).
    """
    from tflite_lowrank.models import glove_embeddings

    table = glove_embeddings(data.tokenizer.vocabulary, seed=seed)
    if dim == GLOVE_DIM:
        return table
    rng = np.random.default_rng(PROJECTION_SEED)
    projection = rng.normal(0.0, 1.0 / np.sqrt(dim), size=(GLOVE_DIM, dim))
    return (table @ projection).astype(np.float32)


def calibration_sample(
    data: PreparedData, seed: int, count: int = CALIBRATION_EXAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """`count` random training examples in their order (the splits may be ordered by
    class), drawn with `seed`: the studies' `calibration_data`."""
    rng = np.random.default_rng(seed)
    count = min(count, len(data.x_train))
    index = np.sort(rng.permutation(len(data.x_train))[:count])
    return data.x_train[index], data.y_train[index]


# --------------------------------------------------------------------- training


def build_model(model_name: str, data: PreparedData, table: np.ndarray):
    """The paper's DAN or LSTM with the given initial embedding table."""
    import tflite_lowrank as tl

    builders = {"dan": tl.build_dan, "lstm": tl.build_lstm}
    if model_name not in builders:
        raise ValueError(
            f"Unknown model. Expected dan or lstm. Received: {model_name!r}"
        )
    return builders[model_name](
        data.vocab_size,
        data.num_classes,
        seq_len=data.seq_len,
        embedding_dim=int(table.shape[1]),
        embeddings=table,
    )


def calr(data: PreparedData, recipe: Recipe, phase: str):
    """CALR with the paper's bounds relative to the peak, one triangle per epoch.

    Pretraining: floor = peak * 1e-5; retraining: floor = peak * 1e-3 (restart floor
    peak * 1e-5), as in the authors' configs. The half cycle is half an epoch (the
    authors' 1,000 iterations assume ~1,500 steps per epoch; ours have 100-200).
    """
    import tflite_lowrank as tl

    steps = data.steps_per_epoch(recipe.batch_size)
    floor = recipe.peak_learning_rate * (1e-5 if phase == "pretrain" else 1e-3)
    return tl.CyclicalAnnealedLearningRate(
        initial_learning_rate=recipe.peak_learning_rate,
        minimal_learning_rate=floor,
        step_size=steps / 2,
        decay=recipe.decay,
        steps_per_epoch=steps,
    )


def compile_model(model, learning_rate, recipe: Recipe) -> None:
    """Fresh Adam (with the recipe's epsilon) and sparse cross-entropy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate, epsilon=recipe.adam_epsilon
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Keras accuracy in inference mode (batched direct calls; safe inside `fit`)."""
    import keras

    correct = 0
    for start in range(0, len(x), 1024):
        probs = keras.ops.convert_to_numpy(
            model(x[start : start + 1024], training=False)
        )
        correct += int((probs.argmax(axis=-1) == y[start : start + 1024]).sum())
    return correct / max(len(x), 1)


@dataclasses.dataclass
class PhaseResult:
    """What a training phase measured (mutable while the phase runs)."""

    dev_curve: list[float] = dataclasses.field(default_factory=list)
    best_dev: float = -1.0
    best_epoch: int = 0
    train_seconds: float = 0.0
    step0_dev: float | None = None
    step0_test: float | None = None


@functools.cache
def _dev_selection_class():
    import keras

    class DevSelection(keras.callbacks.Callback):
        """Records the dev accuracy after every epoch and keeps the best weights.

        Only epochs with index `>= select_from` are candidates (after a split, the
        pre-split weights do not fit the new architecture). If `step0_at` is an
        epoch index, the model is also scored on dev and test when that epoch
        begins, after the callbacks listed before this one: put it after
        `EmbeddingFactorization`, which splits at the beginning of epoch
        `at_epoch`, to get the accuracy right after the split, before any
        retraining. A `start` selection continues another one (its curve, best
        value and weights), e.g. pretraining's for the uncompressed model.
        """

        def __init__(
            self,
            data: PreparedData,
            *,
            select_from: int = 0,
            step0_at: int | None = None,
            start: DevSelection | None = None,
        ):
            super().__init__()
            self.data = data
            self.select_from = select_from
            self.step0_at = step0_at
            self.result = PhaseResult()
            self.best_weights = None
            if start is not None:
                self.result.dev_curve = list(start.result.dev_curve)
                if select_from == 0:
                    self.result.best_dev = start.result.best_dev
                    self.result.best_epoch = start.result.best_epoch
                    self.best_weights = start.best_weights

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.step0_at and self.result.step0_dev is None:
                self.result.step0_dev = accuracy(
                    self.model, self.data.x_dev, self.data.y_dev
                )
                self.result.step0_test = accuracy(
                    self.model, self.data.x_test, self.data.y_test
                )

        def on_epoch_end(self, epoch, logs=None):
            dev = accuracy(self.model, self.data.x_dev, self.data.y_dev)
            self.result.dev_curve.append(float(dev))
            if epoch >= self.select_from and dev > self.result.best_dev:
                self.result.best_dev = float(dev)
                self.result.best_epoch = epoch + 1
                self.best_weights = self.model.get_weights()

        def restore_best(self) -> None:
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return DevSelection


def __getattr__(name: str):
    # `DevSelection` subclasses a Keras callback: defined on first use, so that
    # importing the harness does not import Keras.
    if name == "DevSelection":
        return _dev_selection_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fit(
    model,
    data: PreparedData,
    recipe: Recipe,
    *,
    epochs: int,
    initial_epoch: int = 0,
    callbacks: Sequence = (),
) -> float:
    """`model.fit` on the training split; returns the wall-clock seconds."""
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=recipe.batch_size,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=True,
        verbose=0,
        callbacks=list(callbacks),
    )
    return time.perf_counter() - start


@dataclasses.dataclass
class Pretrained:
    """The state after pretraining, shared by every method of a group."""

    weights: list
    selection: object
    seconds: float


def pretrain(
    model_name: str, data: PreparedData, table: np.ndarray, recipe: Recipe, seed: int
) -> Pretrained:
    """Pretrains on the full table for `recipe.pretrain_epochs` with CALR."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(model_name, data, table)
    compile_model(model, calr(data, recipe, "pretrain"), recipe)
    selection = _dev_selection_class()(data)
    seconds = fit(
        model, data, recipe, epochs=recipe.pretrain_epochs, callbacks=[selection]
    )
    return Pretrained(model.get_weights(), selection, seconds)


@dataclasses.dataclass(frozen=True)
class Start:
    """A group's shared start: its data, recipe, initial table and pretraining."""

    data: PreparedData
    recipe: Recipe
    table: np.ndarray
    pretrained: Pretrained

    def __iter__(self):
        """`data, recipe, table, pretrained = start`."""
        return iter((self.data, self.recipe, self.table, self.pretrained))


def pretrained_start(
    dataset: str,
    model_name: str,
    seed: int,
    recipe: Recipe,
    *,
    quick: bool = False,
    dim: int = DIM,
) -> Start:
    """Prepares the data and the initial table and pretrains once for the group."""
    data = prepare_data(dataset, quick=quick)
    table = initial_table(data, dim, seed)
    return Start(data, recipe, table, pretrain(model_name, data, table, recipe, seed))


def retraining_start(model_name: str, start: Start, seed: int, learning_rate=None):
    """The pretrained model, compiled with a fresh Adam for retraining, and its rate.

    The seed is set first, so the control and ours draw the same batch order.
    `learning_rate=None` is the grid's retraining CALR.
    """
    import keras

    data, recipe, table, pretrained = start
    keras.utils.set_random_seed(seed + 1000)
    model = build_model(model_name, data, table)
    model.set_weights(pretrained.weights)
    rate = learning_rate if learning_rate is not None else calr(data, recipe, "retrain")
    compile_model(model, rate, recipe)
    return model, rate


def retrain(model, start: Start, selection, *, callbacks: Sequence = ()) -> PhaseResult:
    """Retrains from the end of pretraining to the recipe's last epoch.

    `selection` (a `DevSelection`, after `callbacks`) keeps the best dev epoch, whose
    weights the model has on return. The result's seconds include pretraining.
    """
    data, recipe, _, pretrained = start
    seconds = fit(
        model,
        data,
        recipe,
        epochs=recipe.pretrain_epochs + recipe.retrain_epochs,
        initial_epoch=recipe.pretrain_epochs,
        callbacks=[*callbacks, selection],
    )
    selection.restore_best()
    selection.result.train_seconds = pretrained.seconds + seconds
    return selection.result


def retrain_uncompressed(
    model_name: str, start: Start, *, seed: int, learning_rate=None
) -> tuple[object, PhaseResult]:
    """Continues the pretrained model with a fresh Adam, no split (the control).

    The same two phases as the online method, so the only difference is the split.
    The best dev epoch over both phases is kept. `learning_rate` replaces the
    retraining CALR (for the learning-rate study).
    """
    model, _ = retraining_start(model_name, start, seed, learning_rate)
    selection = _dev_selection_class()(start.data, start=start.pretrained.selection)
    return model, retrain(model, start, selection)


def retrain_online(
    model_name: str,
    start: Start,
    *,
    seed: int,
    compression: float,
    learning_rate=None,
    bands=1,
    split_learning_rate=None,
    calibration: bool = False,
    train_basis: bool = True,
    weighting: str = "none",
) -> tuple[object, PhaseResult, dict]:
    """Ours: `EmbeddingFactorization` splits the pretrained table, then retraining.

    `bands` is the callback's: 1 (the paper's single SVD, the grid) or frequency bands.
    `split_learning_rate` is the callback's `learning_rate` when it differs from the
    rate the model is compiled with (e.g. `"calr"`, the callback's default).
    `calibration=True` passes the callback `calibration_data`: a random sample of
    the training split (`calibration_sample`, drawn with the seed), so the split
    is weighted by the loss gradient.
    `train_basis` is the callback's (`False`: fixed bases, codes at table scale).
    `weighting` is the callback's (`"consumer"`: weighted by the next layer's
    kernel; not with `calibration`).

    `fit()` resumes at epoch `pretrain_epochs` with the callback's
    `at_epoch=pretrain_epochs`, so the split happens when the first retraining epoch
    begins, inside `fit()`, exactly as in one uninterrupted `fit()` (pretraining is
    computed once per group and shared). The best dev epoch after the split is kept.
    """
    import tflite_lowrank as tl

    data, recipe, _, pretrained = start
    model, rate = retraining_start(model_name, start, seed, learning_rate)
    split = tl.EmbeddingFactorization(
        "embedding",
        compression=compression,
        at_epoch=recipe.pretrain_epochs,
        learning_rate=rate if split_learning_rate is None else split_learning_rate,
        verbose=0,
        bands=bands,
        calibration_data=calibration_sample(data, seed) if calibration else None,
        train_basis=train_basis,
        weighting=weighting,
    )
    selection = _dev_selection_class()(
        data,
        select_from=recipe.pretrain_epochs,
        step0_at=recipe.pretrain_epochs,
        start=pretrained.selection,
    )
    result = retrain(model, start, selection, callbacks=[split])
    return model, result, split.result.to_dict()


def train_from_scratch(
    model_name: str, data: PreparedData, table: np.ndarray, recipe: Recipe, seed: int
) -> tuple[object, PhaseResult]:
    """Pretrain + retrain (fresh Adam) on a table, no split: the offline baseline."""
    start = Start(data, recipe, table, pretrain(model_name, data, table, recipe, seed))
    return retrain_uncompressed(model_name, start, seed=seed)


def phase_fields(phase: PhaseResult) -> dict:
    """The selection's dev accuracy, epoch and seconds, as the rows store them."""
    return {
        "dev_accuracy": phase.best_dev,
        "best_epoch": phase.best_epoch,
        "train_seconds": phase.train_seconds,
    }


def embedding_table(model) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)


def set_embedding_table(model, table: np.ndarray) -> None:
    model.get_layer("embedding").embeddings.assign(table.astype(np.float32))


# ------------------------------------------------------------------ LiteRT files


def convert(model, path: Path, quantization: str | None = None):
    """Converts exactly `model` (no folding: the scripts fold explicitly).

    Returns `convert_to_tflite`'s `ConversionResult`; an existing file is replaced.
    """
    import tflite_lowrank as tl

    return tl.convert_to_tflite(
        model, path, quantization=quantization, overwrite=True, fold_projection=False
    )


def int4_file(float_path: Path, path: Path, *, axis: int = 1) -> Path:
    """Writes `float_path` with 4-bit tables (per column, `axis=0`: per row) and
    int8 `FULLY_CONNECTED` weights to `path`."""
    from tflite_lowrank.export import quantize_int4

    path.write_bytes(quantize_int4(float_path.read_bytes(), axis=axis)[0])
    return path


def peer_files(baseline, work: Path) -> dict[str, Path]:
    """The float32 baseline and its post-training peers, as `.tflite` files.

    `ptq_int8`: dynamic-range int8; `int4_table`: the table in 4 bits with per-row
    scales (4 bytes per word, the usual choice for a full table), int8 elsewhere;
    `keras_int8_embedding`: Keras' `Embedding.quantize("int8")`.
    """
    import keras

    files = {"baseline_float32": work / "baseline.tflite"}
    convert(baseline, files["baseline_float32"])
    files["ptq_int8"] = work / "ptq_int8.tflite"
    convert(baseline, files["ptq_int8"], "dynamic")
    files["int4_table"] = int4_file(
        files["baseline_float32"], work / "int4_table.tflite", axis=0
    )
    quantized = keras.models.clone_model(baseline)
    quantized.set_weights(baseline.get_weights())
    quantized.get_layer("embedding").quantize("int8")
    files["keras_int8_embedding"] = work / "keras_int8_embedding.tflite"
    convert(quantized, files["keras_int8_embedding"])
    return files


def our_files(
    model, work: Path, stem: str, variants: Sequence[str] = ("float32", "int8", "int4")
) -> dict[str, Path]:
    """The split model with its projection folded, as `.tflite` files by variant.

    `float32`; `int8`: dynamic-range int8 factors; `int4`: 4-bit factors (per-column
    scales), int8 elsewhere (made from the float32 file).
    """
    from tflite_lowrank.export import fold_projection

    folded = fold_projection(model)
    files = {"float32": work / f"{stem}_float32.tflite"}
    convert(folded, files["float32"])
    if "int8" in variants:
        files["int8"] = work / f"{stem}_int8.tflite"
        convert(folded, files["int8"], "dynamic")
    if "int4" in variants:
        files["int4"] = int4_file(files["float32"], work / f"{stem}_int4.tflite")
    return {variant: files[variant] for variant in variants}


def measure(path: Path, data: PreparedData) -> dict:
    """Test accuracy, bytes (file, gzip'ed, stored tables) and latency in LiteRT."""
    import tflite_lowrank as tl
    from tflite_lowrank.litert import inspect_model

    content = path.read_bytes()
    tables = inspect_model(content).embedding_tables
    bench = tl.benchmark_tflite(
        path,
        token_ids=data.x_test,
        labels=data.y_test,
        warmup_runs=10,
        num_runs=200,
        progress=False,
    )
    return {
        "test_accuracy": float(bench.accuracy),
        "tflite_bytes": len(content),
        "gzip_bytes": len(gzip.compress(content, compresslevel=9)),
        "embedding_bytes": int(sum(t.num_bytes for t in tables)),
        "embedding_tensors": [t.to_dict() for t in tables],
        "latency_p50_ms": float(bench.latency_p50_ms),
        "load_time_ms": float(bench.load_time_ms),
        "model_memory_bytes": int(bench.model_memory_bytes),
    }


def litert_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a `.tflite` file in LiteRT (1 thread, one row per invoke)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    (inputs,) = interpreter.get_input_details()
    (outputs,) = interpreter.get_output_details()
    correct = 0
    for row, label in zip(x, y, strict=True):
        interpreter.set_tensor(inputs["index"], row[None].astype(inputs["dtype"]))
        interpreter.invoke()
        correct += int(interpreter.get_tensor(outputs["index"])[0].argmax() == label)
    return correct / max(len(x), 1)


def relative_to(row: dict, base: dict) -> dict:
    """Adds the ratios and the accuracy delta against the group's float baseline."""
    row["embedding_bytes_ratio"] = row["embedding_bytes"] / base["embedding_bytes"]
    row["tflite_bytes_ratio"] = row["tflite_bytes"] / base["tflite_bytes"]
    row["latency_ratio"] = row["latency_p50_ms"] / base["latency_p50_ms"]
    row["accuracy_delta_points"] = 100 * (row["test_accuracy"] - base["test_accuracy"])
    row["finished_at"] = timestamp()
    return row
