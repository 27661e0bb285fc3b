"""Argument checks shared by the API and the command line, each written once: counts (epochs,
batch_size, save_freq, ...) must be true integers in range, never floats that would be truncated or
bools that happen to be ints, and numbers must be finite."""
from __future__ import annotations

import math
import numbers

import numpy as np


def count(value, name: str, minimum: int = 0) -> int:
    """`value` as an int >= minimum; TypeError for a float, bool or non-number, ValueError below it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def number(value, name: str, low: float | None = None, high: float | None = None,
           high_open: bool = False, low_open: bool = False) -> float:
    """`value` as a finite float within [low, high] (open ends where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a number in {left}{low if low is not None else '-inf'}, "
                         f"{high if high is not None else 'inf'}{right}, got {value}")
    return value


def flag(value, name: str) -> bool:
    """A true bool (NumPy's too): a string such as "no" must not become True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)
