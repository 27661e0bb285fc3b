"""Keras's learning-rate schedules (gt.optimizers.schedules) against their formulas at chosen steps, an
optimizer following one step by step in fit (the compiled step really uses each step's rate), and
schedules saved and loaded with the model."""
import math

import numpy as np
import pytest

import gputrain as gt
from gputrain import layers
from gputrain.optimizers import schedules


@pytest.mark.parametrize("schedule, expected", [
    (schedules.ExponentialDecay(0.1, 10, 0.5), {0: 0.1, 5: 0.1 * 0.5 ** 0.5, 20: 0.025}),
    (schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True), {9: 0.1, 10: 0.05, 25: 0.025}),
    (schedules.InverseTimeDecay(1.0, 4, 0.5), {0: 1.0, 4: 1 / 1.5, 6: 1 / 1.75}),
    (schedules.InverseTimeDecay(1.0, 4, 0.5, staircase=True), {6: 1 / 1.5}),
    (schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), {0: 1.0, 10: 1.0, 11: 0.5, 20: 0.5, 21: 0.1}),
    (schedules.PolynomialDecay(1.0, 10, 0.1, power=2.0), {0: 1.0, 5: 0.9 * 0.25 + 0.1, 10: 0.1, 50: 0.1}),
    (schedules.PolynomialDecay(1.0, 10, 0.0, cycle=True), {0: 1.0, 5: 0.5, 15: 0.25}),
    (schedules.CosineDecay(1.0, 100, alpha=0.1), {0: 1.0, 50: 0.55, 100: 0.1, 300: 0.1}),
    (schedules.CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), {0: 0.0, 5: 0.5, 10: 1.0, 60: 0.5}),
    (schedules.CosineDecayRestarts(1.0, 10, t_mul=1.0, m_mul=0.5), {0: 1.0, 5: 0.5, 10: 0.5, 15: 0.25}),
    (schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0), {10: 1.0, 20: 0.5, 30: 1.0}),
])
def test_each_schedule_follows_its_formula(schedule, expected):
    for step, value in expected.items():
        assert schedule(step) == pytest.approx(value, abs=1e-12), step
    assert type(schedule).from_config(schedule.get_config())(7) == schedule(7)


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="values: expected one more value than boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(TypeError, match="follows a LearningRateSchedule"):
        gt.optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.9)).learning_rate = 0.5


def _model():
    gt.utils.set_random_seed(0)
    return gt.Sequential([gt.Input((3,)), layers.Dense(2)])


def test_fit_uses_each_steps_scheduled_rate_and_it_survives_saving(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.integers(0, 2, 8)
    rates = []

    class Rates(gt.callbacks.Callback):
        reads_batch_logs = False

        def on_train_batch_begin(self, batch, logs=None):
            rates.append(self.model.optimizer.learning_rate)

    # Two steps at 0.5, then a rate too small to move a float32 weight: training must stop moving them.
    schedule = schedules.PiecewiseConstantDecay([1], [0.5, 1e-30])
    model = _model()
    model.compile(gt.optimizers.SGD(schedule), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  device="cpu")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[Rates()])
    after_two = model.get_weights()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[Rates()])
    assert rates == [0.5, 0.5, 1e-30, 1e-30, 1e-30, 1e-30]
    for a, b in zip(after_two, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    plain = _model()  # the same two steps at a constant 0.5 give the same weights
    plain.compile(gt.optimizers.SGD(0.5), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(after_two, plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device="cpu")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.learning_rate == 1e-30 and loaded.optimizer.iterations == 6
    with pytest.raises(TypeError, match="cannot be set"):
        loaded.fit(x, y, epochs=1, verbose=0, callbacks=[gt.callbacks.LearningRateScheduler(lambda e: 0.1)])
    assert math.isclose(schedules.CosineDecay(1.0, 4)(2), 0.5)
