"""Functional operations: NumPy in, NumPy out, computed on the device named by `device=`
(default: the first usable of cuda, hip, cpu). Validation happens in the C++ dispatch."""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device


def _as_array(x, name: str) -> np.ndarray:
    # Python scalars and lists become float32; NumPy arrays keep their dtype so that a wrong one is
    # reported by dispatch instead of converted silently.
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of float32, got {type(x).__name__}") from exc


def add(a, b, device: str | None = None) -> np.ndarray:
    """Element-wise a + b of two float32 arrays of the same shape."""
    return _core.add(_as_array(a, "a"), _as_array(b, "b"), resolve_device(device))
