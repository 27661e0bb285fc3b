"""Functional operations. NumPy arrays in, NumPy out, computed on `device=` (default: the default
device); gputrain Tensors in, Tensors out on the tensors' device (`device=` is then ignored).
Validation happens in the C++ dispatch."""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device


def _as_array(x, name: str):
    # Python scalars and lists become float32; arrays and Tensors keep their dtype so that a wrong one
    # is reported by dispatch instead of converted silently.
    if isinstance(x, (np.ndarray, _core.Tensor)):
        return x
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of float32, got {type(x).__name__}") from exc


def _device(device, *args) -> str:
    # Tensors decide the device themselves; resolving the default would load GPU backends needlessly.
    if any(isinstance(a, _core.Tensor) for a in args):
        return "cpu"
    return resolve_device(device)


def add(a, b, device: str | None = None):
    """Element-wise a + b of two float32 arrays of the same shape."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    return _core.add(a, b, _device(device, a, b))
