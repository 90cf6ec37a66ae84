"""Shared pieces of the reproduction scripts: data, models, training, evaluation.

`reproduce.py` (the grid) and `lr_study.py` (the learning-rate study) both import this
module. It uses the package's public pieces: `datasets`, `text`, `models`, the CALR
schedule, the `EmbeddingFactorization` callback, `convert_to_tflite` and
`benchmark_tflite`. Model selection is on the dev split only: every phase keeps the
weights of its best dev epoch, and the test split is scored once on those weights.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Sequence

import keras
import numpy as np

from tflite_lowrank.compression import calibration as _calibration
from tflite_lowrank.compression.schedules import CyclicalAnnealedLearningRate
from tflite_lowrank.data.tokenizer import Tokenizer
from tflite_lowrank.datasets import load_dataset, load_glove
from tflite_lowrank.models.paper import build_dan, build_lstm, glove_embeddings

logger = logging.getLogger(__name__)

SEQ_LEN = {"rotten_tomatoes": 40, "r8": 100}
"""Tokens kept per text: the paper's 40 for the snippets; 100 for R8 (median 66)."""

SPLIT_SEED = 0
"""The dataset split is fixed; the run seed changes initialisation and batch order."""

PROJECTION_SEED = 12345
"""Seed of the fixed GloVe-50 -> 300 random projection of the D = 300 variant."""

GLOVE_DIM = 50


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


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Token ids of one dataset, with the vocabulary and the GloVe-50 rows."""

    name: str
    tokenizer: Tokenizer
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


@dataclasses.dataclass
class PhaseResult:
    """What a training phase measured (mutable while the phase runs)."""

    dev_curve: list[float] = dataclasses.field(default_factory=list)
    best_dev: float = -1.0
    best_epoch: int = 0
    train_seconds: float = 0.0
    step0_dev: float | None = None
    step0_test: float | None = None


@functools.lru_cache(maxsize=8)
def prepare_data(name: str, *, quick: bool = False) -> PreparedData:
    """Loads, tokenizes and encodes a dataset (train vocabulary ∩ GloVe, as the paper).

    `quick` keeps a small slice (600 train, 200 dev, 200 test, a 2,000-word vocabulary)
    for the smoke test.
    """
    data = load_dataset(name, seed=SPLIT_SEED)
    train, dev, test = data.train, data.dev, data.test
    glove_words = frozenset(load_glove().words)
    limits = (600, 200, 200) if quick else (None, None, None)
    train_texts, dev_texts, test_texts = (
        list(split.texts[:limit])
        for split, limit in zip((train, dev, test), limits, strict=True)
    )
    tokenizer = Tokenizer.from_texts(
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
    table = glove_embeddings(data.tokenizer.vocabulary, seed=seed)
    if dim == GLOVE_DIM:
        return table
    rng = np.random.default_rng(PROJECTION_SEED)
    projection = rng.normal(0.0, 1.0 / np.sqrt(dim), size=(GLOVE_DIM, dim))
    return (table @ projection).astype(np.float32)


def build_model(model_name: str, data: PreparedData, table: np.ndarray) -> keras.Model:
    """The paper's DAN or LSTM with the given initial embedding table."""
    builders = {"dan": build_dan, "lstm": build_lstm}
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


def calr(
    data: PreparedData, recipe: Recipe, phase: str
) -> CyclicalAnnealedLearningRate:
    """CALR with the paper's bounds relative to the peak, one triangle per epoch.

    Pretraining: floor = peak * 1e-5; retraining: floor = peak * 1e-3 (restart floor
    peak * 1e-5), as in the authors' configs. The half cycle is half an epoch (the
    authors' 1,000 iterations assume ~1,500 steps per epoch; ours have 100-200).
    """
    steps = data.steps_per_epoch(recipe.batch_size)
    floor = recipe.peak_learning_rate * (1e-5 if phase == "pretrain" else 1e-3)
    return CyclicalAnnealedLearningRate(
        initial_learning_rate=recipe.peak_learning_rate,
        minimal_learning_rate=floor,
        step_size=steps / 2,
        decay=recipe.decay,
        steps_per_epoch=steps,
    )


def compile_model(model: keras.Model, learning_rate, recipe: Recipe) -> None:
    """Fresh Adam (with the recipe's epsilon) and sparse cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate, epsilon=recipe.adam_epsilon
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """Keras accuracy in inference mode (batched direct calls; safe inside `fit`)."""
    correct = 0
    for start in range(0, len(x), 1024):
        probs = keras.ops.convert_to_numpy(
            model(x[start : start + 1024], training=False)
        )
        correct += int((probs.argmax(axis=-1) == y[start : start + 1024]).sum())
    return correct / max(len(x), 1)


class DevSelection(keras.callbacks.Callback):
    """Records the dev accuracy after every epoch and keeps the best weights.

    Only epochs with index `>= select_from` are candidates (after a split, the
    pre-split weights do not fit the new architecture). If `step0_at` is an epoch
    index, the model is also scored on dev and test when that epoch begins, after the
    callbacks listed before this one: put it after `EmbeddingFactorization`, which
    splits at the beginning of epoch `at_epoch`, to get the accuracy right after the
    split, before any retraining. A `start` selection continues another one (its
    curve, best value and weights), e.g. pretraining's for the uncompressed model.
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


def fit(
    model: keras.Model,
    data: PreparedData,
    recipe: Recipe,
    *,
    epochs: int,
    initial_epoch: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
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
    selection: DevSelection
    seconds: float


def pretrain(
    model_name: str, data: PreparedData, table: np.ndarray, recipe: Recipe, seed: int
) -> Pretrained:
    """Pretrains on the full table for `recipe.pretrain_epochs` with CALR."""
    keras.utils.set_random_seed(seed)
    model = build_model(model_name, data, table)
    compile_model(model, calr(data, recipe, "pretrain"), recipe)
    selection = DevSelection(data)
    seconds = fit(
        model, data, recipe, epochs=recipe.pretrain_epochs, callbacks=[selection]
    )
    return Pretrained(model.get_weights(), selection, seconds)


def _from_pretrained(
    model_name: str, data: PreparedData, table: np.ndarray, pretrained: Pretrained
) -> keras.Model:
    model = build_model(model_name, data, table)
    model.set_weights(pretrained.weights)
    return model


def _retraining_start(
    model_name, data, table, recipe, pretrained, seed: int, learning_rate
) -> tuple[keras.Model, object]:
    """The pretrained model, compiled with a fresh Adam for retraining, and its rate.

    The seed is set first, so the control and ours draw the same batch order.
    """
    keras.utils.set_random_seed(seed + 1000)
    model = _from_pretrained(model_name, data, table, pretrained)
    rate = learning_rate if learning_rate is not None else calr(data, recipe, "retrain")
    compile_model(model, rate, recipe)
    return model, rate


def retrain_uncompressed(
    model_name: str,
    data: PreparedData,
    table: np.ndarray,
    recipe: Recipe,
    pretrained: Pretrained,
    *,
    seed: int,
    learning_rate=None,
) -> tuple[keras.Model, PhaseResult]:
    """Continues the pretrained model with a fresh Adam, no split (the control).

    The same two phases as the online method, so the only difference is the split.
    The best dev epoch over both phases is kept. `learning_rate` replaces the
    retraining CALR (for the learning-rate study).
    """
    model, _ = _retraining_start(
        model_name, data, table, recipe, pretrained, seed, learning_rate
    )
    selection = DevSelection(data, start=pretrained.selection)
    seconds = fit(
        model,
        data,
        recipe,
        epochs=recipe.pretrain_epochs + recipe.retrain_epochs,
        initial_epoch=recipe.pretrain_epochs,
        callbacks=[selection],
    )
    selection.restore_best()
    selection.result.train_seconds = pretrained.seconds + seconds
    return model, selection.result


def retrain_online(
    model_name: str,
    data: PreparedData,
    table: np.ndarray,
    recipe: Recipe,
    pretrained: Pretrained,
    *,
    seed: int,
    compression: float,
    learning_rate=None,
    bands=1,
    split_learning_rate=None,
    calibration: bool = False,
    train_basis: bool = True,
    weighting: str = "none",
) -> tuple[keras.Model, PhaseResult, dict]:
    """Ours: `EmbeddingFactorization` splits the pretrained table, then retraining.

    `bands` is the callback's: 1 (the paper's single SVD, the grid) or frequency bands.
    `split_learning_rate` is the callback's `learning_rate` when it differs from the
    rate the model is compiled with (e.g. `"calr"`, the callback's default).
    `calibration=True` passes the callback `calibration_data`: a random sample of
    the training split (`CALIBRATION_EXAMPLES`, drawn with the seed), so the split
    is weighted by the loss gradient (`tflite_lowrank.compression.weighting`).
    `train_basis` is the callback's (`False`: fixed bases, codes at table scale).
    `weighting` is the callback's (`"consumer"`: weighted by the next layer's
    kernel; not with `calibration`).

    `fit()` resumes at epoch `pretrain_epochs` with the callback's
    `at_epoch=pretrain_epochs`, so the split happens when the first retraining epoch
    begins, inside `fit()`, exactly as in one uninterrupted `fit()` (pretraining is
    computed once per group and shared). The best dev epoch after the split is kept.
    """
    from tflite_lowrank.compression.callback import EmbeddingFactorization

    model, rate = _retraining_start(
        model_name, data, table, recipe, pretrained, seed, learning_rate
    )
    split = EmbeddingFactorization(
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
    selection = DevSelection(
        data,
        select_from=recipe.pretrain_epochs,
        step0_at=recipe.pretrain_epochs,
        start=pretrained.selection,
    )
    seconds = fit(
        model,
        data,
        recipe,
        epochs=recipe.pretrain_epochs + recipe.retrain_epochs,
        initial_epoch=recipe.pretrain_epochs,
        callbacks=[split, selection],
    )
    selection.restore_best()
    selection.result.train_seconds = pretrained.seconds + seconds
    return model, selection.result, split.result.to_dict()


CALIBRATION_EXAMPLES = _calibration.CALIBRATION_EXAMPLES
"""Training examples given as `calibration_data`: the callback's default 100 batches
of 32."""


def calibration_sample(data: PreparedData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random sample of the training split (the splits may be ordered by class)."""
    return _calibration.calibration_sample(data.x_train, data.y_train, seed=seed)


def train_from_scratch(
    model_name: str, data: PreparedData, table: np.ndarray, recipe: Recipe, seed: int
) -> tuple[keras.Model, PhaseResult]:
    """Pretrain + retrain (fresh Adam) on a table, no split: the offline baseline."""
    pretrained = pretrain(model_name, data, table, recipe, seed)
    return retrain_uncompressed(model_name, data, table, recipe, pretrained, seed=seed)


def embedding_table(model: keras.Model) -> np.ndarray:
    layer = model.get_layer("embedding")
    return keras.ops.convert_to_numpy(layer.embeddings)


def set_embedding_table(model: keras.Model, table: np.ndarray) -> None:
    model.get_layer("embedding").embeddings.assign(table.astype(np.float32))
