"""`EmbeddingFactorization`: split a trained Embedding into SVD factors during `fit()`.

The callback changes the model in place, once: at the boundary after epoch `at_epoch`
the built `keras.layers.Embedding` becomes a `LowRankEmbedding` holding
`embeddings_a = U_k` and `embeddings_b = diag(S_k) V_k^T`, the model gets a fresh
optimizer of the same class and configuration with the CALR schedule, and `fit()`
goes on training everything. The swap lives in `swap._swap_layer_class`, the
callbacks it works with and its backup marker in `coordination`, resuming from a
post-split backup in `resume`, the calibration pass in `calibration`, the fresh
optimizer in `optimizer`, and every Keras internal they need in `keras_adapter`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import keras
import numpy as np

from tflite_lowrank.compression.arguments import (
    _LEARNING_RATE_DEFAULT,
    _TRAIN_BASIS_DEFAULT,
    _WEIGHTING_DEFAULT,
    _check_arguments,
    _check_band_budget,
    _check_bands,
    _check_finite_table,
    _check_not_split,
    _check_rank,
    _check_train_basis,
    _check_weighting,
    _claim_layer,
    _normalize_bands,
    _rank_at_split,
    _release_layer,
    _resolve_train_basis,
    _resolve_weighting,
    _warn_if_never_splits,
)
from tflite_lowrank.compression.calibration import (
    check_calibration,
    split_covariance,
)
from tflite_lowrank.compression.consumer import (
    check_consumer,
    consumer_weighting,
    is_recurrent,
)
from tflite_lowrank.compression.coordination import (
    _backup_dirs,
    _check_coordinate_with,
    _checkpoint_bests,
    _marker_payload,
    _reset_siblings,
    _SplitMarkers,
    _warn_not_attached,
    _warn_reduce_lr_on_plateau,
)
from tflite_lowrank.compression.factors import (
    install_factors,
    plan_factors,
    to_table_scale,
)
from tflite_lowrank.compression.optimizer import (
    _describe,
    _finish_swap,
    _install_fresh_optimizer,
    _iterations,
    _steps_per_epoch,
)
from tflite_lowrank.compression.result import FactorizationResult
from tflite_lowrank.compression.resume import resume_split
from tflite_lowrank.compression.svd import _kept_fraction
from tflite_lowrank.compression.swap import _find_embedding

logger = logging.getLogger(__name__)


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
    `keras.models.load_model` reads without `custom_objects` once `tflite_lowrank`
    is imported (Keras imports only its own packages while loading), together with
    the new optimizer and its schedule. An embedding that a custom layer or a
    subclassed model creates in its own code is rebuilt full by Keras on loading:
    load such files with `tl.load_model`, which factorizes it again first.

    A `keras.layers.ReversibleEmbedding` (also `keras_hub.layers.ReversibleEmbedding`)
    becomes a `tl.ReversibleLowRankEmbedding` or `tl.ReversibleBandedLowRankEmbedding`,
    whose `call(x, reverse=True)` uses the factors' product when the weights are
    tied. Other `Embedding` subclasses are split only if they override nothing but
    `__init__`, `get_config` and `from_config`.

    By default (`bands="auto"`) the table is split into frequency bands rather than
    one rank-k SVD: the frequency-sorted ids (id 0 padding, 1 unknown, then the most
    frequent word first) are cut into up to 6 geometric bands, each with its own
    truncated-SVD factors, and the same parameter budget `k * (V + D)` goes
    preferentially to the frequent words (`tl.allocate_band_ranks`); the layer then
    becomes a `tl.BandedLowRankEmbedding`, which `fold_projection` and
    `convert_to_tflite` handle like a `LowRankEmbedding`. Tables too small for rank
    1 in two bands, and `energy=`, use the paper's single band; `bands=1` asks for
    it. Frequency bands and the default schedule below were chosen on dev accuracy
    across four datasets (`benchmarks/results/recipe_study.md`).

    When an LSTM, GRU or SimpleRNN reads the vectors and the split is heavy
    (`compression` about 0.85 or more), the default (`weighting="auto"`,
    `train_basis=None`) weights the SVD by that layer's input kernel and keeps the
    factors' bases fixed while retraining (see `weighting`): chosen on dev for the
    LSTM, where the plain split lost most. Other models get the plain SVD;
    `weighting="none", train_basis=True` gives it to every model (the default of
    earlier releases).

    The default learning rate (`learning_rate="calr"`) is CALR
    (`CyclicalAnnealedLearningRate`) with the peak times 0.8 per epoch and one
    triangle per epoch (`step_size = steps_per_epoch / 2`, ending at the floor at
    each epoch boundary), whose peak depends on how much of the table the split
    keeps: peak 1e-2 (floor 1e-5) when the factors keep at most 15% of the table's
    parameters (`compression >= 0.85`), peak 2e-3 with a shallow cycle (floor
    5e-4) for lighter splits, which need gentler, steadier retraining. Both were
    chosen on dev accuracy across four datasets at p = 0.5, 0.8 and 0.9
    (`benchmarks/results/calr_budget.md`). A
    heavy split weighted by `calibration_data` or by its consumer's kernel
    (`weighting="consumer"`, below) retrains at peak 3e-3 (floor 3e-6), its best
    CALR on dev (`benchmarks/results/calibration_study.md`,
    `benchmarks/results/split_probes.md`).
    `learning_rate="calr_peak_1e-2"` is peak 1e-2 at every budget (the default
    before that study), `learning_rate="calr_peak_2e-3"` peak 2e-3 with floor 2e-6
    (the light splits' default before the shallow cycle).
    `learning_rate="calr_paper"` gives the
    authors' fine-tuning values (peak 1e-3, floor 1e-6, peak times 0.1 per epoch,
    restart to 1e-3 with floor 1e-8) with the same half-epoch half cycle, the
    default of earlier releases: the authors' 1,000-step half cycle assumes about
    1,500 steps per epoch, and with fewer the rate would stay near the floor
    (`benchmarks/results/split_defaults.md`). The schedule starts from step 0 with
    the fresh optimizer. All of S goes into `embeddings_b`, as in the paper.

    Other callbacks of the same `fit()` are coordinated with only if they are also
    listed in `coordinate_with` (the same objects):

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
    - `BackupAndRestore`: once a file in its `backup_dir` has been written after
      the split (checked at this callback's next batch, epoch or end hook), this
      callback writes the marker `tflite_lowrank_split.json` there (layer name,
      class, `get_config()`, weight shapes, split epoch). A restarted run that
      finds it factorizes the fresh model and installs the fresh optimizer before
      the backup is loaded, so weights, optimizer state and schedule position are
      restored. Without a marker (a backup from before the split, also after a
      kill between the split and the first post-split backup) the full model is
      restored and split at the right epoch. A kill after the first post-split
      backup but before this callback's next hook leaves no marker, and Keras
      then fails to load that backup (delete `backup_dir` to start over). List
      this callback right after `BackupAndRestore` in `fit()`: at epoch ends the
      window is then only the callbacks listed between them. The same happens if
      `double_checkpoint=True` falls back to a pre-split backup.

    Without `coordinate_with`, no other callback learns of the split:
    `EarlyStopping` and `ModelCheckpoint(save_best_only=True)` compare the
    factorized model with the full model's best, an
    `EarlyStopping(restore_best_weights=True)` whose best epoch came before the
    split fails in Keras' `set_weights` when training ends (one weight more; this
    callback cannot see it to say so), and a restart from a post-split backup fails
    to load.

    The split logs (at INFO, through `logging`) the epoch, layer, V, D, rank,
    parameters before and after, the relative reconstruction error and the seconds
    taken; the same numbers are in `result` (a `FactorizationResult`) afterwards.
    Only the TensorFlow backend is supported. A callback splits once: use a new one
    for another `fit()` run. If `fit()` starts after `at_epoch` (`initial_epoch`),
    the split happens before its first epoch.

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019. Unlike the
    authors' code, the right singular vectors are sliced correctly, the recurrent
    layers keep their trained weights and no ReLU is inserted (see "How this setup
    differs from the paper" in `benchmarks/README.md`).

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
        bands: `"auto"`, an integer >= 1, or a sequence of increasing ids. `1` is
            the paper's single rank-k SVD. More bands split the frequency-sorted
            ids (id 0 padding, 1 unknown, then the most frequent word first, as
            `tl.Tokenizer` and `keras.layers.TextVectorization` number them) into
            geometric bands (or at the given ids), each with its own factors,
            and give frequent words more rank within the same parameter budget
            `k * (V + D)` (`tl.allocate_band_ranks`); the layer becomes a
            `tl.BandedLowRankEmbedding`. `"auto"` is 6 bands, fewer for small
            tables, 1 with `energy`. Defaults to `"auto"`. With ids not sorted by
            frequency, pass `token_counts` (and renumber with
            `tl.frequency_order`) or `bands=1`.
        token_counts: 1-D array of V counts or `None`. How often each id occurs,
            to weight the bands; `None` assumes frequency-sorted ids (a Zipf
            prior). Not used with one band. Defaults to `None`.
        learning_rate: `"calr"`, `"calr_peak_1e-2"`, `"calr_peak_2e-3"`,
            `"calr_paper"`, `None`, a float or a
            `keras.optimizers.schedules.LearningRateSchedule`. Learning rate of the
            fresh optimizer: `"calr"` the default CALR above (set by the budget),
            `"calr_peak_1e-2"` the same with peak 1e-2 at every budget,
            `"calr_peak_2e-3"` peak 2e-3 and floor 2e-6 at every budget,
            `"calr_paper"` the authors' fine-tuning CALR; `None` keeps the
            current one (a float at its current value, a schedule restarted from
            step 0); a float or a schedule is used as given. Defaults to `"calr"`.
        verbose: Integer. `0` is silent, `1` logs the split at INFO. Defaults to
            `1`.
        coordinate_with: Sequence of `keras.callbacks.Callback`. Callbacks also
            given to `fit()` to coordinate with (see above): `EarlyStopping`,
            `ReduceLROnPlateau`, `ModelCheckpoint` and `BackupAndRestore`; others
            are ignored, and one not given to `fit()` gets a warning. Defaults to
            `()`.
        calibration_data: `None`, a `tf.data.Dataset` (or another iterable) of
            `(x, y)` or `(x, y, sample_weight)` batches, or an `(x, y)` tuple of
            arrays (batched by 32; `x` may be a dict for multi-input models): a
            random sample of the training split. If given, the split is weighted
            by the loss: right before it, up to `calibration_steps` batches run
            through the model (inference mode, no update) to measure the
            covariance `C` (D x D) of the loss gradient with respect to the
            table's rows, and the factors (and band ranks) minimize
            `||(W - A B) C^{1/2}||_F` instead of `||W - A B||_F`: they keep the
            directions the model reads, not only the large ones, so the model
            right after the split is much closer to the trained one. The factors
            have the same form and shapes (`embeddings_a` orthonormal), so
            saving, conversion and folding are unchanged. Defaults to `None`
            (the paper's plain truncated SVD).
        calibration_steps: Integer >= 1. Most batches of `calibration_data` to
            use. Defaults to `100`.
        train_basis: `None`, `True`, `False` or `"auto"`. `None` is `True`
            unless `weighting="auto"` takes the recurrent recipe (below), whose
            basis is fixed. `True` is the paper's retraining:
            `embeddings_a = U_k` and `embeddings_b = diag(S_k) V_k^T` both
            train. `False` installs the codes at the table's scale,
            `embeddings_a = U_k S_k`, and keeps the orthonormal basis
            `embeddings_b = V_k^T` fixed (not trainable), so each word retrains
            like a row of the full table restricted to k directions; `"calr"` is
            then peak 1e-2 at every budget. Training both factors moves the
            table much faster than training the table did (Adam steps every
            entry of the small `U_k` by about the learning rate), which helps a
            model that is far from trained and hurts one that overfits fast.
            On dev (`benchmarks/results/split_probes.md`, DAN, 3 seeds) a fixed
            basis at `compression=0.5` gains 1.4 points on Rotten Tomatoes and
            1.3 on R8 but loses 0.6 on BBC and 3.7 on 20 Newsgroups; at 0.8 and
            0.9 it loses on all but R8; with `calibration_data` (whose bases are
            the directions the model reads; their rows then have unit norm but
            need not be orthogonal) it also helps RT at 0.9 (-0.52 against
            -1.67 on dev). `"auto"` fixes the basis only for splits
            keeping at least 30% of the table's parameters. The files, their
            size and the conversion are the same. Defaults to `None`.
        weighting: `"auto"`, `"none"` or `"consumer"`. How a split without
            `calibration_data` weights its SVD. `"none"` is the paper's plain
            truncated SVD. `"consumer"` finds the layer that reads the
            embedding's vectors (an LSTM, GRU or SimpleRNN, also in
            `Bidirectional`, a per-token `Dense` or `Conv1D`, or a mean over time
            then a `Dense`; identities such as `Dropout` in between) and uses its
            input kernel `K` (D x n) as `calibration_data` uses the gradient:
            `C = K K^T`, since the model sees a vector `e` only through `K^T e`.
            No data is needed and the factors have the same form (saving,
            conversion and folding are unchanged); like a calibrated split, a
            heavy one then retrains at CALR peak 3e-3, and `result.consumer`
            names the layer. On dev (DAN, p = 0.9, `split_probes.md`) it gains
            on 20 Newsgroups (+1.5 points against +0.3 for the plain SVD, 3
            seeds) but not on the mean over four datasets with 5 seeds; without
            such a layer (a normalization or attention layer reads the vectors,
            an embedding inside a nested model) it raises when `fit()` starts.
            `"auto"` is the recurrent recipe for a heavy split (keeping at most
            15% of the table's parameters, `compression` about 0.85 or more)
            whose vectors an LSTM, GRU or SimpleRNN reads (also in
            `Bidirectional`): `"consumer"` with a fixed basis (with
            `train_basis=None`) and CALR peak 1e-2, chosen on dev for the LSTM at
            p = 0.9, where it beat the plain SVD on RT (+0.23 against -2.73
            points of dev accuracy, 5 seeds, `split_probes_lstm.md`), R8 (-0.36
            against -0.51) and 20 Newsgroups (-3.03 against -4.27, 3 seeds,
            `frontier_lstm.jsonl`) and lost on BBC (-0.72 against +0.18); in
            LiteRT with int8 factors its test accuracy against the float32
            baseline was +0.11 against -1.42 points (RT), -0.35 against -0.54
            (R8), -2.74 against -6.08 (20NG). Otherwise
            (a DAN's mean, a `Dense` or `Conv1D`, no consumer found, lighter
            splits, `calibration_data`) `"auto"` is `"none"`; it never raises.
            `result.consumer` and `result.train_basis` say what was done.
            Defaults to `"auto"`.

    Raises:
        ValueError: in the constructor, for a bad `rank`, `compression`, `energy`,
            `at_epoch`, `learning_rate`, `calibration_steps` or `weighting`
            (also `weighting="consumer"` with `calibration_data`), or not
            exactly one of `rank`, `compression` and `energy`, or a backend other
            than TensorFlow; when `fit()` starts (before any training), for no such
            layer (the message lists the model's Embedding layers), a layer that
            is not a `keras.layers.Embedding` (or a quantized or LoRA one, or a
            subclass that overrides methods the split would drop), for
            `weighting="consumer"` with no linear layer reading the vectors, a
            rank that is not below `min(V, D)` or saves no parameters, a callback that
            already split, or a second `EmbeddingFactorization` for the same
            layer; at the split (before the optimizer is replaced), for a table
            with NaN or infinite values (training diverged), or calibration
            batches that are not `(x, y)` pairs.
        TypeError: for arguments of the wrong type, e.g. a `coordinate_with` that
            is not a list or tuple of callbacks.

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
    model.save("model.keras")  # holds a tl.LowRankEmbedding
    ```
    """

    # Where the singular values go (measured by benchmarks/split_defaults.py), and
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
        bands: int | Sequence[int] | str = "auto",
        token_counts: Sequence[float] | np.ndarray | None = None,
        learning_rate: str
        | float
        | keras.optimizers.schedules.LearningRateSchedule
        | None = _LEARNING_RATE_DEFAULT,
        verbose: int = 1,
        coordinate_with: Sequence[keras.callbacks.Callback] = (),
        calibration_data=None,
        calibration_steps: int = 100,
        train_basis: bool | str | None = _TRAIN_BASIS_DEFAULT,
        weighting: str = _WEIGHTING_DEFAULT,
    ):
        super().__init__()
        _check_arguments(
            layer_name,
            rank=rank,
            compression=compression,
            energy=energy,
            at_epoch=at_epoch,
            learning_rate=learning_rate,
            verbose=verbose,
        )
        _check_bands(bands, token_counts, energy=energy)
        check_calibration(calibration_data, calibration_steps)
        _check_train_basis(train_basis)
        _check_weighting(weighting, calibration_data)
        self.coordinate_with = _check_coordinate_with(coordinate_with)
        self.layer_name = layer_name
        self.rank = None if rank is None else int(rank)
        self.compression = compression
        self.energy = energy
        self.at_epoch = int(at_epoch)
        if bands == "auto" and energy is not None:
            bands = 1  # `energy` picks one rank for the whole table's spectrum.
        self.bands = _normalize_bands(bands)
        self.token_counts = token_counts
        self.learning_rate = learning_rate
        self.verbose = verbose
        self.calibration_data = calibration_data
        self.calibration_steps = int(calibration_steps)
        self.train_basis = train_basis
        self.weighting = weighting
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
        _check_rank(self._layer, rank=self.rank, compression=self.compression)
        _check_band_budget(
            self._layer,
            rank=self.rank,
            compression=self.compression,
            bands=self.bands,
            token_counts=self.token_counts,
        )
        if self.weighting == "consumer" and self.result is None:
            check_consumer(model, self._layer)
        self._checkpoint_best = _checkpoint_bests(self.coordinate_with)
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

    def on_train_batch_begin(self, batch, logs=None):
        self._markers.write_ready()

    def on_epoch_begin(self, epoch, logs=None):
        self._markers.write_ready()
        if self.result is not None:
            return
        if epoch >= self.at_epoch:
            self._split(epoch)
        elif epoch == self.at_epoch - 1 and not (self.params or {}).get("steps"):
            self._epoch_start_iterations = _iterations(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self._markers.write_ready()
        if self.result is None and self._epoch_start_iterations is not None:
            self._steps_in_last_epoch = (
                _iterations(self.model) - self._epoch_start_iterations
            )

    def on_train_end(self, logs=None):
        self._markers.write_ready()  # Unless `BackupAndRestore` deleted the folder.
        epochs = (self.params or {}).get("epochs")
        if self.result is None and epochs is not None and self.at_epoch < epochs:
            logger.warning(
                "Training ended before epoch %d completed: layer '%s' was not "
                "factorized (did a callback such as EarlyStopping stop training?).",
                self.at_epoch,
                self._layer.name if self._layer is not None else self.layer_name,
            )

    # ---------------------------------------------------------------- helpers

    def _recipe(self, kept: float) -> tuple[str, bool]:
        """`(weighting, fixed_basis)` for a split keeping `kept` of the parameters.

        `weighting` is `"none"` or `"consumer"` (`"auto"` resolved for this model
        and budget: `arguments._resolve_weighting`).
        """
        auto = self.weighting == "auto"
        weighting = _resolve_weighting(
            self.weighting,
            kept,
            calibrated=self.calibration_data is not None,
            recurrent=auto and is_recurrent(self.model, self._layer),
        )
        recipe = auto and weighting == "consumer"
        return weighting, not _resolve_train_basis(self.train_basis, kept, recipe)

    def _prepare_split(
        self, kept: float, covariance
    ) -> tuple[np.ndarray | None, str | None, bool]:
        """Weights the split and installs the optimizer for a split keeping `kept`.

        Returns the covariance weighting the SVD (`covariance`, the calibration
        pass's, or the consumer's kernel's), the consumer's name and `fixed_basis`.
        """
        weighting, fixed_basis = self._recipe(kept)
        consumer = None
        if weighting == "consumer":  # Never with `calibration_data`.
            covariance, consumer = consumer_weighting(self.model, self._layer)
        self._install_fresh_optimizer(kept, covariance is not None, fixed_basis)
        return covariance, consumer, fixed_basis

    def _install_fresh_optimizer(
        self, kept: float, calibrated: bool, fixed_basis: bool
    ) -> None:
        """Installs the fresh optimizer and its schedule."""

        def steps_per_epoch() -> int:
            return _steps_per_epoch(self.params, self._steps_in_last_epoch)

        _install_fresh_optimizer(
            self.model,
            self.learning_rate,
            steps_per_epoch,
            kept,
            calibrated,
            fixed_basis,
        )

    def _split(self, epoch: int) -> None:
        start = time.perf_counter()
        layer = self._layer
        model = self.model
        input_dim, output_dim = layer.input_dim, layer.output_dim
        _check_finite_table(layer, epoch)  # Before anything changes.
        # The calibration pass needs the full model and its compiled loss.
        covariance, batches = split_covariance(
            self.model, layer, self.calibration_data, self.calibration_steps
        )

        def rank_at_split(table):
            return _rank_at_split(
                layer,
                table,
                rank=self.rank,
                compression=self.compression,
                energy=self.energy,
            )

        # The fresh optimizer goes in before the SVD, so that the old one's slots
        # (as large as the table each, for Adam) are freed first; its default
        # schedule depends on the budget, so the rank comes first (`energy=`
        # needs the table's spectrum for it, computed with the old slots alive).
        if self.energy is None:
            rank, wanted = rank_at_split(None)
            covariance, consumer, fixed_basis = self._prepare_split(
                _kept_fraction(rank, input_dim, output_dim), covariance
            )
        # One float32 copy (`ops.convert_to_numpy` would make two on the way).
        table = np.asarray(layer.embeddings)
        if self.energy is not None:
            rank, wanted = rank_at_split(table)
            covariance, consumer, fixed_basis = self._prepare_split(
                _kept_fraction(rank, input_dim, output_dim), covariance
            )
        if wanted > rank:
            logger.warning(
                "energy=%s needs rank %d for layer '%s', which would not save "
                "parameters; using rank %d.",
                self.energy,
                wanted,
                layer.name,
                rank,
            )
        factors = plan_factors(
            table,
            rank=rank,
            bands=self.bands,
            token_counts=self.token_counts,
            svd_method=self._svd_method,
            balanced=self._balanced,
            gradient_covariance=covariance,
        )
        del table, covariance
        if fixed_basis:
            factors = to_table_scale(factors)
        with model.distribute_strategy.scope():
            install_factors(layer, factors, train_basis=not fixed_basis)
        _finish_swap(model)
        reset = _reset_siblings(self.coordinate_with, self._checkpoint_best)
        self._markers = _SplitMarkers(
            _backup_dirs(self.coordinate_with),
            _marker_payload(layer, epoch),
        )
        self.result = FactorizationResult(
            epoch=epoch,
            layer_name=layer.name,
            input_dim=input_dim,
            output_dim=output_dim,
            rank=rank,
            params_before=input_dim * output_dim,
            params_after=factors.num_parameters,
            relative_error=factors.relative_error,
            seconds=time.perf_counter() - start,
            boundaries=factors.boundaries,
            band_ranks=factors.ranks,
            calibration_batches=batches,
            train_basis=not fixed_basis,
            consumer=consumer,
        )
        del factors
        if self.verbose:
            logger.info(
                "%s Learning rate: %s. Restarted callbacks: %s.",
                self.result.describe(),
                _describe(model.optimizer),
                ", ".join(reset) or "none",
            )

    def _resume_from_backup(self) -> None:
        """Factorizes the fresh model if a `BackupAndRestore` backup is post-split.

        Runs from `set_params`, before any callback's `on_train_begin`, so that
        `BackupAndRestore` then loads the factorized weights, the fresh optimizer's
        state and its iteration count (the schedule position) into matching
        variables (`resume.resume_split`).
        """
        self.result = resume_split(
            self.model,
            self._layer,
            self.coordinate_with,
            lambda kept, fixed_basis: self._install_fresh_optimizer(
                kept,
                self.calibration_data is not None
                or self._recipe(kept)[0] == "consumer",
                fixed_basis,
            ),
            verbose=self.verbose,
        )
