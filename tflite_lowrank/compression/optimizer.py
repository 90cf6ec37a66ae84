"""The fresh optimizer and learning-rate schedule `EmbeddingFactorization` installs.

Private helpers of `tflite_lowrank.compression.callback`: `_install_fresh_optimizer`
gives the model a new optimizer of the same class and configuration with the learning
rate of `_new_learning_rate` (by default the CALR schedule below, whose epoch length is
`_steps_per_epoch`: `fit()`'s steps, or the optimizer `_iterations` of the last epoch),
`_finish_swap` builds it and rebuilds the model's train, test and predict functions
after the swap, and `_describe` names the optimizer and its rate for the log.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from tflite_lowrank.compression.schedules import CyclicalAnnealedLearningRate

# The authors' fine-tuning CALR: peak 1e-3, floor 1e-6 (1e-8 after a restart), peak
# times 0.1 per epoch. Only the half cycle changes: half an epoch instead of 1,000
# steps (see `EmbeddingFactorization` and benchmarks/split_defaults.py).
_CALR_PEAK = 1e-3
_CALR_FLOOR = 1e-6
_CALR_DECAY = 0.1


def _new_learning_rate(learning_rate, optimizer, steps_per_epoch: Callable[[], int]):
    """Learning rate (float or schedule) for the fresh optimizer."""
    if learning_rate is None:
        return optimizer.get_config()["learning_rate"]
    if isinstance(learning_rate, str):
        steps = steps_per_epoch()  # Called only here: it raises when unknown.
        return CyclicalAnnealedLearningRate(
            initial_learning_rate=_CALR_PEAK,
            minimal_learning_rate=_CALR_FLOOR,
            step_size=steps / 2,
            decay=_CALR_DECAY,
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
    model, learning_rate, steps_per_epoch: Callable[[], int]
) -> None:
    """Gives the model a new optimizer of the same class, config and wrapping."""
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
    config["learning_rate"] = _new_learning_rate(learning_rate, inner, steps_per_epoch)
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


def _finish_swap(model) -> None:
    with model.distribute_strategy.scope():
        model.optimizer.build(model.trainable_variables)
        model.make_train_function(force=True)
        model.make_test_function(force=True)
        model.make_predict_function(force=True)


def _iterations(model) -> int:
    return int(ops.convert_to_numpy(model.optimizer.iterations))


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
