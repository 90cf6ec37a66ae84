"""The fresh optimizer and learning-rate schedule `EmbeddingFactorization` installs.

Private helpers of `tflite_lowrank.training.callback`: `_install_fresh_optimizer`
gives the model a new optimizer of the same class and configuration with the learning
rate of `_new_learning_rate` (by default the CALR schedule below, whose epoch length is
`_steps_per_epoch`: `fit()`'s steps, or the optimizer `_iterations` of the last epoch),
`_finish_swap` builds it and rebuilds the model's train, test and predict functions
after the swap, and `_describe` names the optimizer and its rate for the log. The
Keras internals they need are in `keras_adapter`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
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
) -> None:
    """Gives the model a new optimizer of the same class, config and wrapping.

    `kept`: the fraction of the table's parameters the split keeps (chooses the
    default CALR's settings, with `calibrated`: a split weighted by calibration
    batches, and `fixed_basis`: factors whose bases are not trained).
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
    config["learning_rate"] = _new_learning_rate(
        learning_rate, inner, steps_per_epoch, kept, calibrated, fixed_basis
    )
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


def _finish_swap(model) -> None:
    with model.distribute_strategy.scope():
        model.optimizer.build(model.trainable_variables)
        adapter.rebuild_step_functions(model)


def _iterations(model) -> int:
    return int(ops.convert_to_numpy(model.optimizer.iterations))


def _describe(optimizer) -> str:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    rate = adapter.learning_rate_object(inner)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config = rate.get_config()
        config.pop("name", None)
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        rate = f"{type(rate).__name__}({arguments})"
    else:
        rate = f"{float(ops.convert_to_numpy(rate)):.3g}"
    return f"{type(inner).__name__}, learning rate {rate}"
