"""Weight initialisers with Keras's defaults (Glorot uniform kernels, zero biases) and one seedable
random source, so that `gt.utils.set_random_seed(s)` makes model building and dropout reproducible."""
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
    if len(shape) == 2:  # dense (in, out)
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))  # conv (kh, kw, in, out)
    return shape[-2] * receptive, shape[-1] * receptive


class GlorotUniform:
    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, shape) -> np.ndarray:
        fan_in, fan_out = _fans(tuple(shape))
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        rng = np.random.default_rng(self.seed) if self.seed is not None else _rng
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)


class Zeros:
    def __call__(self, shape) -> np.ndarray:
        return np.zeros(shape, np.float32)


class Ones:
    def __call__(self, shape) -> np.ndarray:
        return np.ones(shape, np.float32)


def get(identifier):
    if callable(identifier):
        return identifier
    table = {"glorot_uniform": GlorotUniform, "zeros": Zeros, "ones": Ones}
    if identifier not in table:
        raise ValueError(f"initializer: {identifier!r} is not one of {', '.join(table)}")
    return table[identifier]()
