"""Keras-style layers: each checks its arguments, computes its output shape, builds its parameters on a
device (Glorot uniform kernels, zero biases) and adds its node to a model's plan (`add_to_plan`), where its
forward and backward are written once, in C++ (cpp/core/plan_nodes.cpp). Shapes exclude the batch
dimension."""
from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from . import _core, checks, initializers
from . import plan as _plan
from .tensor import tensor as _tensor

_name_counts: defaultdict[str, int] = defaultdict(int)
# None and "linear" (none), the element-wise list of cpp/core/activations.h, and softmax over the last axis.
ACTIVATIONS = (None, "linear", *_core.activation_names(), "softmax")
# Keras's other names for a listed activation: a layer stores the listed name (one kernel, one formula).
_ALIASES = {"silu": "swish"}


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def clear_session() -> None:
    """Restarts automatic names (dense, dense_1, ...) from the beginning, as Keras's clear_session does."""
    _name_counts.clear()


def unique_name(base: str) -> str:
    """Keras's automatic names: dense, dense_1, dense_2, ..."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints >= 1 (Keras accepts both); a float or bool is refused, not truncated."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        size = checks.count(value, name, 1)
        return size, size
    items = list(value)
    if len(items) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return checks.count(items[0], name, 1), checks.count(items[1], name, 1)


def _shape(value, name: str) -> tuple:
    """A sample shape (without the batch): positive ints."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a tuple of positive ints, got {value!r}")
    return tuple(checks.count(d, name, 1) for d in value)


def _check_activation(activation):
    activation = _ALIASES.get(activation, activation) if isinstance(activation, str) else activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: {activation!r} is not one of {', '.join(map(str, ACTIVATIONS[2:]))}, "
                         f"linear, None")
    return None if activation == "linear" else activation


def _padded_extent(n: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-n // stride)
    return (n - window) // stride + 1 if n >= window else 0


class Layer:
    trainable = True

    def __init__(self, name: str | None = None, input_shape=None):
        self.name = name or unique_name(_snake_case(type(self).__name__))
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, got {type(name).__name__}")
        self.input_shape = _shape(input_shape, "input_shape") if input_shape is not None else None
        self.params: dict = {}          # name -> Tensor, in Keras's weight order
        self.trainable_names: tuple = ()
        self.output_shape = None
        self.built = False

    # ---- building ----
    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def param_specs(self, input_shape: tuple) -> dict:
        """name -> (shape, initializer), in Keras's weight order; layers with weights override."""
        return {}

    def param_shapes(self, input_shape: tuple) -> dict:
        """name -> shape of each weight, computed without allocating it (a loader compares them with a
        file's before building)."""
        return {name: tuple(shape) for name, (shape, _) in self.param_specs(input_shape).items()}

    def set_shapes(self, input_shape: tuple) -> tuple:
        """Records the input shape and returns the output shape, checked; allocates nothing."""
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        if any(d is not None and d <= 0 for d in self.output_shape):
            raise ValueError(f"{self.name}: input shape {self.input_shape} gives an empty output "
                             f"{self.output_shape}")
        return self.output_shape

    def build(self, input_shape: tuple, device: str) -> tuple:
        self.set_shapes(input_shape)
        self.params = {name: _tensor(initializer(shape), device=device)
                       for name, (shape, initializer) in self.param_specs(self.input_shape).items()}
        self.built = True
        return self.output_shape

    def count_params(self) -> int:
        return sum(t.size for t in self.params.values())

    def get_config(self) -> dict:
        return {"name": self.name}


class _Activated(Layer):
    """A layer followed by an optional activation, fused into its node's forward and backward."""

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = _check_activation(activation)


class Input(Layer):
    """Declares the input shape (without the batch dimension); holds no weights."""

    def __init__(self, shape, name: str | None = None):
        super().__init__(name=name, input_shape=shape)

    def get_config(self):
        return {"name": self.name, "shape": list(self.input_shape)}

    def add_to_plan(self, plan):
        pass


class Dense(_Activated):
    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        self.units = checks.count(units, "units", 1)
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def param_specs(self, input_shape):
        specs = {"kernel": ((input_shape[-1], self.units), self.kernel_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.units,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation, "use_bias": self.use_bias}

    def add_to_plan(self, plan):
        plan.add_dense(self.params["kernel"], self.params.get("bias"), self.activation)


class Conv2D(_Activated):
    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        filters = checks.count(filters, "filters", 1)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        h, w, _ = input_shape
        return (_padded_extent(h, self.kernel_size[0], self.strides[0], self.padding),
                _padded_extent(w, self.kernel_size[1], self.strides[1], self.padding), self.filters)

    def param_specs(self, input_shape):
        specs = {"kernel": (self.kernel_size + (input_shape[-1], self.filters), self.kernel_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.filters,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "activation": self.activation,
                "use_bias": self.use_bias}

    def add_to_plan(self, plan):
        plan.add_conv2d(self.params["kernel"], self.params.get("bias"), list(self.strides), self.padding,
                        self.activation)


class _Pooling2D(Layer):
    plan_kind = None  # "max" or "avg"

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = padding

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        h, w, c = input_shape
        return (_padded_extent(h, self.pool_size[0], self.strides[0], self.padding),
                _padded_extent(w, self.pool_size[1], self.strides[1], self.padding), c)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}

    def add_to_plan(self, plan):
        plan.add_pool2d(self.plan_kind, list(self.pool_size), list(self.strides), self.padding)


class MaxPooling2D(_Pooling2D):
    plan_kind = "max"


class AveragePooling2D(_Pooling2D):
    plan_kind = "avg"


class GlobalAveragePooling2D(Layer):
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        return (input_shape[-1],)

    def add_to_plan(self, plan):
        plan.add_global_avg_pool2d()


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def add_to_plan(self, plan):
        plan.add_flatten()


class Dropout(Layer):
    def __init__(self, rate: float, seed: int | None = None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.rate = checks.number(rate, "rate", 0.0, 1.0, high_open=True)
        self.seed = None if seed is None else checks.count(seed, "seed", 0)

    def add_to_plan(self, plan):
        plan.add_dropout(self.rate, _plan.dropout_seed(self))

    def get_config(self):
        return {"name": self.name, "rate": self.rate}


class BatchNormalization(Layer):
    """Over the last axis, Keras's defaults: momentum 0.99, epsilon 1e-3; moving statistics are
    non-trainable weights."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    def param_specs(self, input_shape):
        c = (input_shape[-1],)
        self.trainable_names = ("gamma", "beta")
        ones, zeros = initializers.Ones(), initializers.Zeros()
        return {"gamma": (c, ones), "beta": (c, zeros), "moving_mean": (c, zeros), "moving_variance": (c, ones)}

    def add_to_plan(self, plan):
        p = self.params
        plan.add_batch_norm(p["gamma"], p["beta"], p["moving_mean"], p["moving_variance"], self.momentum,
                            self.epsilon)

    def get_config(self):
        return {"name": self.name, "momentum": self.momentum, "epsilon": self.epsilon}


class Activation(_Activated):
    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)

    def add_to_plan(self, plan):
        plan.add_activation(self.activation)

    def get_config(self):
        return {"name": self.name, "activation": self.activation}


class ReLU(Activation):
    def __init__(self, name=None, input_shape=None):
        super().__init__("relu", name=name, input_shape=input_shape)

    def get_config(self):
        return {"name": self.name}


LAYERS = {cls.__name__: cls for cls in (Input, Dense, Conv2D, MaxPooling2D, AveragePooling2D,
                                         GlobalAveragePooling2D, Flatten, Dropout, BatchNormalization,
                                         Activation, ReLU)}


def from_config(class_name: str, config: dict) -> Layer:
    if class_name not in LAYERS:
        raise ValueError(f"layer class {class_name!r} is not a gputrain layer")
    return LAYERS[class_name](**config)
