"""`EmbeddingFactorization`: split a trained Embedding into SVD factors during `fit()`.

The callback changes the model in place, once: at the boundary after epoch `at_epoch`
the built `keras.layers.Embedding` becomes a `LowRankEmbedding` holding
`embeddings_a = U_k` and `embeddings_b = diag(S_k) V_k^T`, the model gets a fresh
optimizer of the same class and configuration with the CALR schedule, and `fit()`
goes on training everything. The swap lives in `_swap._factorize_in_place`.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import os
import re
import time
import warnings
import weakref

import keras
import numpy as np
from keras import ops

from tflite_lowrank._checks import check_int as _check_int
from tflite_lowrank._swap import _factorize_in_place, _find_embedding, _relative_error
from tflite_lowrank.factorize import (
    rank_for_compression,
    rank_for_energy,
    singular_values,
    truncated_svd,
)
from tflite_lowrank.layers import LowRankEmbedding
from tflite_lowrank.schedules import CyclicalAnnealedLearningRate

logger = logging.getLogger(__name__)

_LEARNING_RATE_DEFAULT = "calr"
# The authors' fine-tuning CALR: peak 1e-3, floor 1e-6 (1e-8 after a restart), peak
# times 0.1 per epoch. Only the half cycle changes: half an epoch instead of 1,000
# steps (see `EmbeddingFactorization` and benchmarks/split_defaults.py).
_CALR_PEAK = 1e-3
_CALR_FLOOR = 1e-6
_CALR_DECAY = 0.1
_LOW_RANK_GROUP = re.compile(r"(^|/)low_rank_embedding(_\d+)?$")


@dataclasses.dataclass(frozen=True)
class FactorizationResult:
    """What `EmbeddingFactorization` did at the split.

    Attributes:
        epoch: Integer. Epochs completed before the split (Keras' 1-based count).
        layer_name: String. Name of the factorized layer.
        input_dim: Integer. Rows of the table (vocabulary size V).
        output_dim: Integer. Columns of the table (embedding size D).
        rank: Integer. Inner dimension k of the factors.
        params_before: Integer. `V * D`.
        params_after: Integer. `k * (V + D)`.
        relative_error: Float. `||W - A B||_F / ||W||_F` at the split (NaN when
            resumed from a backup, where `W` is not available).
        seconds: Float. Wall time of the split.
        resumed: Boolean. `True` if the factorized state was restored from a
            `BackupAndRestore` backup instead of computed from the table.
    """

    epoch: int
    layer_name: str
    input_dim: int
    output_dim: int
    rank: int
    params_before: int
    params_after: int
    relative_error: float
    seconds: float
    resumed: bool = False

    def to_dict(self) -> dict:
        """Returns the fields as a plain dictionary (e.g. for JSON)."""
        return dataclasses.asdict(self)


class EmbeddingFactorization(keras.callbacks.Callback):
    """Splits a trained `Embedding` into truncated-SVD factors partway through `fit()`.

    When epoch `at_epoch` has ended (epochs completed, as Keras counts them; after
    that epoch's validation and every callback's `on_epoch_end`, so that its logs,
    checkpoints and backups describe the full model) and before the next epoch
    starts, the table `W` (V x D) of the chosen `keras.layers.Embedding` is replaced,
    inside the same model object, by a `LowRankEmbedding` with `embeddings_a = U_k`
    (V x k) and `embeddings_b = diag(S_k) V_k^T` (k x D), the best rank-k
    approximation: right after the split the model's outputs are those of the model
    with `W` replaced by `A @ B`. Every other weight keeps its trained value and
    everything stays trainable as before. The model then gets a fresh optimizer of
    the same class and configuration (as the paper's retraining does; the old one
    and its slots are released before the SVD), with the learning rate set by
    `learning_rate`, and `fit()` goes on: its train, test and predict functions are
    rebuilt, so validation, `evaluate()` and `predict()` use the factors.
    `model.save()` afterwards writes a `LowRankEmbedding`, which
    `keras.models.load_model` reads without `custom_objects`, together with the new
    optimizer and its schedule. (A subclassed model is rebuilt from its own code on
    loading: its `.keras` file loads only if its `get_config` serializes the
    embedding layer, or use `save_weights` into a model built with a
    `LowRankEmbedding`.)

    The default learning rate is the authors' fine-tuning CALR
    (`CyclicalAnnealedLearningRate`: peak 1e-3, floor 1e-6, peak times 0.1 per
    epoch, restart to 1e-3 with floor 1e-8), except that the half cycle is half an
    epoch (`step_size = steps_per_epoch / 2`: one triangle per epoch, ending at the
    floor at each epoch boundary) instead of 1,000 steps. The authors' 1,000 steps
    assume about 1,500 steps per epoch; at 40 steps per epoch the rate stays near
    the floor and the factors hardly retrain (Rotten Tomatoes, DAN, rank 4, median
    of 5 seeds: test accuracy 60.6% with 1,000 steps, 68.6% with half an epoch; at
    205 steps per epoch 75.6% for both, as the model never split: 75.5%; see
    `benchmarks/results/split_defaults.md`). The schedule starts from step 0 with
    the fresh optimizer. The paper's split (all of S in `embeddings_b`) is kept: the
    balanced split `U_k sqrt(S_k)`, `sqrt(S_k) V_k^T` ended 4 to 8 points lower in
    test accuracy with this schedule in the same benchmark.

    Other callbacks of the same `fit()` (found in its callback list):

    - `EarlyStopping` and `ReduceLROnPlateau` start over at the split, as at the
      start of `fit()`: best value, patience and (for
      `EarlyStopping(restore_best_weights=True)`) the best weights refer to the
      factorized model only, so pre-split weights are never restored into it. If
      `EarlyStopping` stops training before the split, no split happens (a warning
      is logged). `ReduceLROnPlateau` cannot change a schedule: use it with
      `learning_rate=None` or a float (a warning says so otherwise).
    - `ModelCheckpoint(save_best_only=True)` forgets its best value at the split
      (back to its value when `fit()` started, i.e. `initial_value_threshold`), so
      the first factorized epoch is saved and later ones are compared with
      factorized epochs only. With a fixed `filepath` the file then holds the best
      factorized model; put `{epoch}` in the path to also keep the full model.
    - `BackupAndRestore`: its backups are plain Keras weights. When a run restarts
      from a backup written after the split, this callback factorizes the fresh
      model (with the rank found in the backup) and installs the fresh optimizer
      before the backup is loaded, so weights, optimizer state and the schedule
      position are all restored. A backup written before the split restores the
      full model, which is split at the right epoch as usual.

    The split logs (at INFO, through `logging`) the epoch, layer, V, D, rank,
    parameters before and after, the relative reconstruction error and the seconds
    taken; the same numbers are in `result` (a `FactorizationResult`) afterwards.
    Only the TensorFlow backend is supported. A callback splits once: use a new one
    for another `fit()` run. If `fit()` starts after `at_epoch` (`initial_epoch`),
    the split happens before its first epoch.

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019. Unlike the
    authors' code, the right singular vectors are sliced correctly, the recurrent
    layers keep their trained weights and no ReLU is inserted (paper.md section 7).

    Args:
        layer_name: String or `None`. Name of the `keras.layers.Embedding` to split
            (searched in nested models too). `None` means the model's only
            `Embedding`. Defaults to `None`.
        rank: Integer or `None`. Rank k of the factors, with
            `k < min(V, D)` and `k * (V + D) < V * D`.
        compression: Float in (0, 1) or `None`. Fraction of the table's parameters
            to remove; the rank is `rank_for_compression(V, D, compression)`, the
            paper's `floor((1 - p) V D / (V + D))`.
        energy: Float in (0, 1] or `None`. Fraction of the squared spectrum to keep;
            the rank is `rank_for_energy` of the trained table's singular values
            (capped at the largest rank that still saves parameters). Exactly one
            of `rank`, `compression` and `energy` must be given.
        at_epoch: Integer >= 1. Number of epochs trained on the full table.
        learning_rate: `"calr"`, `None`, a float or a
            `keras.optimizers.schedules.LearningRateSchedule`. Learning rate of the
            fresh optimizer: `"calr"` the default CALR above; `None` keeps the
            current one (a float at its current value, a schedule restarted from
            step 0); a float or a schedule is used as given. Defaults to `"calr"`.
        verbose: Integer. `0` is silent, `1` logs the split at INFO. Defaults to
            `1`.

    Raises:
        ValueError: in the constructor, for a bad `rank`, `compression`, `energy`,
            `at_epoch` or `learning_rate`, or not exactly one of `rank`,
            `compression` and `energy`, or a backend other than TensorFlow; when
            `fit()` starts (before any training), for no such layer (the message
            lists the model's Embedding layers), a layer that is not a
            `keras.layers.Embedding` (or a quantized or LoRA one), a rank that is
            not below `min(V, D)` or saves no parameters, or a callback that
            already split.
        TypeError: for arguments of the wrong type.

    Example:

    ```python
    import tflite_lowrank as tl

    split = tl.EmbeddingFactorization("embedding", compression=0.9, at_epoch=3)
    model.fit(x, y, epochs=8, validation_data=(x_dev, y_dev), callbacks=[split])
    print(split.result)  # FactorizationResult(epoch=3, layer_name='embedding', ...)
    model.save("model.keras")  # holds a tl.LowRankEmbedding
    ```
    """

    # Where the singular values go (measured in benchmarks/split_defaults.py), and
    # the SVD method (`truncated_svd`'s "auto": eigendecomposition of the Gram
    # matrix for tall tables, timed in benchmarks/split_overhead.py).
    _balanced = False
    _svd_method = "auto"

    def __init__(
        self,
        layer_name: str | None = None,
        *,
        rank: int | None = None,
        compression: float | None = None,
        energy: float | None = None,
        at_epoch: int,
        learning_rate: str
        | float
        | keras.optimizers.schedules.LearningRateSchedule
        | None = _LEARNING_RATE_DEFAULT,
        verbose: int = 1,
    ):
        super().__init__()
        backend = keras.backend.backend()
        if backend != "tensorflow":
            raise ValueError(
                "`EmbeddingFactorization` supports the TensorFlow backend only (it "
                "swaps variables in the middle of `fit()`). Set "
                f"KERAS_BACKEND=tensorflow. Received: backend={backend!r}"
            )
        if layer_name is not None and not isinstance(layer_name, str):
            raise TypeError(
                "`layer_name` must be a string or None. "
                f"Received: layer_name={layer_name!r} (of type "
                f"{type(layer_name).__name__})"
            )
        given = [v is not None for v in (rank, compression, energy)]
        if sum(given) != 1:
            raise ValueError(
                "Pass exactly one of `rank`, `compression` or `energy`. "
                f"Received: rank={rank}, compression={compression}, energy={energy}"
            )
        if rank is not None:
            _check_int("rank", rank, minimum=1)
            rank = int(rank)
        if compression is not None:
            _check_fraction("compression", compression, closed=False)
        if energy is not None:
            _check_fraction("energy", energy, closed=True)
        if isinstance(at_epoch, bool) or not isinstance(at_epoch, int | np.integer):
            raise TypeError(
                "`at_epoch` must be an integer (epochs completed before the split). "
                f"Received: at_epoch={at_epoch!r} (of type {type(at_epoch).__name__})"
            )
        if at_epoch < 1:
            raise ValueError(
                "`at_epoch` must be >= 1: the table is split after that many epochs "
                f"of training. Received: at_epoch={at_epoch}"
            )
        _check_learning_rate(learning_rate)
        if isinstance(verbose, bool) or not isinstance(verbose, int):
            raise TypeError(
                f"`verbose` must be an integer. Received: verbose={verbose!r}"
            )
        self.layer_name = layer_name
        self.rank = rank
        self.compression = compression
        self.energy = energy
        self.at_epoch = int(at_epoch)
        self.learning_rate = learning_rate
        self.verbose = verbose
        self.result: FactorizationResult | None = None
        self._layer = None
        self._callback_list = None
        self._checkpoint_best: dict[int, object] = {}
        self._epoch_start_iterations: int | None = None
        self._steps_in_last_epoch: int | None = None

    # ------------------------------------------------------------------ hooks

    def set_model(self, model):
        if self.result is not None:
            raise ValueError(
                "This `EmbeddingFactorization` already split layer "
                f"'{self.result.layer_name}' at epoch {self.result.epoch}; a "
                "callback splits once. Create a new one for another run, or leave "
                "it out when training the factorized model further. "
                f"Received: at_epoch={self.at_epoch}"
            )
        super().set_model(model)
        self._layer = _find_embedding(model, self.layer_name)
        self._check_rank(self._layer)
        callback_list = _calling_callback_list(self)
        self._callback_list = (
            weakref.ref(callback_list) if callback_list is not None else None
        )
        self._checkpoint_best = {
            id(cb): cb.best
            for cb in self._siblings()
            if isinstance(cb, keras.callbacks.ModelCheckpoint)
        }

    def set_params(self, params):
        super().set_params(params)
        if self.model is not None and self.result is None:
            self._resume_from_backup()

    def on_train_begin(self, logs=None):
        epochs = (self.params or {}).get("epochs")
        if self.result is None and epochs is not None and self.at_epoch >= epochs:
            warnings.warn(
                f"`EmbeddingFactorization(at_epoch={self.at_epoch})` will never "
                f"split: `fit()` runs {epochs} epochs and the split happens after "
                f"epoch {self.at_epoch}, before the next one. Use `at_epoch` < "
                f"`epochs`. Received: at_epoch={self.at_epoch}, epochs={epochs}",
                stacklevel=2,
            )
        if self.learning_rate is not None and not isinstance(
            self.learning_rate, int | float
        ):
            for cb in self._siblings():
                if isinstance(cb, keras.callbacks.ReduceLROnPlateau):
                    warnings.warn(
                        "`ReduceLROnPlateau` cannot change a learning-rate "
                        "schedule, and `EmbeddingFactorization` installs one at "
                        "the split: the first reduction after the split would "
                        "fail. Pass `learning_rate=None` (keep the current rate) "
                        "or a float. "
                        f"Received: learning_rate={self.learning_rate!r}",
                        stacklevel=2,
                    )

    def on_epoch_begin(self, epoch, logs=None):
        if self.result is not None:
            return
        if epoch >= self.at_epoch:
            self._split(epoch)
        elif epoch == self.at_epoch - 1 and not (self.params or {}).get("steps"):
            self._epoch_start_iterations = _iterations(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if self.result is None and self._epoch_start_iterations is not None:
            self._steps_in_last_epoch = (
                _iterations(self.model) - self._epoch_start_iterations
            )

    def on_train_end(self, logs=None):
        epochs = (self.params or {}).get("epochs")
        if self.result is None and epochs is not None and self.at_epoch < epochs:
            logger.warning(
                "Training ended before epoch %d completed: layer '%s' was not "
                "factorized (did a callback such as EarlyStopping stop training?).",
                self.at_epoch,
                self._layer.name if self._layer is not None else self.layer_name,
            )

    # ---------------------------------------------------------------- helpers

    def _siblings(self) -> list:
        callback_list = self._callback_list() if self._callback_list else None
        if callback_list is None:
            return []
        return [cb for cb in callback_list.callbacks if cb is not self]

    def _check_rank(self, layer) -> None:
        input_dim, output_dim = layer.input_dim, layer.output_dim
        if self.compression is not None:
            try:
                rank_for_compression(input_dim, output_dim, self.compression)
            except ValueError as error:
                raise ValueError(
                    f"{error} (layer '{layer.name}'). "
                    f"Received: compression={self.compression}"
                ) from None
            return
        if self.rank is None:
            return
        max_rank = _max_useful_rank(input_dim, output_dim)
        if self.rank > max_rank:
            raise ValueError(
                f"`rank` must be at most {max_rank} for the {input_dim} x "
                f"{output_dim} table of layer '{layer.name}': at a larger rank the "
                f"factors ({self.rank} x ({input_dim} + {output_dim}) parameters) are "
                "not smaller than the table, or the rank is not below "
                f"min({input_dim}, {output_dim}). Received: rank={self.rank}"
            )

    def _steps_per_epoch(self) -> int:
        steps = (self.params or {}).get("steps")
        if steps:
            return int(steps)
        # A dataset of unknown size: the optimizer iterations of the last epoch,
        # the clock the schedule runs on.
        if self._steps_in_last_epoch:
            return self._steps_in_last_epoch
        raise ValueError(
            "`EmbeddingFactorization` needs the number of steps per epoch for its "
            "learning-rate schedule, and `fit()` does not know it (a dataset of "
            "unknown size). Pass `steps_per_epoch` to `fit()`, or a float or "
            "schedule as `learning_rate`. Received: steps=None"
        )

    def _new_learning_rate(self, optimizer):
        """Learning rate (float or schedule) for the fresh optimizer."""
        if self.learning_rate is None:
            return optimizer.get_config()["learning_rate"]
        if isinstance(self.learning_rate, str):
            steps_per_epoch = self._steps_per_epoch()
            return CyclicalAnnealedLearningRate(
                initial_learning_rate=_CALR_PEAK,
                minimal_learning_rate=_CALR_FLOOR,
                step_size=steps_per_epoch / 2,
                decay=_CALR_DECAY,
                steps_per_epoch=steps_per_epoch,
            )
        if isinstance(
            self.learning_rate, keras.optimizers.schedules.LearningRateSchedule
        ):
            # A copy, so that the callback's own object is never shared.
            return type(self.learning_rate).from_config(self.learning_rate.get_config())
        return float(self.learning_rate)

    def _install_fresh_optimizer(self) -> None:
        """Gives the model a new optimizer of the same class, config and wrapping."""
        model = self.model
        old = model.optimizer
        if old is None:
            raise ValueError(
                "`EmbeddingFactorization` needs a compiled model (it replaces the "
                "optimizer at the split). Call `model.compile()` before `fit()`. "
                "Received: optimizer=None"
            )
        scaled = isinstance(old, keras.optimizers.LossScaleOptimizer)
        inner = old.inner_optimizer if scaled else old
        config = inner.get_config()
        config["learning_rate"] = self._new_learning_rate(inner)
        # A TensorFlow optimizer binds to the strategy in scope when it is created.
        with model.distribute_strategy.scope():
            optimizer = type(inner).from_config(config)
            compile_optimizer = optimizer
            if scaled:
                optimizer = keras.optimizers.LossScaleOptimizer(
                    optimizer,
                    initial_scale=old.initial_scale,
                    dynamic_growth_steps=old.dynamic_growth_steps,
                    name=old.name,
                )
        # Drop every reference to the old optimizer, so that reference counting
        # frees it and its slots (as large as the table each, for Adam) before the
        # SVD: compiled functions capture them, and `compile()` keeps the optimizer
        # in the compile config, which `model.save()` would also write.
        model.train_function = None
        model.test_function = None
        model.predict_function = None
        model.optimizer = optimizer
        compile_config = getattr(model, "_compile_config", None)
        if compile_config is not None and "optimizer" in compile_config.config:
            compile_config.config["optimizer"] = compile_optimizer

    def _finish_swap(self) -> None:
        model = self.model
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)
            model.make_train_function(force=True)
            model.make_test_function(force=True)
            model.make_predict_function(force=True)

    def _split(self, epoch: int) -> None:
        start = time.perf_counter()
        layer = self._layer
        model = self.model
        input_dim, output_dim = layer.input_dim, layer.output_dim
        self._install_fresh_optimizer()
        # One float32 copy (`ops.convert_to_numpy` would make two on the way).
        table = np.asarray(layer.embeddings)
        if self.energy is not None:
            rank = rank_for_energy(singular_values(table), self.energy)
            max_rank = _max_useful_rank(input_dim, output_dim)
            if rank > max_rank:
                logger.warning(
                    "energy=%s needs rank %d for layer '%s', which would not save "
                    "parameters; using rank %d.",
                    self.energy,
                    rank,
                    layer.name,
                    max_rank,
                )
                rank = max_rank
        elif self.compression is not None:
            rank = rank_for_compression(input_dim, output_dim, self.compression)
        else:
            rank = self.rank
        embeddings_a, embeddings_b = truncated_svd(
            table, rank, self._svd_method, balanced=self._balanced
        )
        relative_error = _relative_error(table, embeddings_a, embeddings_b)
        del table
        with model.distribute_strategy.scope():
            _factorize_in_place(layer, embeddings_a, embeddings_b)
        del embeddings_a, embeddings_b
        self._finish_swap()
        reset = self._reset_siblings()
        self.result = FactorizationResult(
            epoch=epoch,
            layer_name=layer.name,
            input_dim=input_dim,
            output_dim=output_dim,
            rank=rank,
            params_before=input_dim * output_dim,
            params_after=rank * (input_dim + output_dim),
            relative_error=relative_error,
            seconds=time.perf_counter() - start,
        )
        if self.verbose:
            r = self.result
            logger.info(
                "Epoch %d: factorized layer '%s' (%d x %d) to rank %d: %d -> %d "
                "parameters (%.1f%% removed), relative reconstruction error %.4f, "
                "%.2f s. Learning rate: %s. Restarted callbacks: %s.",
                r.epoch,
                r.layer_name,
                r.input_dim,
                r.output_dim,
                r.rank,
                r.params_before,
                r.params_after,
                100.0 * (1.0 - r.params_after / r.params_before),
                r.relative_error,
                r.seconds,
                _describe(model.optimizer),
                ", ".join(reset) or "none",
            )

    def _reset_siblings(self) -> list[str]:
        """Restarts monitor callbacks so that "best" refers to the factorized model."""
        reset = []
        for cb in self._siblings():
            if isinstance(
                cb, keras.callbacks.EarlyStopping | keras.callbacks.ReduceLROnPlateau
            ):
                cb.on_train_begin()
            elif isinstance(cb, keras.callbacks.ModelCheckpoint):
                cb.best = self._checkpoint_best.get(id(cb))
            else:
                continue
            reset.append(type(cb).__name__)
        return reset

    def _resume_from_backup(self) -> None:
        """Factorizes the fresh model if a `BackupAndRestore` backup is post-split.

        Runs from `set_params`, before any callback's `on_train_begin`, so that
        `BackupAndRestore` then loads the factorized weights, the fresh optimizer's
        state and its iteration count (the schedule position) into matching
        variables.
        """
        layer = self._layer
        for cb in self._siblings():
            if not isinstance(cb, keras.callbacks.BackupAndRestore):
                continue
            path = os.fspath(cb._weights_path)
            if not os.path.exists(path):
                continue
            rank = _rank_in_backup(path, self.model, layer)
            if rank is None:
                continue
            start = time.perf_counter()
            self._install_fresh_optimizer()
            # Placeholder values: the backup overwrites them.
            embeddings_a = np.zeros((layer.input_dim, rank), dtype="float32")
            embeddings_b = np.zeros((rank, layer.output_dim), dtype="float32")
            with self.model.distribute_strategy.scope():
                _factorize_in_place(layer, embeddings_a, embeddings_b)
            self._finish_swap()
            self.result = FactorizationResult(
                epoch=self.at_epoch,
                layer_name=layer.name,
                input_dim=layer.input_dim,
                output_dim=layer.output_dim,
                rank=rank,
                params_before=layer.input_dim * layer.output_dim,
                params_after=rank * (layer.input_dim + layer.output_dim),
                relative_error=math.nan,
                seconds=time.perf_counter() - start,
                resumed=True,
            )
            if self.verbose:
                logger.info(
                    "Resuming after the split: the backup in '%s' holds layer '%s' "
                    "factorized to rank %d; factorized the model and installed a "
                    "fresh optimizer (%s) before the backup is loaded.",
                    cb.backup_dir,
                    layer.name,
                    rank,
                    _describe(self.model.optimizer),
                )
            return


def _iterations(model) -> int:
    return int(ops.convert_to_numpy(model.optimizer.iterations))


def _max_useful_rank(input_dim: int, output_dim: int) -> int:
    """Largest k with k < min(V, D) and k (V + D) < V D."""
    by_size = (input_dim * output_dim - 1) // (input_dim + output_dim)
    return max(0, min(min(input_dim, output_dim) - 1, by_size))


def _calling_callback_list(callback):
    """The `CallbackList` calling `callback.set_model`, found on the call stack.

    `fit()` builds its `CallbackList` and immediately calls `set_model` on every
    callback; the list is what lets the split coordinate with `EarlyStopping`,
    `ModelCheckpoint` and `BackupAndRestore` of the same run. `None` if the hook is
    called some other way.
    """
    frame = inspect.currentframe()
    try:
        for _ in range(16):
            frame = frame.f_back if frame is not None else None
            if frame is None:
                return None
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList) and any(
                cb is callback for cb in owner.callbacks
            ):
                return owner
        return None
    finally:
        del frame


def _rank_in_backup(path: str, model, layer) -> int | None:
    """Rank of the factorized `layer` in a weights file, `None` if it is not there.

    A `.weights.h5` file names each layer's group after its class, so a model saved
    after the split has one more `low_rank_embedding` group (with factors of shape
    `(V, k)` and `(k, D)`) than the model has `LowRankEmbedding` layers.
    """
    import h5py

    shape_pairs = []

    def visit(name, item):
        if not isinstance(item, h5py.Group) or not _LOW_RANK_GROUP.search(name):
            return
        group = item.get("vars")
        if group is None or "0" not in group or "1" not in group:
            return
        shape_pairs.append((tuple(group["0"].shape), tuple(group["1"].shape)))

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    ranks = [
        a[1]
        for a, b in shape_pairs
        if len(a) == 2
        and len(b) == 2
        and a[0] == layer.input_dim
        and b == (a[1], layer.output_dim)
    ]
    for existing in model._flatten_layers(include_self=False, recursive=True):
        if (
            isinstance(existing, LowRankEmbedding)
            and existing.input_dim == layer.input_dim
            and existing.output_dim == layer.output_dim
            and existing.rank in ranks
        ):
            ranks.remove(existing.rank)
    return int(ranks[0]) if ranks else None


def _describe(optimizer) -> str:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    rate = inner._learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config = rate.get_config()
        config.pop("name", None)
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        rate = f"{type(rate).__name__}({arguments})"
    else:
        rate = f"{float(ops.convert_to_numpy(rate)):.3g}"
    return f"{type(inner).__name__}, learning rate {rate}"


def _check_fraction(name: str, value, *, closed: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"`{name}` must be a float. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    upper_ok = value <= 1.0 if closed else value < 1.0
    if not (0.0 < value and upper_ok):
        interval = "(0, 1]" if closed else "(0, 1)"
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value}")


def _check_learning_rate(learning_rate) -> None:
    if learning_rate is None or isinstance(
        learning_rate, keras.optimizers.schedules.LearningRateSchedule
    ):
        return
    if isinstance(learning_rate, str):
        if learning_rate != _LEARNING_RATE_DEFAULT:
            raise ValueError(
                '`learning_rate` must be "calr", None, a float or a '
                "`LearningRateSchedule`. "
                f"Received: learning_rate={learning_rate!r}"
            )
        return
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float):
        raise TypeError(
            '`learning_rate` must be "calr", None, a float or a '
            "`keras.optimizers.schedules.LearningRateSchedule`. "
            f"Received: learning_rate={learning_rate!r} (of type "
            f"{type(learning_rate).__name__})"
        )
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(
            f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}"
        )
