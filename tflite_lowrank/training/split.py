"""The split itself: the SVD of a trained table and the swap to its factors.

`split_embedding` is what `EmbeddingFactorization` runs at the split (and
`split_now` outside `fit()`): it checks the table, runs the calibration pass, picks
the budget (`budget`, when the callback has an accuracy budget), installs the fresh
optimizer (before the SVD, so the old one's slots are freed first), computes the
factors (`factors.plan_factors`) and swaps them into the layer in place
(`tflite_lowrank.layers.swap`). `_Splitter` holds the callback's side of it: the
recipe resolved for the model, budget and training run (`resolve_recipe`), the fresh
optimizer, the resume from a backup and the basis damping of a hedged recipe or of
one that holds the basis fixed at first (`optimizer.BasisDamping`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np

from tflite_lowrank.factorization.svd import _kept_fraction
from tflite_lowrank.layers.factors import (
    install_factors,
    to_table_scale,
)
from tflite_lowrank.training.arguments import (
    _rank_at_split,
    _resolve_train_basis,
    _resolve_weighting,
)
from tflite_lowrank.training.budget import choose_compression, settings_factors
from tflite_lowrank.training.calibration import split_covariance
from tflite_lowrank.training.consumer import (
    consumer_kind,
    consumer_weighting,
    fits_training_data,
    training_accuracy,
)
from tflite_lowrank.training.coordination import (
    _backup_dirs,
    _marker_payload,
    _reset_siblings,
    _SplitMarkers,
)
from tflite_lowrank.training.guards import _check_finite_table, _warn_if_not_split
from tflite_lowrank.training.optimizer import (
    BasisDamping,
    _describe,
    _finish_swap,
    _install_fresh_optimizer,
    _steps_per_epoch,
)
from tflite_lowrank.training.recipe import FactorizationResult, SplitRecipe
from tflite_lowrank.training.resume import resume_split

logger = logging.getLogger("tflite_lowrank.training.callback")


@dataclasses.dataclass(frozen=True)
class _Resolved:
    """The recipe for one split: weighting and basis resolved for model and budget."""

    weighting: str  # "none" or "consumer"
    fixed_basis: bool
    basis_scale: float  # < 1: the basis trains, damped (a hedged recipe)
    frozen_epochs: int = 0  # > 0: a trained basis is held fixed this long first

    @property
    def table_scale(self) -> bool:
        """Codes at the table's scale over a unit-norm basis (fixed, hedged or held
        fixed first)."""
        return self.fixed_basis or self.basis_scale < 1.0 or self.frozen_epochs > 0


def split_embedding(
    model,
    layer,
    settings,
    epoch: int,
    *,
    prepare: Callable[[float, np.ndarray | None], tuple],
) -> FactorizationResult:
    """Splits `layer` of `model` at `epoch` as `settings` (the callback) says.

    `prepare(kept, covariance)` weights the split and installs the fresh optimizer
    for a split keeping `kept` of the parameters; it returns
    `(covariance, consumer, resolved)`.
    """
    start = time.perf_counter()
    input_dim, output_dim = layer.input_dim, layer.output_dim
    _check_finite_table(layer, epoch)  # Before anything changes.
    # The calibration pass needs the full model and its compiled loss.
    covariance, batches = split_covariance(
        model, layer, settings.calibration_data, settings.calibration_steps
    )
    compression, evaluations = settings.compression, ()
    if settings.max_dev_drop is not None:
        compression, evaluations = choose_compression(model, layer, settings)

    def rank_at_split(table):
        return _rank_at_split(
            layer,
            table,
            rank=settings.rank,
            compression=compression,
            energy=settings.energy,
        )

    # The fresh optimizer goes in before the SVD, so that the old one's slots
    # (as large as the table each, for Adam) are freed first; its default
    # schedule depends on the budget, so the rank comes first (`energy=`
    # needs the table's spectrum for it, computed with the old slots alive).
    if settings.energy is None:
        rank, wanted = rank_at_split(None)
        covariance, consumer, resolved = prepare(
            _kept_fraction(rank, input_dim, output_dim), covariance
        )
    # One float32 copy (`ops.convert_to_numpy` would make two on the way).
    table = np.asarray(layer.embeddings)
    if settings.energy is not None:
        rank, wanted = rank_at_split(table)
        covariance, consumer, resolved = prepare(
            _kept_fraction(rank, input_dim, output_dim), covariance
        )
    if wanted > rank:
        logger.warning(
            "energy=%s needs rank %d for layer '%s', which would not save "
            "parameters; using rank %d.",
            settings.energy,
            wanted,
            layer.name,
            rank,
        )
    factors = settings_factors(table, rank, settings, covariance)
    del table, covariance
    if resolved.table_scale:
        factors = to_table_scale(factors)
    with model.distribute_strategy.scope():
        install_factors(
            layer,
            factors,
            train_basis=not resolved.fixed_basis,
            code_quantization=settings.recipe.quantization_aware,
        )
    _finish_swap(model)
    result = FactorizationResult(
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
        train_basis=not resolved.fixed_basis,
        consumer=consumer,
        recipe=_reported_recipe(settings.recipe, resolved),
        compression=compression,
        budget_evaluations=evaluations,
    )
    del factors
    return result


def resolve_recipe(
    model, layer, settings, kept: float, fit_accuracy: float | None = None
) -> _Resolved:
    """The recipe of `settings` (the callback) for a split keeping `kept` of a model
    whose training accuracy was `fit_accuracy` (None: unknown).

    `weighting="auto"` is resolved for this model and budget
    (`arguments._resolve_weighting`), `train_basis` after it.
    """
    recipe: SplitRecipe = settings.recipe
    auto = recipe.weighting == "auto"
    fitted = (
        auto
        and recipe.train_basis is None
        and fits_training_data(fit_accuracy, recipe.fixed_basis_above)
    )
    kind = consumer_kind(model, layer) if auto else None
    weighting = _resolve_weighting(
        recipe.weighting,
        kept,
        calibrated=settings.calibration_data is not None,
        fixed_recipe=kind == "recurrent" or (fitted and kind is not None),
    )
    chose_recipe = auto and weighting == "consumer"
    trained = _resolve_train_basis(recipe.train_basis, kept, chose_recipe)
    return _Resolved(
        weighting=weighting,
        fixed_basis=not trained,
        basis_scale=recipe.basis_learning_rate if trained else 1.0,
        frozen_epochs=recipe.basis_frozen_epochs if trained else 0,
    )


def _could_resolve_to(recipe: SplitRecipe, recorded: SplitRecipe) -> bool:
    """Whether `recorded` (a split's resolved recipe) is `recipe` with its automatic
    choices made (those can depend on the training run, which a resumed run has
    not seen: `fixed_basis_above`)."""
    free = {}
    if recipe.weighting == "auto":
        free["weighting"] = recorded.weighting
    if recipe.train_basis in (None, "auto"):
        free["train_basis"] = recorded.train_basis
    if not recorded.train_basis:
        free["basis_learning_rate"] = recorded.basis_learning_rate
        free["basis_frozen_epochs"] = recorded.basis_frozen_epochs
    return recipe.replace(**free) == recorded


def _reported_recipe(recipe: SplitRecipe, resolved: _Resolved) -> SplitRecipe:
    """`recipe` as the split ran it: weighting and basis resolved."""
    return recipe.replace(
        weighting=resolved.weighting,
        train_basis=not resolved.fixed_basis,
        basis_learning_rate=resolved.basis_scale,
        basis_frozen_epochs=resolved.frozen_epochs,
    )


class _Splitter:
    """The callback's side of the split (mixed into `EmbeddingFactorization`)."""

    _damping: BasisDamping | None = None
    _accuracies: dict | None = None  # Pre-split epoch (0-based) -> training accuracy.
    _fit_accuracy: float | None = None  # That of the epoch whose weights are split.

    def _warn_not_split(self) -> None:
        """At the end of a `fit()` that ended before the split (`guards`)."""
        name = self._layer.name if self._layer is not None else self.layer_name
        _warn_if_not_split(self.at_epoch, self.params, name)

    def _start_epoch_after_split(self, epoch: int) -> None:
        """Sets the basis damping's scale for `epoch` (`basis_frozen_epochs`)."""
        if self._damping is not None:
            self._damping.start_epoch(epoch)

    def _note_epoch(self, epoch: int, logs) -> None:
        """Records a pre-split epoch's training accuracy (`training_accuracy`)."""
        if self._accuracies is None:
            self._accuracies = {}
        self._accuracies[epoch] = training_accuracy(logs)

    def _recipe(self, kept: float) -> _Resolved:
        return resolve_recipe(self.model, self._layer, self, kept, self._fit_accuracy)

    def _prepare_split(self, kept: float, covariance) -> tuple:
        """Weights the split and installs the optimizer for a split keeping `kept`.

        Returns the covariance weighting the SVD (`covariance`, the calibration
        pass's, or the consumer's kernel's), the consumer's name and the resolved
        recipe.
        """
        resolved = self._recipe(kept)
        consumer = None
        if resolved.weighting == "consumer":  # Never with `calibration_data`.
            covariance, consumer = consumer_weighting(self.model, self._layer)
        self._install_fresh_optimizer(
            kept, covariance is not None, resolved.table_scale
        )
        return covariance, consumer, resolved

    def _install_fresh_optimizer(self, kept: float, calibrated: bool, fixed_basis):
        """Installs the fresh optimizer and its schedule."""
        _install_fresh_optimizer(
            self.model,
            self.learning_rate,
            lambda: _steps_per_epoch(self.params, self._steps_in_last_epoch),
            kept,
            calibrated,
            fixed_basis,
            coordinate_with=self.coordinate_with,
        )

    def _split(self, epoch: int) -> None:
        model = self.model
        restored = None
        if self._best is not None:
            restored = self._best.restore(model, self.verbose)
        # The epoch whose weights are split: `restored` counts from 1, as Keras'.
        # Its training accuracy: this run's logs, or the best copy's record (which
        # a run restarted from a backup loaded with the weights).
        source = (restored if restored is not None else epoch) - 1
        self._fit_accuracy = (self._accuracies or {}).get(source)
        if self._best is not None and self._best.epoch == source:
            self._fit_accuracy = self._best.accuracy
        self.result = split_embedding(
            model, self._layer, self, epoch, prepare=self._prepare_split
        )
        if self._best is not None:
            self._best.clear()
            self.result = dataclasses.replace(self.result, weights_from_epoch=restored)
        self._start_damping()
        reset = _reset_siblings(self.coordinate_with, self._checkpoint_best)
        self._markers = _SplitMarkers(
            _backup_dirs(self.coordinate_with),
            {
                **_marker_payload(self._layer, epoch),
                "recipe": self.result.recipe.get_config(),
            },
        )
        if self.verbose:
            logger.info(
                "%s Recipe: %s. Learning rate: %s. Restarted callbacks: %s.",
                self.result.describe(),
                self.result.recipe.describe(),
                _describe(model.optimizer),
                ", ".join(reset) or "none",
            )

    def _start_damping(self) -> None:
        """The damping of the basis updates of a hedged recipe, or of one that holds
        the basis fixed for its first epochs after the split (`BasisDamping`)."""
        recipe = self.result.recipe
        scale, frozen = recipe.basis_learning_rate, recipe.basis_frozen_epochs
        if self.result.train_basis and (scale < 1.0 or frozen > 0):
            self._damping = BasisDamping(self._layer, scale, self.result.epoch, frozen)

    def _resume_from_backup(self) -> None:
        """Factorizes the fresh model if a `BackupAndRestore` backup is post-split.

        Runs from `set_params`, before any callback's `on_train_begin`, so that
        `BackupAndRestore` then loads the factorized weights, the fresh optimizer's
        state and its iteration count (the schedule position) into matching
        variables (`resume.resume_split`). The recipe is the one the marker
        recorded (a backup of a split run with another recipe gets a warning).
        """
        resolved: list[_Resolved] = []

        def install(kept: float, fixed_basis: bool) -> None:
            recipe = self._recipe(kept)
            resolved.append(recipe)
            self._install_fresh_optimizer(
                kept,
                self.calibration_data is not None or recipe.weighting == "consumer",
                fixed_basis or recipe.table_scale,
            )

        result = resume_split(
            self.model,
            self._layer,
            self.coordinate_with,
            install,
            verbose=self.verbose,
        )
        if result is None:
            return
        recipe = _reported_recipe(self.recipe, resolved[0])
        recorded = result.recipe
        if recorded is not None and recorded != recipe:
            if not _could_resolve_to(self.recipe, recorded):
                logger.warning(
                    "The backup was written by a split with recipe %s; this callback's "
                    "is %s. Resuming with the backup's.",
                    recorded,
                    recipe,
                )
            recipe = recorded
        self.result = dataclasses.replace(result, recipe=recipe)
        self._start_damping()
