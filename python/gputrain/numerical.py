"""Keras's array helpers (gt.utils.to_categorical and normalize), on NumPy arrays as Keras returns them."""
from __future__ import annotations

import numpy as np


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows (float64, as Keras gives for NumPy input) for integer class labels; a trailing axis of 1
    is dropped first, as Keras does. Labels outside [0, num_classes) are refused rather than wrapped."""
    labels = np.asarray(x)
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError("to_categorical: expected integer class labels, got fractions")
    if labels.dtype.kind not in "iuf" and labels.size:
        raise TypeError(f"to_categorical: expected integer class labels, got an array of {labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    bad = (flat < 0) | (flat >= num_classes)
    if bad.any():
        raise ValueError(f"to_categorical: label {flat[np.argmax(bad)]} at index {int(np.argmax(bad))} is outside "
                         f"[0, {num_classes})")
    categorical = np.zeros((flat.size, int(num_classes)))
    categorical[np.arange(flat.size), flat] = 1
    return categorical.reshape(shape + (int(num_classes),))


def normalize(x, axis: int | None = -1, order=2) -> np.ndarray:
    """x divided by its `order`-norm along `axis` (a zero norm leaves the values as they are)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, -1 if axis is None else axis)
