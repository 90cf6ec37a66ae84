"""The fresh optimizer and learning-rate schedule `EmbeddingFactorization` installs.

Private helpers of `tflite_lowrank.training.callback`: `_install_fresh_optimizer`
gives the model a new optimizer of the same class and configuration with the learning
rate of `_new_learning_rate` (by default the CALR schedule below, whose epoch length is
`_steps_per_epoch`: `fit()`'s steps, or the optimizer `_iterations` of the last epoch),
`_finish_swap` builds it and rebuilds the model's train, test and predict functions
after the swap, and `_describe` names the optimizer and its rate for the log. The
Keras internals they need are in `keras_adapter`.

A `ReduceLROnPlateau` cannot change a schedule (Keras refuses to set such an
optimizer's rate). When one is coordinated and the new rate is a schedule, the fresh
optimizer gets a float rate instead, and `_drive_learning_rate` (called by the
callback before each training batch) sets it to `schedule(step) * scale`, where
`scale` starts at 1 and is multiplied by the fraction by which anyone else (the
plateau) lowered the rate since the last batch (`_ScheduleDriver`).

`BasisDamping` scales the optimizer's steps of the basis: the hedged recipe's basis
trains after the split at a fraction `s` of the rate (after each training batch, the
basis variables `embeddings_b*` move `s` times as far as the optimizer moved them,
`B <- B_before + s (B_after - B_before)`), and `basis_frozen_epochs` holds it fixed
(`s = 0`) for the first epochs. This works with any optimizer (a scaled gradient
would not: Adam's update does not depend on the gradient's scale) and leaves the
layer, its saved files and their conversion unchanged. With
`fit(steps_per_execution=n)` the batch hooks run every `n` steps, so the damping
applies to the update of `n` steps at a time.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

from tflite_lowrank._keras import adapter
from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate

# Named CALR settings (peak, floor, peak decay per epoch), all with a half cycle of
# half an epoch (not the authors' 1,000 steps: benchmarks/results/split_defaults.md).
# "calr" depends on the kept fraction of the table's parameters. Both settings were
# chosen on dev across four datasets: peak 1e-2 for splits keeping at most 15%
# (p >= 0.85; benchmarks/results/recipe_study.md at p = 0.9, confirmed by
# calr_budget.md), peak 2e-3 with a shallow cycle (floor 5e-4, a quarter of the
# peak) for lighter splits (calr_budget.md at p = 0.5 and 0.8: +0.83 and +0.61
# points of mean dev accuracy over peak 1e-2, the default before, and +0.43 and
# +0.44 over the floor 2e-6 of "calr_peak_2e-3", the light default after that).
# "calr_peak_1e-2" is peak 1e-2 at every budget; "calr_paper" the authors'
# fine-tuning values. A heavy split weighted
# by calibration batches starts closer to the trained model and retrains at peak 3e-3
# (calibration_study.md: +0.31 points of mean dev accuracy over peak 1e-2 at p = 0.9);
# so does one weighted by its consumer's kernel (`weighting="consumer"`;
# split_probes.md: +0.14 over peak 1e-2 for the same weighting, 3 seeds).
_CALR_KEPT_THRESHOLD = 0.15
_CALR_HEAVY_SPLIT = (1e-2, 1e-5, 0.8)
_CALR_HEAVY_CALIBRATED_SPLIT = (3e-3, 3e-6, 0.8)
_CALR_LIGHT_SPLIT = (2e-3, 5e-4, 0.8)
# With a fixed basis (`train_basis=False`) the codes retrain like rows of the table:
# peak 1e-2 at every budget (benchmarks/results/split_probes.md: +0.47 and +0.68
# points of mean dev accuracy over the full table's own retraining CALR, which
# decays tenfold per epoch, at p = 0.5 and 0.8).
_CALR_FIXED_BASIS = _CALR_HEAVY_SPLIT
_CALR_SETTINGS = {
    "calr_peak_1e-2": _CALR_HEAVY_SPLIT,
    "calr_peak_2e-3": (2e-3, 2e-6, 0.8),
    "calr_paper": (1e-3, 1e-6, 0.1),
}


def _calr_settings(
    name: str, kept: float, calibrated: bool = False, fixed_basis: bool = False
) -> tuple[float, float, float]:
    """(peak, floor, decay) of the named CALR for a split keeping `kept` of the table.

    `kept` is the fraction of the table's parameters the factors keep (about
    `1 - compression`); only `"calr"` depends on it, on `calibrated` (a split
    weighted by calibration batches) and on `fixed_basis` (`train_basis=False`).
    """
    if name in _CALR_SETTINGS:
        return _CALR_SETTINGS[name]
    if fixed_basis:
        return _CALR_FIXED_BASIS
    if kept > _CALR_KEPT_THRESHOLD:
        return _CALR_LIGHT_SPLIT
    return _CALR_HEAVY_CALIBRATED_SPLIT if calibrated else _CALR_HEAVY_SPLIT


def _new_learning_rate(
    learning_rate,
    optimizer,
    steps_per_epoch: Callable[[], int],
    kept: float,
    calibrated: bool = False,
    fixed_basis: bool = False,
):
    """Learning rate (float or schedule) for the fresh optimizer.

    `kept`: the fraction of the table's parameters the split keeps, which chooses
    the default CALR's settings (with `calibrated` and `fixed_basis`).
    """
    if learning_rate is None:
        return optimizer.get_config()["learning_rate"]
    if isinstance(learning_rate, str):
        steps = steps_per_epoch()  # Called only here: it raises when unknown.
        peak, floor, decay = _calr_settings(
            learning_rate, kept, calibrated, fixed_basis
        )
        return CyclicalAnnealedLearningRate(
            initial_learning_rate=peak,
            minimal_learning_rate=floor,
            step_size=steps / 2,
            decay=decay,
            steps_per_epoch=steps,
        )
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        # A copy, so that the callback's own object is never shared.
        return type(learning_rate).from_config(learning_rate.get_config())
    return float(learning_rate)


def _steps_per_epoch(params, steps_in_last_epoch: int | None) -> int:
    """Steps per epoch for the CALR schedule: `fit()`'s, or the last epoch's."""
    steps = (params or {}).get("steps")
    if steps:
        return int(steps)
    # A dataset of unknown size: the optimizer iterations of the last epoch,
    # the clock the schedule runs on.
    if steps_in_last_epoch:
        return steps_in_last_epoch
    raise ValueError(
        "`EmbeddingFactorization` needs the number of steps per epoch for its "
        "learning-rate schedule, and `fit()` does not know it (a dataset of "
        "unknown size). Pass `steps_per_epoch` to `fit()`, or a float or "
        "schedule as `learning_rate`. Received: steps=None"
    )


def _install_fresh_optimizer(
    model,
    learning_rate,
    steps_per_epoch: Callable[[], int],
    kept: float,
    calibrated: bool = False,
    fixed_basis: bool = False,
    *,
    coordinate_with: Sequence[keras.callbacks.Callback] = (),
) -> None:
    """Gives the model a new optimizer of the same class, config and wrapping.

    `kept`: the fraction of the table's parameters the split keeps (chooses the
    default CALR's settings, with `calibrated`: a split weighted by calibration
    batches, and `fixed_basis`: factors whose bases are not trained). If
    `coordinate_with` holds a `ReduceLROnPlateau` and the new rate is a schedule,
    the optimizer gets a float rate that `_drive_learning_rate` sets along the
    schedule before each batch (see the module docstring).
    """
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
    rate = _new_learning_rate(
        learning_rate, inner, steps_per_epoch, kept, calibrated, fixed_basis
    )
    driver = None
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) and any(
        isinstance(cb, keras.callbacks.ReduceLROnPlateau) for cb in coordinate_with
    ):
        driver = _ScheduleDriver(rate)
        rate = driver.value(0)  # A float: `ReduceLROnPlateau` can set it.
    config["learning_rate"] = rate
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
    adapter.reset_step_functions(model)
    model.optimizer = optimizer
    adapter.set_compiled_optimizer(model, compile_optimizer)
    if driver is not None:
        _DRIVERS[compile_optimizer] = driver


def _finish_swap(model) -> None:
    with model.distribute_strategy.scope():
        model.optimizer.build(model.trainable_variables)
        adapter.rebuild_step_functions(model)


def _iterations(model) -> int:
    return int(ops.convert_to_numpy(model.optimizer.iterations))


def _describe(optimizer) -> str:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    driver = _DRIVERS.get(inner)
    rate = driver.schedule if driver else adapter.learning_rate_object(inner)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config = rate.get_config()
        config.pop("name", None)
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        rate = f"{type(rate).__name__}({arguments})"
        if driver:
            rate += ", set before each batch and scaled by ReduceLROnPlateau"
    else:
        rate = f"{float(ops.convert_to_numpy(rate)):.3g}"
    return f"{type(inner).__name__}, learning rate {rate}"


# ----------------------------------------------- a schedule ReduceLROnPlateau scales

# The optimizers whose float rate follows a schedule, and their drivers (weakly: a
# driver lives as long as its optimizer).
_DRIVERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Schedule values computed at once (one call of the schedule on a range of steps).
_WINDOW = 512


def _drive_learning_rate(model) -> None:
    """Before a training batch: sets a driven optimizer's rate for this step."""
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    driver = _DRIVERS.get(inner) if inner is not None else None
    if driver is not None:
        driver.before_step(inner)


class _ScheduleDriver:
    """Sets a float learning rate to `schedule(step) * scale` before each step.

    The optimizer uses the rate of its variable, which `ReduceLROnPlateau` may
    change between batches. Before each step the driver reads it: if it is no
    longer the value the driver set, `scale` is multiplied by the ratio (a
    reduction by `factor` multiplies it by `factor`, or less if `min_lr` clipped
    the reduction). Then the variable is set to `schedule(step) * scale`, where
    `step` is the optimizer's iteration count, the step a schedule would be called
    with. The first call after a resume from a backup (a step count above 0) reads
    `scale` from the restored variable: `rate / schedule(step - 1)`.

    With `fit(steps_per_execution=n)` batches begin every `n` steps, so the rate
    follows the schedule `n` steps at a time.
    """

    def __init__(self, schedule):
        self.schedule = schedule
        self.scale = 1.0
        self._last: float | None = None
        self._window_start = 0
        self._window = np.empty(0)

    def value(self, step: int) -> float:
        """`schedule(step)` as a float (computed `_WINDOW` steps at a time)."""
        index = step - self._window_start
        if not 0 <= index < len(self._window):
            self._window_start, index = step, 0
            steps = np.arange(step, step + _WINDOW)
            try:
                window = np.asarray(ops.convert_to_numpy(self.schedule(steps)))
            except Exception:  # A schedule of scalar steps only.
                window = None
            if window is None or window.shape != steps.shape:
                window = np.array([float(ops.convert_to_numpy(self.schedule(step)))])
            self._window = window.astype(np.float64)
        return float(self._window[index])

    def before_step(self, optimizer) -> None:
        step = int(ops.convert_to_numpy(optimizer.iterations))
        current = float(ops.convert_to_numpy(optimizer.learning_rate))
        if self._last is None:
            previous = self.value(step - 1) if step > 0 else 0.0
            if previous > 0.0:  # Resumed: the backup holds the last rate set.
                self.scale = current / previous
        elif current != self._last and self._last > 0.0:
            self.scale *= current / self._last
        optimizer.learning_rate = self.value(step) * self.scale
        self._last = float(ops.convert_to_numpy(optimizer.learning_rate))


class BasisDamping:
    """Scales the updates of a factorized layer's basis variables by `scale`.

    Args:
        layer: The factorized layer (`LowRankEmbedding` or `BandedLowRankEmbedding`).
        scale: Float in (0, 1]. The basis' updates are multiplied by it.
        split_epoch: Integer. The epoch (0-based, as `fit()` counts) that began
            with the split.
        frozen_epochs: Integer. The updates of this many epochs from
            `split_epoch` on are multiplied by 0: the basis is held fixed.
    """

    def __init__(self, layer, scale: float, split_epoch: int = 0, frozen_epochs=0):
        self.scale = float(scale)
        self.frozen_until = int(split_epoch) + int(frozen_epochs)
        # Until `start_epoch` says otherwise (`split_now`, outside `fit()`).
        self._current = 0.0 if frozen_epochs > 0 else self.scale
        self.variables = [
            weight
            for weight in layer.trainable_weights
            if weight.name.startswith("embeddings_b")
        ]
        self._before: list[np.ndarray] | None = None

    def start_epoch(self, epoch: int) -> None:
        """Sets the scale of `epoch`'s updates: 0 before `frozen_until`."""
        self._current = 0.0 if epoch < self.frozen_until else self.scale

    def before_batch(self) -> None:
        """Remembers the basis before the optimizer's step."""
        if self._current < 1.0:
            self._before = [keras.ops.convert_to_numpy(v) for v in self.variables]

    def after_batch(self) -> None:
        """Moves the basis back to the current scale of the step the optimizer took."""
        if self._before is None:
            return
        for variable, before in zip(self.variables, self._before, strict=True):
            after = keras.ops.convert_to_numpy(variable)
            variable.assign(before + self._current * (after - before))
        self._before = None
