"""`CyclicalAnnealedLearningRate`: the CALR schedule of Acharya et al. (AAAI 2019)."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from tflite_lowrank.utils.checks import python_number

# `peak <= floor` is tested with this relative slack: 1e-3 * 0.1 * 0.1 * 0.1 is
# 1.0000000000000002e-06, one rounding step above a floor written as 1e-6. The
# authors' restart is meant to fire when the annealed peak reaches the floor.
_RESTART_TOLERANCE = 1e-9
# A peak that needs more decays than this to reach the floor never restarts.
_MAX_DECAYS = 10_000


@keras.saving.register_keras_serializable(package="tflite_lowrank")
class CyclicalAnnealedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclically annealed learning rate (CALR): a triangular cycle whose peak decays.

    A triangular cyclical learning rate (Smith 2017) between a floor and a peak, where
    the peak is multiplied by `decay` at every epoch boundary and restarts at
    `initial_learning_rate` once it has fallen to the floor. This is the schedule of
    the authors' code (paper.md section 4), written as a pure function of the step:
    with `t = step + 1` (the authors count from 1, Keras optimizers from 0),
    `c = t mod (2 * step_size)` and `e = step // steps_per_epoch`,

    ```
    peak_e   = initial_learning_rate * decay ** j_e    (j_e: epochs since restart)
    lr(step) = floor_e + (peak_e - floor_e) * c / step_size     if c < step_size
             = peak_e - (peak_e - floor_e) * (c - step_size) / step_size  otherwise
    ```

    `floor_e` is `minimal_learning_rate` until the first restart and
    `restart_minimal_learning_rate` after it. A restart happens at the first epoch
    boundary where the annealed peak is `<=` the floor (up to float rounding); it
    sets the peak back to `initial_learning_rate` and the floor to
    `restart_minimal_learning_rate`. The triangle runs on the global step and is not
    reset at epoch boundaries, so, as in the authors' code, the rate jumps when the
    peak changes in the middle of a cycle unless `2 * step_size` divides
    `steps_per_epoch`. The defaults are the authors' fine-tuning configuration: peak
    1e-3, floor 1e-6, 1,000 iterations up and 1,000 down, peak times 0.1 per epoch,
    floor 1e-8 after a restart. With them the peaks of epochs 0, 1, 2, ... are 1e-3,
    1e-4, 1e-5, then (restart) 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, then 1e-3 again.

    The authors' 1,000-iteration half cycle assumes about 1,500 steps per epoch. For
    small datasets tie it to the epoch, e.g. `step_size=steps_per_epoch / 2` for one
    triangle per epoch (what `EmbeddingFactorization` installs by default).

    Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for
    Text Classification using Low Rank Matrix Factorization". AAAI 2019 (CALR, and
    `utils.get_triangular_lr` with the epoch loop of the authors' code). Smith.
    "Cyclical Learning Rates for Training Neural Networks". WACV 2017.

    Args:
        initial_learning_rate: Float. Peak of the first cycle (the upper bound before
            any decay), and the peak again after each restart. Defaults to `1e-3`.
        minimal_learning_rate: Float. Floor of the cycle until the first restart,
            `0 <= minimal_learning_rate < initial_learning_rate`. Defaults to `1e-6`
            (the authors' fine-tuning floor, `initial_learning_rate * decay**3`).
        step_size: Number. Steps of each half cycle (ramp up, then as many down);
            may be fractional. Defaults to `1000`.
        decay: Float in (0, 1]. Factor applied to the peak at each epoch boundary;
            `1.0` gives a plain triangular cycle that never restarts. Defaults to
            `0.1`.
        steps_per_epoch: Integer. Steps per epoch (`ceil(num_samples / batch_size)`),
            which places the epoch boundaries.
        restart_minimal_learning_rate: Float or `None`. Floor after a restart.
            `None` means `initial_learning_rate * decay**5`, as the authors' code
            does (1e-8 with the defaults). Defaults to `None`. A floor of 0 is
            never reached, so the peak then decays without restarts.
        name: String. Name of the schedule's operations. Defaults to
            `"CyclicalAnnealedLearningRate"`.

    Returns:
        Called with a step (scalar or array of any integer or float type), the
        learning rate at that step as a float32 tensor of the same shape.

    Raises:
        ValueError: if a rate is negative or not below `initial_learning_rate`,
            `step_size` or `steps_per_epoch` is not positive, or `decay` is not in
            (0, 1].
        TypeError: if an argument is not a number.

    Example:

    >>> schedule = CyclicalAnnealedLearningRate(steps_per_epoch=1500)
    >>> optimizer = keras.optimizers.Adam(learning_rate=schedule)
    >>> float(schedule(999))  # the first peak, at t = step + 1 = 1000
    0.0010000000474974513
    >>> rates = schedule(np.arange(10 * 1500))  # one value per step, e.g. to plot
    """

    def __init__(
        self,
        initial_learning_rate: float = 1e-3,
        minimal_learning_rate: float = 1e-6,
        step_size: float = 1000,
        decay: float = 0.1,
        *,
        steps_per_epoch: int,
        restart_minimal_learning_rate: float | None = None,
        name: str = "CyclicalAnnealedLearningRate",
    ):
        super().__init__()
        _check_number("initial_learning_rate", initial_learning_rate)
        if not initial_learning_rate > 0:
            raise ValueError(
                "`initial_learning_rate` must be > 0. "
                f"Received: initial_learning_rate={initial_learning_rate}"
            )
        _check_floor(
            "minimal_learning_rate", minimal_learning_rate, initial_learning_rate
        )
        _check_number("step_size", step_size)
        if not step_size > 0:
            raise ValueError(
                f"`step_size` must be > 0 (steps per half cycle). "
                f"Received: step_size={step_size}"
            )
        _check_number("decay", decay)
        if not 0 < decay <= 1:
            raise ValueError(
                "`decay` must be in (0, 1]: the factor applied to the peak at each "
                f"epoch. Received: decay={decay}"
            )
        if (
            isinstance(steps_per_epoch, bool)
            or not isinstance(steps_per_epoch, int | np.integer)
            or steps_per_epoch < 1
        ):
            raise ValueError(
                "`steps_per_epoch` must be a positive integer, e.g. "
                "`ceil(num_samples / batch_size)`. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        if restart_minimal_learning_rate is not None:
            _check_floor(
                "restart_minimal_learning_rate",
                restart_minimal_learning_rate,
                initial_learning_rate,
            )
        # NumPy numbers are stored as Python ones, for `get_config` (JSON).
        self.initial_learning_rate = python_number(initial_learning_rate)
        self.minimal_learning_rate = python_number(minimal_learning_rate)
        self.step_size = python_number(step_size)
        self.decay = python_number(decay)
        self.steps_per_epoch = python_number(steps_per_epoch)
        self.restart_minimal_learning_rate = python_number(
            restart_minimal_learning_rate
        )
        self.name = name
        self._restart_floor = (
            initial_learning_rate * decay**5
            if restart_minimal_learning_rate is None
            else restart_minimal_learning_rate
        )
        # Epochs with a decaying peak before the first restart, and between restarts.
        self._first_period = _epochs_until_restart(
            initial_learning_rate, minimal_learning_rate, decay
        )
        self._restart_period = _epochs_until_restart(
            initial_learning_rate, self._restart_floor, decay
        )

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, "float64")

            def constant(value):
                return ops.full_like(step, value)

            epoch = ops.floor(step / float(self.steps_per_epoch))
            first, period = self._first_period, self._restart_period
            if first is None:
                decays = epoch
                floor = constant(self.minimal_learning_rate)
            else:
                since_restart = epoch - float(first)
                if period is not None:
                    since_restart = ops.mod(since_restart, float(period))
                in_first = ops.less(epoch, float(first))
                decays = ops.where(in_first, epoch, since_restart)
                floor = ops.where(
                    in_first,
                    constant(self.minimal_learning_rate),
                    constant(self._restart_floor),
                )
            peak = self.initial_learning_rate * ops.power(constant(self.decay), decays)
            half = float(self.step_size)
            position = ops.mod(step + 1.0, 2.0 * half)
            ramp = 1.0 - ops.abs(position - half) / half
            return ops.cast(floor + (peak - floor) * ramp, "float32")

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "minimal_learning_rate": self.minimal_learning_rate,
            "step_size": self.step_size,
            "decay": self.decay,
            "steps_per_epoch": self.steps_per_epoch,
            "restart_minimal_learning_rate": self.restart_minimal_learning_rate,
            "name": self.name,
        }


def _check_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"`{name}` must be a number. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value}")


def _check_floor(name: str, value, initial_learning_rate: float) -> None:
    _check_number(name, value)
    if not 0 <= value < initial_learning_rate:
        raise ValueError(
            f"`{name}` must be in [0, initial_learning_rate) (the floor of the cycle). "
            f"Received: {name}={value}, initial_learning_rate={initial_learning_rate}"
        )


def _epochs_until_restart(peak: float, floor: float, decay: float) -> int | None:
    """Epoch boundaries until the decayed peak is `<= floor`; `None` if never.

    Multiplies by `decay` step by step as the authors' loop does, with a relative
    tolerance of `_RESTART_TOLERANCE` so that a peak one rounding error above the
    floor counts as having reached it. A floor of 0 is never reached (the authors'
    loop would restart only once the peak underflows to 0).
    """
    if decay >= 1.0 or floor <= 0.0:
        return None
    value = peak
    for epochs in range(1, _MAX_DECAYS + 1):
        value *= decay
        if value <= floor * (1.0 + _RESTART_TOLERANCE):
            return epochs
    return None
