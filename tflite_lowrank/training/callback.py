"""`EmbeddingFactorization`: split a trained Embedding into SVD factors during `fit()`.

The callback changes the model in place, once: at the boundary after epoch `at_epoch`
the built `keras.layers.Embedding` becomes a `LowRankEmbedding` holding
`embeddings_a = U_k` and `embeddings_b = diag(S_k) V_k^T`, the model gets a fresh
optimizer of the same class and configuration with the CALR schedule, and `fit()`
goes on training everything. The swap lives in `tflite_lowrank.layers.swap`, the
callbacks it works with and its backup marker in `coordination`, resuming from a
post-split backup in `resume`, the calibration pass in `calibration`, the fresh
optimizer in `optimizer`, and every Keras internal they need in
`tflite_lowrank._keras`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
import numpy as np

from tflite_lowrank.layers.swap import _find_embedding
from tflite_lowrank.training.arguments import (
    _check_arguments,
    _check_band_budget,
    _check_bands,
    _check_not_split,
    _check_rank,
    _check_weighting,
    _warn_if_never_splits,
    check_monitor,
)
from tflite_lowrank.training.budget import check_budget
from tflite_lowrank.training.calibration import (
    check_calibration,
    check_calibration_ids,
)
from tflite_lowrank.training.consumer import check_consumer
from tflite_lowrank.training.coordination import (
    _backup_dirs,
    _check_coordinate_with,
    _checkpoint_bests,
    _SplitMarkers,
    _warn_not_attached,
    _warn_reduce_lr_on_plateau,
)
from tflite_lowrank.training.guards import (
    _check_token_counts,
    _claim_layer,
    _release_layer,
)
from tflite_lowrank.training.optimizer import _drive_learning_rate, _iterations
from tflite_lowrank.training.recipe import (
    FROM_RECIPE,
    FactorizationResult,
    SplitRecipe,
    resolve_arguments,
)
from tflite_lowrank.training.resume import BestWeights, resolve_monitor
from tflite_lowrank.training.split import _Splitter
from tflite_lowrank.utils.checks import check_int

logger = logging.getLogger(__name__)


class EmbeddingFactorization(_Splitter, keras.callbacks.Callback):
    """Splits a trained `Embedding` into truncated-SVD factors partway through `fit()`.

    After epoch `at_epoch` (its validation and every callback's `on_epoch_end`
    included), the table `W` (V x D) of the chosen `keras.layers.Embedding` is
    replaced, in the same model object, by factors of its truncated SVD: one pair
    per frequency band by default (`tl.BandedLowRankEmbedding`), or with `bands=1`
    the paper's `A = U_k` (V x k), `B = diag(S_k) V_k^T` (k x D)
    (`tl.LowRankEmbedding`). The model then gets a fresh optimizer of the same class
    and configuration with the CALR schedule, and `fit()` goes on training. Saved
    files load with `keras.models.load_model` once `tflite_lowrank` is imported
    (`tl.load_model` for an embedding created inside a custom layer).

    The default split is the plain SVD with both factors trained; a heavy split (at
    most 15% of the table kept) read by an LSTM, GRU or SimpleRNN, or of a model
    whose training accuracy reached 95%, is weighted by the consumer's input kernel
    with a fixed basis. Options step by step, the coordination with other callbacks
    and the studies behind each default: `docs/user-guide.md`, "What the callback
    does, step by step".

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019.

    Args:
        layer_name: String or `None`. Name of the `keras.layers.Embedding` to split
            (nested models are searched too). `None` means the model's only
            `Embedding`. Defaults to `None`.
        rank: Integer or `None`. Rank k of the factors, `k < min(V, D)` and
            `k * (V + D) < V * D`.
        compression: Float in (0, 1) or `None`. Fraction of the table's parameters
            to remove: the rank is `tl.rank_for_compression(V, D, compression)`.
            With `max_dev_drop`, a sequence of candidate fractions.
        energy: Float in (0, 1] or `None`. Fraction of the squared spectrum to keep
            (`tl.rank_for_energy`). Exactly one of `rank`, `compression` and
            `energy` must be given.
        at_epoch: Integer >= 1. Number of epochs trained on the full table.
        recipe: `tl.SplitRecipe` or a preset name (`tl.SPLIT_RECIPES`: `"default"`,
            `"fixed_basis"`, `"hedged"`, `"plain"`, `"paper"`). How the split
            factorizes and retrains; the arguments below that name its fields
            override them. `result.recipe` reports the recipe the split ran.
            Defaults to `"default"`.
        bands: `"auto"`, an integer >= 1, or a sequence of increasing ids. Frequency
            bands of the id range (ids sorted by frequency), each with its own
            factors within the same parameter budget. `"auto"` is 6 bands, fewer
            for small tables, 1 with `energy`. Defaults to `"auto"`.
        token_counts: 1-D array of V counts or `None`. How often each id occurs,
            to weight the bands; `None` assumes frequency-sorted ids. Defaults to
            `None`.
        learning_rate: `"calr"`, `"calr_peak_1e-2"`, `"calr_peak_2e-3"`,
            `"calr_paper"`, `None`, a float or a `LearningRateSchedule`. The fresh
            optimizer's rate: a CALR preset, `None` to keep the current one, or
            the given value. Defaults to `"calr"` (its peak set by the budget).
        verbose: Integer. `0` is silent, `1` logs the split at INFO. Defaults to
            `1`.
        coordinate_with: Sequence of `keras.callbacks.Callback`. Callbacks also
            given to `fit()` that must learn of the split (`EarlyStopping`,
            `ReduceLROnPlateau`, `ModelCheckpoint`, `BackupAndRestore`). Defaults
            to `()`.
        calibration_data: `None`, a `tf.data.Dataset` or iterable of `(x, y)`
            batches, or an `(x, y)` tuple of arrays: a sample of the training
            split that weights the SVD by the loss gradient. Defaults to `None`.
        calibration_steps: Integer >= 1. Most batches of `calibration_data` to
            use. Defaults to `100`.
        train_basis: `None`, `True`, `False` or `"auto"`. Whether the basis
            factor `B` keeps training after the split (`False`: codes at the
            table's scale, a fixed orthonormal basis). `None` follows
            `weighting`'s recipe. Defaults to `None`.
        weighting: `"auto"`, `"none"` or `"consumer"`. How a split without
            `calibration_data` weights its SVD: `"none"` plain, `"consumer"` by
            the input kernel of the layer reading the vectors, `"auto"` the
            fixed-basis recipe above or `"none"`. Defaults to `"auto"`.
        svd_method: One of `tl.factorization.SVD_METHODS`. How the truncated SVD
            is computed (`tl.truncated_svd`'s `method`). Defaults to `"auto"`.
        balanced: Boolean. If `True`, the singular values are split evenly
            between the factors (`sqrt(S)` in each) instead of all in `B`.
            Defaults to `False`.
        basis_learning_rate: Float in (0, 1]. A trained basis' updates are scaled
            by it (the `"hedged"` recipe: 0.1). Defaults to `1.0`.
        basis_frozen_epochs: Integer >= 0. A trained basis is held fixed for this
            many epochs after the split, then trains. Defaults to `0`.
        quantization_aware: `None`, `"int8_rows"`, `"int4_rows"` or `"int4"`.
            Trains the codes after the split rounded to the grid that
            `tl.convert_to_tflite(quantization=...)` stores in that mode (a
            straight-through gradient), so that file scores as the Keras model
            does. Defaults to `None`.
        max_dev_drop: Float or `None`. An accuracy budget instead of a size
            budget: `compression` is then a sequence of candidates, and right
            before the split each is evaluated on `validation_data` (forward
            passes only); the split keeps the highest compression whose accuracy
            is within `max_dev_drop` points of the full model's. Defaults to
            `None`.
        validation_data: `(x, y)` arrays for `max_dev_drop`. Defaults to `None`.
        split_from: `"best"` or `"last"`. The weights the split factorizes: those
            of the epoch before the split with the best `monitor` value (restored
            first; a copy of the weights is kept in memory until the split), or
            the last epoch's (also what `"best"` does without validation logs).
            Defaults to the recipe's, `"best"`.
        monitor: String or `None`. The logged metric `split_from="best"` reads;
            `None` takes an `EarlyStopping`'s in `coordinate_with`, else
            `"val_loss"`. Defaults to `None`.

    Raises:
        ValueError: in the constructor, for a bad value of any argument; when
            `fit()` starts (before any training), for a layer that cannot be
            split (the message says why and lists the model's embeddings), a rank
            that saves no parameters, or a callback that already split; at the
            split (before the optimizer is replaced), for a table holding NaN or
            infinite values.
        TypeError: for arguments of the wrong type.

    Example:

    ```python
    import tflite_lowrank as tl

    stopping = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    split = tl.EmbeddingFactorization(
        "embedding", compression=0.9, at_epoch=3, coordinate_with=[stopping]
    )
    model.fit(x, y, epochs=8, validation_data=(x_dev, y_dev),
              callbacks=[stopping, split])
    print(split.result)  # FactorizationResult(epoch=3, layer_name='embedding', ...)
    model.save("model.keras")  # holds the factorized layer
    ```
    """

    def __init__(
        self,
        layer_name: str | None = None,
        *,
        rank: int | None = None,
        compression: float | Sequence[float] | None = None,
        energy: float | None = None,
        at_epoch: int,
        recipe: SplitRecipe | str = "default",
        bands: int | Sequence[int] | str = FROM_RECIPE,
        token_counts: Sequence[float] | np.ndarray | None = None,
        learning_rate: str
        | float
        | keras.optimizers.schedules.LearningRateSchedule
        | None = FROM_RECIPE,
        verbose: int = 1,
        coordinate_with: Sequence[keras.callbacks.Callback] = (),
        calibration_data=None,
        calibration_steps: int = 100,
        train_basis: bool | str | None = FROM_RECIPE,
        weighting: str = FROM_RECIPE,
        svd_method: str = FROM_RECIPE,
        balanced: bool = FROM_RECIPE,
        basis_learning_rate: float = FROM_RECIPE,
        basis_frozen_epochs: int = FROM_RECIPE,
        quantization_aware: str | None = FROM_RECIPE,
        max_dev_drop: float | None = None,
        validation_data=None,
        split_from: str = FROM_RECIPE,
        monitor: str | None = None,
    ):
        super().__init__()
        recipe = resolve_arguments(
            recipe,
            energy=energy,
            bands=bands,
            learning_rate=learning_rate,
            train_basis=train_basis,
            weighting=weighting,
            svd_method=svd_method,
            balanced=balanced,
            basis_learning_rate=basis_learning_rate,
            basis_frozen_epochs=basis_frozen_epochs,
            quantization_aware=quantization_aware,
            split_from=split_from,
        )
        monitor = check_monitor(monitor)
        compression = check_budget(
            compression, max_dev_drop, validation_data, rank=rank, energy=energy
        )
        _check_arguments(
            layer_name,
            rank=rank,
            compression=compression[0] if max_dev_drop is not None else compression,
            energy=energy,
            at_epoch=at_epoch,
            learning_rate=recipe.learning_rate,
            verbose=verbose,
        )
        _check_bands(recipe.bands, token_counts, energy=energy)
        check_calibration(calibration_data, calibration_steps)
        _check_token_counts(token_counts)
        _check_weighting(recipe.weighting, calibration_data)
        self.coordinate_with = _check_coordinate_with(coordinate_with)
        self.layer_name = layer_name
        self.rank = None if rank is None else int(rank)
        self.compression = compression
        self.energy = energy
        self.at_epoch = int(at_epoch)
        self.recipe = recipe
        self.bands = recipe.bands
        self.token_counts = token_counts
        self.learning_rate = recipe.learning_rate
        self.verbose = verbose
        self.calibration_data = calibration_data
        self.calibration_steps = int(calibration_steps)
        self.train_basis = recipe.train_basis
        self.weighting = recipe.weighting
        self.svd_method = recipe.svd_method
        self.balanced = recipe.balanced
        self.max_dev_drop = max_dev_drop
        self.validation_data = validation_data
        self.split_from = recipe.split_from
        self.monitor = monitor
        self._best: BestWeights | None = None
        self.result: FactorizationResult | None = None
        self._layer = None
        self._checkpoint_best: dict[int, object] = {}
        self._markers = _SplitMarkers((), {})
        self._epoch_start_iterations: int | None = None
        self._steps_in_last_epoch: int | None = None

    # ------------------------------------------------------------------ hooks

    def set_model(self, model):
        _check_not_split(self.result, self.at_epoch)
        super().set_model(model)
        self._layer = _find_embedding(model, self.layer_name)
        check_calibration_ids(self.calibration_data, model, self._layer)
        candidates = self.compression if self.max_dev_drop is not None else None
        for compression in candidates or (self.compression,):
            _check_rank(self._layer, rank=self.rank, compression=compression)
            _check_band_budget(
                self._layer,
                rank=self.rank,
                compression=compression,
                bands=self.bands,
                token_counts=self.token_counts,
            )
        if self.weighting == "consumer" and self.result is None:
            check_consumer(model, self._layer)
        self._checkpoint_best = _checkpoint_bests(self.coordinate_with)
        if self.split_from == "best" and self.result is None:
            monitor = resolve_monitor(self.monitor, self.coordinate_with)
            self._best = BestWeights(monitor, _backup_dirs(self.coordinate_with))
        _claim_layer(self, self._layer)  # Refuses a second callback on this layer.

    def set_params(self, params):
        super().set_params(params)
        if self.model is not None and self.result is None:
            self._resume_from_backup()

    def on_train_begin(self, logs=None):
        _release_layer(self, self._layer)
        epochs = (self.params or {}).get("epochs")
        if self.result is None and epochs is not None:
            _warn_if_never_splits(self.at_epoch, epochs)
        _warn_reduce_lr_on_plateau(self.learning_rate, self.coordinate_with)
        _warn_not_attached(self.coordinate_with, self.model)
        if self.result is None and self._best is not None:
            self._best.load(self.model)  # A copy a killed run left in its backup.

    def on_train_batch_begin(self, batch, logs=None):
        self._markers.write_ready()
        _drive_learning_rate(self.model)
        if self._damping is not None:
            self._damping.before_batch()

    def on_train_batch_end(self, batch, logs=None):
        if self._damping is not None:
            self._damping.after_batch()

    def on_epoch_begin(self, epoch, logs=None):
        self._markers.write_ready()
        if self.result is not None:
            return self._start_epoch_after_split(epoch)
        if self._best is not None:
            self._best.start(epoch)
        if epoch >= self.at_epoch:
            self._split(epoch)
        elif epoch == self.at_epoch - 1 and not (self.params or {}).get("steps"):
            self._epoch_start_iterations = _iterations(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self._markers.write_ready()
        if self.result is not None:
            return
        self._note_epoch(epoch, logs)
        if self._best is not None:
            self._best.update(epoch, logs, self.model)
        if self._epoch_start_iterations is not None:
            self._steps_in_last_epoch = (
                _iterations(self.model) - self._epoch_start_iterations
            )

    def on_train_end(self, logs=None):
        self._markers.write_ready()  # Unless `BackupAndRestore` deleted the folder.
        if self.result is None:
            self._warn_not_split()

    # ---------------------------------------------------------------- helpers

    def split_now(
        self, model: keras.Model | None = None, *, steps_per_epoch: int | None = None
    ) -> FactorizationResult:
        """Splits the layer now, outside `fit()`, and returns `result`.

        For a model trained elsewhere, or to time the split alone; the model then
        holds the factors and the fresh optimizer, as after a split in `fit()`.

        Args:
            model: `keras.Model` or `None`. The model holding the layer; `None`
                uses the model this callback was given (`set_model`).
            steps_per_epoch: Integer >= 1 or `None`. Steps per epoch of the epochs
                to come, for the CALR schedule (not needed if `fit()` gave it or
                `learning_rate` is a float, a schedule or `None`).

        Returns:
            The `FactorizationResult` of the split.

        Raises:
            ValueError: if there is no model, the callback already split, or the
                layer cannot be split (as when `fit()` starts).
        """
        if model is not None:
            self.set_model(model)
            _release_layer(self, self._layer)
        if self.model is None:
            raise ValueError(
                "`split_now` needs the model holding the layer. Received: model=None "
                "and no model set by `fit()`"
            )
        _check_not_split(self.result, self.at_epoch)
        if steps_per_epoch is not None:
            check_int("steps_per_epoch", steps_per_epoch, minimum=1)
            self.set_params({**(self.params or {}), "steps": int(steps_per_epoch)})
        self._split(self.at_epoch)
        return self.result
