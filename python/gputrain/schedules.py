"""Keras's learning-rate schedules (gt.optimizers.schedules): a function of the optimizer's step count
(updates done so far) giving the learning rate of the next update, with Keras's formulas. An optimizer
given one evaluates it before each step; the value reaches the compiled step as that step's scalar,
written beside its inputs, so a replayed GPU graph stays one launch."""
from __future__ import annotations

import math

from . import checks


class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError(type(self).__name__)

    def get_config(self) -> dict:
        raise NotImplementedError(type(self).__name__)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _positive(value, name: str) -> float:
    return checks.number(value, name, low=0.0, low_open=True)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate · decay_rate^(step / decay_steps), the exponent floored with staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase: bool = False, name=None):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.decay_rate = checks.number(decay_rate, "decay_rate", low=0.0, low_open=True)
        self.staircase = checks.flag(staircase, "staircase")

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate · step / decay_steps), the ratio floored with staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase: bool = False, name=None):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.decay_rate = checks.number(decay_rate, "decay_rate", low=0.0)
        self.staircase = checks.flag(staircase, "staircase")

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1.0 + self.decay_rate * (math.floor(p) if self.staircase else p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to boundaries[0] (included), values[i + 1] after boundaries[i] up to boundaries[i + 1]."""

    def __init__(self, boundaries, values, name=None):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values: expected one more value than boundaries ({len(boundaries)} boundaries), got "
                             f"{len(values)}")
        self.boundaries = [checks.number(b, "boundaries") for b in boundaries]
        if self.boundaries != sorted(self.boundaries):
            raise ValueError(f"boundaries: expected increasing steps, got {boundaries}")
        self.values = [_positive(v, "values") for v in values]

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


class PolynomialDecay(LearningRateSchedule):
    """(initial − end)·(1 − step / decay_steps)^power + end, held at end after decay_steps, or with cycle
    decay_steps stretched to the next multiple past the step."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name=None):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.end_learning_rate = checks.number(end_learning_rate, "end_learning_rate", low=0.0)
        self.power = checks.number(power, "power", low=0.0)
        self.cycle = checks.flag(cycle, "cycle")

    def __call__(self, step):
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * fraction ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle}


def _cosine(fraction: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * fraction))


class CosineDecay(LearningRateSchedule):
    """A linear warmup from initial_learning_rate to warmup_target over warmup_steps (when a target is
    given), then a cosine from there down to alpha times it over decay_steps, held after."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = checks.number(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.alpha = checks.number(alpha, "alpha", 0.0, 1.0)
        self.warmup_target = None if warmup_target is None else _positive(warmup_target, "warmup_target")
        self.warmup_steps = checks.number(warmup_steps, "warmup_steps", low=0.0)

    def __call__(self, step):
        peak = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        if self.warmup_target is not None:
            step = min(step, self.decay_steps + self.warmup_steps)
            if step < self.warmup_steps:
                return self.initial_learning_rate + (peak - self.initial_learning_rate) * step / self.warmup_steps
            step -= self.warmup_steps
        fraction = min(step, self.decay_steps) / self.decay_steps
        return peak * ((1.0 - self.alpha) * _cosine(fraction) + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decays (SGDR) restarting after first_decay_steps, each period t_mul times longer and its
    peak m_mul times lower, down to alpha times the peak."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name=None):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.first_decay_steps = _positive(first_decay_steps, "first_decay_steps")
        self.t_mul = _positive(t_mul, "t_mul")
        self.m_mul = checks.number(m_mul, "m_mul", low=0.0)
        self.alpha = checks.number(alpha, "alpha", 0.0, 1.0)

    def __call__(self, step):
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:  # periods 1, t, t², ...: the restart whose geometric sum passed the step
            restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** restart) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul ** restart
        decayed = self.m_mul ** restart * _cosine(fraction)
        return self.initial_learning_rate * ((1.0 - self.alpha) * decayed + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                            PolynomialDecay, CosineDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict:
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    if not isinstance(config, dict) or config.get("class_name") not in _SCHEDULES:
        raise ValueError(f"learning_rate: expected a number or a serialized schedule of "
                         f"{', '.join(_SCHEDULES)}, got {config!r}")
    return _SCHEDULES[config["class_name"]].from_config(config["config"])
