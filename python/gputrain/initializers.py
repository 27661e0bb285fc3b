"""Keras's weight initialisers (gt.initializers: Glorot, He and LeCun, uniform and normal, random normal,
uniform and truncated normal, constants; layers default to Glorot uniform kernels and zero biases) and
one seedable random source, so that `gt.utils.set_random_seed(s)` makes model building and dropout
reproducible."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seeds every random choice gputrain makes: initial weights, dropout masks, shuffling."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    return _rng


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's fans: a vector's length both ways; dense (in, out); conv (kh, kw, in, out) times its window."""
    if len(shape) < 2:
        n = int(shape[0]) if shape else 1
        return n, n
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """A function of a weight's shape giving its initial float32 values, drawn from gputrain's generator
    (gt.utils.set_random_seed) or, with `seed`, from a generator of its own."""

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed: expected an integer or None, got {seed!r}")
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed) if self.seed is not None else _rng

    def __call__(self, shape) -> np.ndarray:
        return np.asarray(self._draw(tuple(shape)), np.float32)


class Zeros(Initializer):
    def _draw(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def _draw(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = float(value)

    def _draw(self, shape):
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def _draw(self, shape):
        return self._rng().uniform(self.minval, self.maxval, size=shape)


def _truncated_normal(rng, shape, mean: float, stddev: float) -> np.ndarray:
    """Normal values, each one beyond two standard deviations drawn again (Keras's truncated normal)."""
    values = rng.standard_normal(size=shape)
    while True:
        outside = np.abs(values) > 2.0
        if not outside.any():
            return mean + stddev * values
        values[outside] = rng.standard_normal(size=int(outside.sum()))


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def _draw(self, shape):
        return self._rng().normal(self.mean, self.stddev, size=shape)


class TruncatedNormal(RandomNormal):
    def _draw(self, shape):
        return _truncated_normal(self._rng(), shape, self.mean, self.stddev)


class VarianceScaling(Initializer):
    """Keras's: variance scale / fans (fan_in, fan_out or their mean), from a truncated normal (its
    standard deviation corrected for the truncation), a normal or a uniform distribution."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale: expected a positive number, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode: expected 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"distribution: expected 'truncated_normal', 'untruncated_normal' or 'uniform', got "
                             f"{distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def _draw(self, shape):
        fan_in, fan_out = _fans(shape)
        fan = max(1.0, {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode])
        if self.distribution == "truncated_normal":
            return _truncated_normal(self._rng(), shape, 0.0, np.sqrt(self.scale / fan) / 0.87962566103423978)
        if self.distribution == "untruncated_normal":
            return self._rng().normal(0.0, np.sqrt(self.scale / fan), size=shape)
        limit = np.sqrt(3.0 * self.scale / fan)  # one rounding: Glorot's sqrt(6 / (fan_in + fan_out)) exactly
        return self._rng().uniform(-limit, limit, size=shape)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


_CLASSES = (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling, GlorotUniform,
            GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal)


def _snake(name: str) -> str:
    return "".join(("_" + c.lower()) if c.isupper() and i else c.lower() for i, c in enumerate(name))


# Keras's names: the class's and its snake_case one ("he_normal").
_BY_NAME = {name: cls for cls in _CLASSES for name in (cls.__name__, _snake(cls.__name__))}


def get(identifier):
    """An initializer: one given (or any function of the shape), or one of Keras's by name."""
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"initializer: {identifier!r} is not one of "
                         f"{', '.join(_snake(c.__name__) for c in _CLASSES)} (Orthogonal and Identity are not "
                         f"supported yet)")
    return _BY_NAME[identifier]()
