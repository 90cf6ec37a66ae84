"""The demo's data and training stages: load and tokenize, then train the two models.

Private helpers of `tflite_lowrank.apps.demo.run`: `_load_data` loads the splits, builds
the tokenizer and the GloVe-initialised table and writes `vocab.txt`, `labels.txt` and
`test.tsv` (stage 1); `_train` trains one of the two Keras models from the same initial
weights and saves it (stages 2 and 3), through `_fit`, which keeps the weights of the
best dev epoch. Importing this module imports Keras and TensorFlow: `demo` does so
inside the timed data stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from tflite_lowrank.apps.demo.report import _json_ready
from tflite_lowrank.apps.demo.results import (
    BATCH_SIZE,
    KERAS_FILES,
    LEARNING_RATE,
    SEQ_LEN,
    TEST_FILENAME,
    TrainingSummary,
)
from tflite_lowrank.data.datasets import TextDataset, load_dataset
from tflite_lowrank.data.glove import GLOVE_DIM, load_glove
from tflite_lowrank.data.tokenizer import Tokenizer
from tflite_lowrank.data.vocab_files import save_labels
from tflite_lowrank.factorization.svd import rank_for_compression
from tflite_lowrank.models.paper import (
    build_dan,
    build_lstm,
    compile_for_classification,
    glove_embeddings,
)
from tflite_lowrank.utils.files import write_tsv


@dataclasses.dataclass(frozen=True)
class _DemoData:
    """What the data stage prepared for training, conversion and the benchmark.

    The labels of dev and test are those of `dataset`; only the training ones are
    cut to `max_train_samples`.
    """

    dataset: TextDataset
    tokenizer: Tokenizer
    rank: int
    table: np.ndarray
    num_train: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    x_test: np.ndarray


def _load_data(
    staging: Path,
    note: Callable[[str], None],
    *,
    dataset: str,
    compression: float,
    seed: int,
    max_train_samples: int | None,
) -> _DemoData:
    """Loads and tokenizes the splits, writes the tokenizer's files and `test.tsv`."""
    data = load_dataset(dataset, seed=0)
    train_texts = list(data.train.texts[:max_train_samples])
    y_train = np.asarray(data.train.labels[: len(train_texts)], dtype=np.int32)
    tokenizer = Tokenizer.from_texts(
        train_texts, seq_len=SEQ_LEN, restrict_to=load_glove().words
    )
    # Before any training: is `compression` too high for this vocabulary?
    rank = rank_for_compression(tokenizer.vocabulary_size, GLOVE_DIM, compression)
    table = glove_embeddings(tokenizer.vocabulary, seed=seed)
    x_train = tokenizer.encode(train_texts)
    x_dev = tokenizer.encode(data.dev.texts)
    x_test = tokenizer.encode(data.test.texts)
    tokenizer.save(staging)
    save_labels(data.label_names, staging)
    write_tsv(
        staging / TEST_FILENAME,
        (
            (data.label_names[int(label)], text)
            for text, label in zip(data.test.texts, data.test.labels, strict=True)
        ),
    )
    note(
        f"{len(train_texts):,} train / {len(x_dev):,} dev / {len(x_test):,} test "
        f"texts, {data.num_classes} classes, vocabulary "
        f"{tokenizer.vocabulary_size:,} (test OOV "
        f"{tokenizer.oov_rate(data.test.texts):.1%})"
    )
    return _DemoData(
        dataset=data,
        tokenizer=tokenizer,
        rank=rank,
        table=table,
        num_train=len(train_texts),
        x_train=x_train,
        y_train=y_train,
        x_dev=x_dev,
        x_test=x_test,
    )


def _train(
    report,
    staging: Path,
    data: _DemoData,
    note: Callable[[str], None],
    *,
    name: str,
    model_name: str,
    epochs: int,
    seed: int,
    split,
) -> tuple[keras.Model, TrainingSummary]:
    """Builds, trains and saves the baseline (`split=None`) or the compressed model.

    `split` makes the `EmbeddingFactorization` from its `coordinate_with` argument.
    """
    builder = {"dan": build_dan, "lstm": build_lstm}[model_name]
    keras.utils.set_random_seed(seed)  # Both runs start from the same weights.
    model = builder(
        data.tokenizer.vocabulary_size,
        data.dataset.num_classes,
        seq_len=SEQ_LEN,
        embeddings=data.table,
    )
    compile_for_classification(model, learning_rate=LEARNING_RATE)
    summary = _fit(
        model,
        name,
        data.x_train,
        data.y_train,
        (data.x_dev, data.dataset.dev.labels),
        epochs,
        split,
        report,
    )
    model.save(staging / KERAS_FILES[name])
    note(f"best dev accuracy {summary.dev_accuracy:.2%} at epoch {summary.best_epoch}")
    return model, summary


def _fit(model, name, x, y, validation_data, epochs, split, report):
    """Trains `model` in place and keeps the weights of its best dev epoch.

    `EarlyStopping(restore_best_weights=True)` with a patience of all the epochs
    never stops early; it restores the best weights at the end. `EmbeddingFactorization`
    restarts it at the split, so the compressed model is chosen among factorized
    epochs only.
    """
    keep_best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True
    )
    if split is not None:  # A factory: the split must know the callback it restarts.
        split = split(coordinate_with=[keep_best])
    callbacks = [keep_best] if split is None else [split, keep_best]
    start = time.perf_counter()
    # Keras writes its progress to stdout; the results own stdout, so it goes to
    # stderr. A bar on a terminal, one line per epoch otherwise (logs, CI).
    verbose = (1 if sys.stderr.isatty() else 2) if report.enabled else 0
    with contextlib.redirect_stdout(sys.stderr):
        history = model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )
    seconds = time.perf_counter() - start
    dev = tuple(float(value) for value in history.history["val_accuracy"])
    train = tuple(float(value) for value in history.history["accuracy"])
    return TrainingSummary(
        name=name,
        epochs=len(dev),
        best_epoch=keep_best.best_epoch + 1,
        dev_accuracy=dev[keep_best.best_epoch],
        dev_accuracy_per_epoch=dev,
        train_accuracy_per_epoch=train,
        seconds=round(seconds, 3),
        factorization=None if split is None else _json_ready(split.result.to_dict()),
    )
