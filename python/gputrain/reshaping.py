"""Keras's layers that move values: ZeroPadding2D, Cropping2D, UpSampling2D, Permute and Reshape (a view of its
input in the plan: no kernel runs)."""
from __future__ import annotations

import numpy as np

from . import checks
from .layers import Layer, _pair


def _sides(value, name: str) -> tuple[int, int, int, int]:
    """Keras's three spellings of per-side counts: n (every side), (rows, columns) (both sides of each),
    or ((top, bottom), (left, right)); counts >= 0. Returns (top, bottom, left, right)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        n = checks.count(value, name, 0)
        return n, n, n, n
    items = list(value)
    if len(items) != 2:
        raise ValueError(f"{name}: expected an int, a pair, or a pair of pairs, got {value!r}")
    out = []
    for item in items:
        if isinstance(item, (str, bytes)) or not hasattr(item, "__iter__"):
            n = checks.count(item, name, 0)
            out += [n, n]
        else:
            pair = list(item)
            if len(pair) != 2:
                raise ValueError(f"{name}: expected pairs (before, after), got {item!r}")
            out += [checks.count(pair[0], name, 0), checks.count(pair[1], name, 0)]
    return tuple(out)


class _Border2D(Layer):
    padding_layer = True  # ZeroPadding2D; Cropping2D crops

    def _check_input(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")

    def add_to_plan(self, plan, inputs):
        return plan.add_border2d(self.padding_layer, list(self.sides), input=inputs[0])

    def get_config(self):
        top, bottom, left, right = self.sides
        return {"name": self.name, "padding" if self.padding_layer else "cropping": [[top, bottom], [left, right]]}


class ZeroPadding2D(_Border2D):
    def __init__(self, padding=(1, 1), name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.sides = _sides(padding, "padding")

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        top, bottom, left, right = self.sides
        h, w, c = input_shape
        return (h + top + bottom, w + left + right, c)


class Cropping2D(_Border2D):
    padding_layer = False

    def __init__(self, cropping=((0, 0), (0, 0)), name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.sides = _sides(cropping, "cropping")

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        top, bottom, left, right = self.sides
        h, w, c = input_shape
        if top + bottom >= h or left + right >= w:
            raise ValueError(f"{self.name}: cropping {self.sides} (top, bottom, left, right) leaves nothing of "
                             f"inputs {input_shape}")
        return (h - top - bottom, w - left - right, c)


class Reshape(Layer):
    """To `target_shape` (without the batch); one extent may be -1, inferred as Keras does."""

    def __init__(self, target_shape, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(target_shape, (str, bytes)) or not hasattr(target_shape, "__iter__"):
            raise TypeError(f"target_shape: expected a tuple of ints, got {target_shape!r}")
        dims = [-1 if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d == -1
                else checks.count(d, "target_shape", 1) for d in target_shape]
        if dims.count(-1) > 1:
            raise ValueError(f"target_shape: at most one extent may be -1, got {tuple(target_shape)}")
        self.target_shape = tuple(dims)

    def compute_output_shape(self, input_shape):
        total = int(np.prod(input_shape))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(f"{self.name}: cannot reshape {tuple(input_shape)} to {self.target_shape}")
            return tuple(total // known if d == -1 else d for d in self.target_shape)
        if known != total:
            raise ValueError(f"{self.name}: cannot reshape {tuple(input_shape)} ({total} values) to "
                             f"{self.target_shape} ({known})")
        return self.target_shape

    def add_to_plan(self, plan, inputs):
        return plan.add_reshape(list(self.output_shape), input=inputs[0])

    def get_config(self):
        return {"name": self.name, "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Keras's Permute: output axis i is input axis dims[i - 1], dims a permutation of 1..rank (the batch
    excluded, it stays first)."""

    def __init__(self, dims, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
            raise TypeError(f"dims: expected a tuple of ints, got {dims!r}")
        self.dims = tuple(checks.count(d, "dims", 1) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"dims: expected a permutation of 1..{len(self.dims)}, got {self.dims}")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims):
            raise ValueError(f"{self.name}: dims {self.dims} do not permute the {len(input_shape)} axes of inputs "
                             f"{tuple(input_shape)}")
        return tuple(input_shape[d - 1] for d in self.dims)

    def add_to_plan(self, plan, inputs):
        return plan.add_permute(list(self.dims), input=inputs[0])

    def get_config(self):
        return {"name": self.name, "dims": list(self.dims)}


class UpSampling2D(Layer):
    """Keras's UpSampling2D: each cell repeated size[0] x size[1] times (interpolation "nearest"), or the
    image resized by TensorFlow's bilinear rule ("bilinear": tf.image.resize with half-pixel centres, as
    Keras calls it). An infinite input stays infinite where the taps read it alone or beside finite
    values (TensorFlow's a + (b − a)·t form makes those NaN)."""

    INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), interpolation: str = "nearest", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.size = _pair(size, "size")
        if not isinstance(interpolation, str):
            raise TypeError(f"interpolation: expected one of {', '.join(self.INTERPOLATIONS)}, got {interpolation!r}")
        if interpolation.lower() not in self.INTERPOLATIONS:  # Keras lower-cases it too
            raise ValueError(f"interpolation: expected one of {', '.join(self.INTERPOLATIONS)}, got "
                             f"{interpolation!r}")
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        h, w, c = input_shape
        return (h * self.size[0], w * self.size[1], c)

    def add_to_plan(self, plan, inputs):
        add = plan.add_upsample_nearest2d if self.interpolation == "nearest" else plan.add_upsample_bilinear2d
        return add(list(self.size), input=inputs[0])

    def get_config(self):
        return {"name": self.name, "size": list(self.size), "interpolation": self.interpolation}
