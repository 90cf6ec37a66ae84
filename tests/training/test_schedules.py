"""Tests of `CyclicalAnnealedLearningRate` (CALR), against the authors' pseudo-code."""

import keras
import numpy as np
import pytest

from tflite_lowrank.training.schedules import CyclicalAnnealedLearningRate


def reference_calr(
    num_epochs,
    steps_per_epoch,
    *,
    upper=1e-3,
    lower=1e-3 * 0.1**3,
    step_size=1000,
    decay=0.1,
    freq=1,
    restart_lower=None,
):
    """The authors' loop (paper.md section 4), followed literally, in float64."""
    ub, lb = upper, lower
    t = 0
    rates = []
    for epoch in range(num_epochs):
        if epoch > 0 and epoch % freq == 0:
            ub = ub * decay
        if ub <= lb:
            ub = upper
            lb = upper * decay**5 if restart_lower is None else restart_lower
        for _ in range(steps_per_epoch):
            t += 1
            c = t % (2 * step_size)
            if c < step_size:
                lr = lb + c * (ub - lb) / step_size
            else:
                lr = ub - (c - step_size) * (ub - lb) / step_size
            rates.append(lr)
    return np.array(rates)


def values(schedule, num_steps):
    return np.asarray(schedule(np.arange(num_steps)), dtype=np.float64)


def test_calr_defaults_are_the_authors_fine_tuning_config():
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=1500)
    assert schedule.get_config() == {
        "initial_learning_rate": 1e-3,
        "minimal_learning_rate": 1e-6,
        "step_size": 1000,
        "decay": 0.1,
        "steps_per_epoch": 1500,
        "restart_minimal_learning_rate": None,
        "name": "CyclicalAnnealedLearningRate",
    }


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 1e-6 + 1 * (1e-3 - 1e-6) / 1000),  # t = 1: one step above the floor
        (999, 1e-3),  # t = 1000 = step_size: the first peak
        (1499, 1e-3 - 500 * (1e-3 - 1e-6) / 1000),  # last step of epoch 0
        (1500, 1e-4 - 501 * (1e-4 - 1e-6) / 1000),  # epoch 1: peak 1e-4, mid-cycle
        (1999, 1e-6),  # t = 2000: back to the floor
        (2999, 1e-4),  # t = 3000: second peak, still in epoch 1 (peak 1e-4)
        (3000, 1e-5 - 1 * (1e-5 - 1e-6) / 1000),  # epoch 2: peak 1e-5
        (4500, 1e-8 + 501 * (1e-3 - 1e-8) / 1000),  # epoch 3: restart, floor 1e-8
        (6000, 1e-8 + 1 * (1e-4 - 1e-8) / 1000),  # epoch 4: t = 6001, c = 1
    ],
    ids=lambda v: str(v),
)
def test_calr_golden_values_by_hand(step, expected):
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=1500)
    np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, reference_kwargs, num_epochs, steps_per_epoch",
    [
        ({}, {}, 12, 1500),
        # The pretraining config: floor 1e-8 from the start, restart after 5 decays.
        (
            {"minimal_learning_rate": 1e-8},
            {"lower": 1e-3 * 0.1**5},
            14,
            700,
        ),
        # Small numbers: the half cycle does not divide the epoch, restarts often.
        (
            {
                "initial_learning_rate": 0.5,
                "minimal_learning_rate": 0.5 * 0.5**2,
                "step_size": 3,
                "decay": 0.5,
            },
            {"upper": 0.5, "lower": 0.5 * 0.5**2, "step_size": 3, "decay": 0.5},
            30,
            7,
        ),
        # An explicit floor after restarts.
        (
            {
                "initial_learning_rate": 1.0,
                "minimal_learning_rate": 0.01,
                "step_size": 4,
                "decay": 0.1,
                "restart_minimal_learning_rate": 0.001,
            },
            {
                # The literal loop needs the floors as the same products as the
                # decayed peak to restart on time (see the rounding test below).
                "upper": 1.0,
                "lower": 1.0 * 0.1 * 0.1,
                "step_size": 4,
                "decay": 0.1,
                "restart_lower": 1.0 * 0.1 * 0.1 * 0.1,
            },
            20,
            5,
        ),
        # No decay: a plain triangular cycle, never restarting.
        (
            {"decay": 1.0, "step_size": 5},
            {"decay": 1.0, "step_size": 5},
            6,
            9,
        ),
    ],
    ids=["fine_tuning", "pretraining", "small_restarts", "restart_floor", "no_decay"],
)
def test_calr_matches_reference_loop_at_every_step(
    kwargs, reference_kwargs, num_epochs, steps_per_epoch
):
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=steps_per_epoch, **kwargs)
    expected = reference_calr(num_epochs, steps_per_epoch, **reference_kwargs)
    np.testing.assert_allclose(
        values(schedule, len(expected)), expected, rtol=2e-6, atol=1e-12
    )


def test_calr_restarts_when_peak_reaches_floor_despite_rounding():
    # 1e-3 * 0.1**3 is 1.0000000000000002e-06, one rounding step above 1e-6.
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=10, step_size=5)
    peaks = [values(schedule, 100)[e * 10 : (e + 1) * 10].max() for e in range(10)]
    np.testing.assert_allclose(
        peaks,
        [1e-3, 1e-4, 1e-5, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-3, 1e-4],
        rtol=1e-6,
    )


def test_calr_half_epoch_step_size_gives_one_triangle_per_epoch():
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=41, step_size=20.5)
    rates = values(schedule, 41 * 3)
    for epoch, peak in enumerate([1e-3, 1e-4, 1e-5]):
        epoch_rates = rates[epoch * 41 : (epoch + 1) * 41]
        assert epoch_rates.max() <= peak * (1 + 1e-6)
        assert epoch_rates.max() > 0.9 * peak
        assert np.argmax(epoch_rates) in (19, 20)
        np.testing.assert_allclose(epoch_rates[-1], 1e-6, rtol=1e-5)


def test_calr_zero_floor_never_restarts():
    schedule = CyclicalAnnealedLearningRate(
        minimal_learning_rate=0.0,
        restart_minimal_learning_rate=0.0,
        steps_per_epoch=4,
        step_size=2,
    )
    rates = values(schedule, 4 * 12)
    peaks = rates.reshape(12, 4).max(axis=1)
    assert np.all(np.diff(peaks) < 0)


def test_calr_accepts_scalars_arrays_and_integer_tensors():
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=100, step_size=10)
    scalar = schedule(keras.ops.convert_to_tensor(9, dtype="int64"))
    assert tuple(scalar.shape) == ()
    assert str(scalar.dtype) in ("float32", "<dtype: 'float32'>")
    matrix = schedule(np.arange(6).reshape(2, 3))
    assert tuple(matrix.shape) == (2, 3)
    np.testing.assert_allclose(float(scalar), 1e-3, rtol=1e-6)


def test_calr_config_round_trip_and_serialization():
    schedule = CyclicalAnnealedLearningRate(
        2e-3, 1e-5, 12.5, 0.5, steps_per_epoch=25, restart_minimal_learning_rate=1e-7
    )
    config = schedule.get_config()
    restored = CyclicalAnnealedLearningRate.from_config(config)
    assert restored.get_config() == config
    serialized = keras.saving.serialize_keras_object(schedule)
    assert (
        serialized["registered_name"] == "tflite_lowrank>CyclicalAnnealedLearningRate"
    )
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(deserialized, CyclicalAnnealedLearningRate)
    np.testing.assert_allclose(values(deserialized, 200), values(schedule, 200))


def test_calr_drives_an_optimizer_inside_fit(rng):
    schedule = CyclicalAnnealedLearningRate(steps_per_epoch=4, step_size=2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    model.compile(optimizer=optimizer, loss="mse")
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored._learning_rate, CyclicalAnnealedLearningRate)
    x = rng.standard_normal((16, 3)).astype("float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0)
    assert int(optimizer.iterations) == 8
    np.testing.assert_allclose(
        float(optimizer.learning_rate), float(schedule(8)), rtol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"initial_learning_rate": 0.0},
            ValueError,
            "Received: initial_learning_rate=0.0",
        ),
        ({"initial_learning_rate": "1e-3"}, TypeError, "initial_learning_rate='1e-3'"),
        (
            {"minimal_learning_rate": 1e-3},
            ValueError,
            "Received: minimal_learning_rate",
        ),
        ({"minimal_learning_rate": -1.0}, ValueError, "minimal_learning_rate=-1.0"),
        ({"step_size": 0}, ValueError, "Received: step_size=0"),
        ({"step_size": float("nan")}, ValueError, "Received: step_size=nan"),
        ({"decay": 0.0}, ValueError, "Received: decay=0.0"),
        ({"decay": 1.5}, ValueError, "Received: decay=1.5"),
        ({"decay": True}, TypeError, "Received: decay=True"),
        ({"steps_per_epoch": 0}, ValueError, "Received: steps_per_epoch=0"),
        ({"steps_per_epoch": 2.5}, ValueError, "Received: steps_per_epoch=2.5"),
        (
            {"restart_minimal_learning_rate": 2e-3},
            ValueError,
            "Received: restart_minimal_learning_rate=0.002",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_calr_rejects_bad_arguments_with_received_value(kwargs, error, match):
    kwargs = {"steps_per_epoch": 10, **kwargs}
    with pytest.raises(error, match=match):
        CyclicalAnnealedLearningRate(**kwargs)


def test_calr_requires_steps_per_epoch():
    with pytest.raises(TypeError, match="steps_per_epoch"):
        CyclicalAnnealedLearningRate()
