"""Keras-style layers: each checks its arguments, computes its output shape, builds its parameters on a
device (Glorot uniform kernels, zero biases) and adds its node to a model's plan (`add_to_plan`), where its
forward and backward are written once, in C++ (cpp/core/plan_nodes.cpp). Shapes exclude the batch
dimension."""
from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from . import _core, checks, eager, initializers, nesting, regularizers, symbolic
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


def _padding(value) -> str:
    """'valid' or 'same', in any case (Keras's own applications write "SAME")."""
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {value!r}")
    return value.lower()


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


def add_to_plan(layer, plan, inputs) -> int:
    """The layer's node in `plan`, reading values `inputs`, with its regularizers' penalties; the value it
    writes."""
    value = layer.add_to_plan(plan, inputs)
    for name, regularizer in getattr(layer, "param_regularizers", {}).items():
        if name in layer.params:
            plan.add_weight_penalty(layer.params[name], regularizer.l1, regularizer.l2)
    activity = getattr(layer, "activity_regularizer", None)
    if activity is not None:
        plan.add_activity_penalty(value, activity.l1, activity.l2)
    return value


class Layer:
    takes_list = False  # merging layers are called on a list of tensors
    param_regularizers: dict = {}  # parameter name -> its regularizer (kernel_regularizer, ...)
    activity_regularizer = None

    def __init__(self, name: str | None = None, input_shape=None):
        self.name = name or unique_name(_snake_case(type(self).__name__))
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, got {type(name).__name__}")
        self.input_shape = _shape(input_shape, "input_shape") if input_shape is not None else None
        self.params: dict = {}          # name -> Tensor, in Keras's weight order
        self._trainable = True          # False: frozen (training leaves its weights alone)
        self._trainable_names: tuple = ()
        self.output_shape = None
        self.built = False
        self.device: str | None = None  # where build put the weights
        self._inbound_nodes: list = []  # each call on symbolic tensors (symbolic.Node)

    def __call__(self, inputs, training=None):
        """On symbolic tensors (from gt.Input or another layer's call): records the call for gt.Model and
        returns the symbolic output. On data (a NumPy array or gt.Tensor batch): the layer's output as a
        gt.Tensor, in inference unless training=True."""
        if symbolic.is_symbolic(inputs):
            nesting.check_training_argument(self, training)
            return symbolic.call(self, inputs)
        return eager.call_layer(self, inputs, checks.flag(bool(training), "training"))

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Freezes (False) or unfreezes the layer; a model's next step builds its plans anew."""
        value = checks.flag(value, "trainable")
        if value != self._trainable:
            self._trainable = value
            nesting.changed()

    @property
    def trainable_names(self) -> tuple:
        """The weights training updates: none while the layer is frozen (trainable = False)."""
        return self._trainable_names if self.trainable else ()

    @trainable_names.setter
    def trainable_names(self, names) -> None:
        self._trainable_names = tuple(names)

    def _set_regularizers(self, activity_regularizer=None, **by_param) -> None:
        """Keras's <parameter>_regularizer and activity_regularizer arguments."""
        found = {name: regularizers.get(value) for name, value in by_param.items()}
        self.param_regularizers = {name: r for name, r in found.items() if r is not None}
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _regularizer_config(self) -> dict:
        """The regularizers given, as Keras's config names them; none given: nothing (so the config, and
        the architecture key of checkpoints saved before regularizers existed, stays as it was)."""
        config = {f"{name}_regularizer": regularizers.serialize(r) for name, r in self.param_regularizers.items()}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

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

    def set_shapes(self, input_shape) -> tuple:
        """Records the input shape (a list of shapes for a merging layer) and returns the output shape,
        checked; allocates nothing."""
        self.input_shape = [tuple(s) for s in input_shape] if self.takes_list else tuple(input_shape)
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        if any(d is not None and d <= 0 for d in self.output_shape):
            raise ValueError(f"{self.name}: input shape {self.input_shape} gives an empty output "
                             f"{self.output_shape}")
        return self.output_shape

    def build(self, input_shape: tuple, device: str) -> tuple:
        """Allocates the weights; a layer already built for this input shape (a shared layer, or one a
        model built before) keeps its weights."""
        if self.built and self.input_shape == (list(input_shape) if self.takes_list else tuple(input_shape)):
            return self.output_shape
        self.set_shapes(input_shape)
        self.device = device
        self.params = {name: _tensor(initializer(shape), device=device)
                       for name, (shape, initializer) in self.param_specs(self.input_shape).items()}
        self.built = True
        return self.output_shape

    def count_params(self) -> int:
        return sum(t.size for t in self.params.values())

    # ---- weights, as Keras names them (gt.Tensors on the layer's device, in Keras's order) ----
    @property
    def weights(self) -> list:
        return list(self.params.values())

    @property
    def trainable_weights(self) -> list:
        return [self.params[name] for name in self.trainable_names if name in self.params]

    @property
    def non_trainable_weights(self) -> list:
        return [t for name, t in self.params.items() if name not in self.trainable_names]

    def get_weights(self) -> list:
        return [t.numpy() for t in self.params.values()]

    def set_weights(self, weights) -> None:
        """New values for the layer's weights (NumPy arrays in get_weights' order and shapes), on its
        device; models holding the layer train and predict with them from their next step."""
        if not self.built:
            raise ValueError(f"set_weights: {self.name} is not built yet; build its model first")
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"set_weights: {self.name} has {len(self.params)} weights, got {len(weights)} arrays")
        values = {}
        for (name, old), value in zip(self.params.items(), weights):
            value = np.asarray(value, np.float32)
            if value.shape != tuple(old.shape):
                raise ValueError(f"set_weights: {self.name}/{name} has shape {tuple(old.shape)}, got {value.shape}")
            values[name] = _tensor(value, device=self.device)
        self.params.update(values)
        nesting.changed()

    def get_config(self) -> dict:
        return {"name": self.name}


class _Activated(Layer):
    """A layer followed by an optional activation, fused into its node's forward and backward."""

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = _check_activation(activation)


class InputLayer(Layer):
    """The input of a model: its sample shape (without the batch); holds no weights. gt.Input makes one and
    returns its symbolic output."""
    config_name = "Input"  # as checkpoints name it

    def __init__(self, shape, name: str | None = None):
        super().__init__(name=name or unique_name("input_layer"), input_shape=shape)
        self.output_shape = self.input_shape
        node = symbolic.Node(self, [])
        self._inbound_nodes.append(node)
        node.output = symbolic.KerasTensor((None,) + self.input_shape, self, 0, self.name)

    @property
    def output(self) -> symbolic.KerasTensor:
        return self._inbound_nodes[0].output

    def get_config(self):
        return {"name": self.name, "shape": list(self.input_shape)}

    def add_to_plan(self, plan, inputs):
        return inputs[0]


def Input(shape=None, batch_size=None, name: str | None = None, dtype=None, batch_shape=None):
    """A model's input as Keras's functional API uses it: a symbolic tensor of shape (None, *shape), to call
    layers on and pass to gt.Model; also the first item of a Sequential. float32 only; batch_size is
    accepted and the batch stays free, as fit chooses it."""
    if batch_shape is not None:
        if shape is not None:
            raise ValueError("Input: give shape or batch_shape, not both")
        if isinstance(batch_shape, (str, bytes)) or not hasattr(batch_shape, "__iter__") or not len(batch_shape):
            raise TypeError(f"batch_shape: expected a tuple (batch, *shape), got {batch_shape!r}")
        shape = tuple(batch_shape)[1:]
    if shape is None:
        raise ValueError("Input: the shape is required, for example gt.Input(shape=(28, 28, 1))")
    if batch_size is not None:
        checks.count(batch_size, "batch_size", 1)
    if dtype not in (None, "float32", np.float32):
        raise ValueError(f"dtype: gputrain models take float32 inputs (uint8 images are converted on the "
                         f"device), got {dtype!r}")
    return InputLayer(shape, name=name).output


class _Windowed(_Activated):
    """A convolution's window arguments as Keras checks them (Conv2D, DepthwiseConv2D): kernel size,
    strides, padding and dilation, with strides > 1 refused beside dilation > 1."""

    def _set_window(self, kernel_size, strides, padding, dilation_rate) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"strides {self.strides} and dilation_rate {self.dilation_rate}: strides > 1 together "
                             f"with dilation_rate > 1 are not supported (nor by Keras)")

    def _output_rows_cols(self, input_shape) -> tuple:
        """(rows, columns) of the output; the window a dilated kernel spans is (k − 1)·dilation + 1 cells."""
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        (kh, kw), (dh, dw) = self.kernel_size, self.dilation_rate
        return (_padded_extent(input_shape[0], (kh - 1) * dh + 1, self.strides[0], self.padding),
                _padded_extent(input_shape[1], (kw - 1) * dw + 1, self.strides[1], self.padding))


class Dense(_Activated):
    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        self.units = checks.count(units, "units", 1)
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._set_regularizers(activity_regularizer, kernel=kernel_regularizer, bias=bias_regularizer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def param_specs(self, input_shape):
        specs = {"kernel": ((input_shape[-1], self.units), self.kernel_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.units,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                **self._regularizer_config()}

    def add_to_plan(self, plan, inputs):
        return plan.add_dense(self.params["kernel"], self.params.get("bias"), self.activation, input=inputs[0])


class Conv2D(_Windowed):
    """Keras's Conv2D: kernel (kh, kw, in/groups, filters), taps dilation_rate apart (atrous convolution;
    the window spans (k − 1)·dilation_rate + 1 cells, which "valid" and "same" count with), channels in
    `groups` groups convolved separately (input channels and filters divisible by groups, as Keras
    checks). dilation_rate and groups stand where Keras 3 puts them, after padding (gputrain has no
    data_format: NHWC only)."""

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", dilation_rate=1,
                 groups: int = 1, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        self.filters = checks.count(filters, "filters", 1)
        self.groups = checks.count(groups, "groups", 1)
        if self.filters % self.groups:
            raise ValueError(f"groups: the number of filters must be divisible by the number of groups, got "
                             f"groups={self.groups} and filters={self.filters}")
        self._set_window(kernel_size, strides, padding, dilation_rate)
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._set_regularizers(activity_regularizer, kernel=kernel_regularizer, bias=bias_regularizer)

    def compute_output_shape(self, input_shape):
        return self._output_rows_cols(input_shape) + (self.filters,)

    def param_specs(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"{self.name}: groups: the number of input channels must be divisible by the number "
                             f"of groups, got groups={self.groups} and an input of {channels} channels "
                             f"(input shape {tuple(input_shape)})")
        specs = {"kernel": (self.kernel_size + (channels // self.groups, self.filters), self.kernel_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.filters,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        config = {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                  "strides": list(self.strides), "padding": self.padding}
        # Only when dilated or grouped: a plain layer's config (and so the architecture key that
        # checkpoints written before dilation and groups existed were saved under) stays as it was.
        if self.dilation_rate != (1, 1):
            config["dilation_rate"] = list(self.dilation_rate)
        if self.groups != 1:
            config["groups"] = self.groups
        config.update(activation=self.activation, use_bias=self.use_bias, **self._regularizer_config())
        return config

    def add_to_plan(self, plan, inputs):
        return plan.add_conv2d(self.params["kernel"], self.params.get("bias"), list(self.strides), self.padding,
                               self.activation, input=inputs[0], dilation_rate=list(self.dilation_rate),
                               groups=self.groups)


class Conv2DTranspose(_Activated):
    """Keras's Conv2DTranspose (the convolution run backwards, for upsampling in decoders and GANs): kernel
    (kh, kw, filters, input channels), outputs (n − 1)·s + k ('valid') or n·s ('same') wide, as
    TensorFlow's. output_padding and dilation are not supported."""

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid", activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        self.filters = checks.count(filters, "filters", 1)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        h, w, _ = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.padding == "same":
            return (h * sh, w * sw, self.filters)
        return ((h - 1) * sh + kh, (w - 1) * sw + kw, self.filters)

    def param_specs(self, input_shape):
        specs = {"kernel": (self.kernel_size + (self.filters, input_shape[-1]), self.kernel_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.filters,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {"name": self.name, "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "activation": self.activation,
                "use_bias": self.use_bias}

    def add_to_plan(self, plan, inputs):
        return plan.add_conv2d_transpose(self.params["kernel"], self.params.get("bias"), list(self.strides),
                                         self.padding, self.activation, input=inputs[0])


class DepthwiseConv2D(_Windowed):
    """Keras's DepthwiseConv2D: each input channel convolved with its own depth_multiplier filters, into
    output channels ch·depth_multiplier + m, taps dilation_rate apart. Weights as Keras 3 names and
    orders them: "kernel" (kh, kw, channels, depth_multiplier), then "bias" (channels·depth_multiplier,)."""

    def __init__(self, kernel_size, strides=(1, 1), padding: str = "valid", depth_multiplier: int = 1,
                 dilation_rate=(1, 1), activation=None, use_bias: bool = True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros", input_shape=None, name=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)
        self._set_window(kernel_size, strides, padding, dilation_rate)
        self.depth_multiplier = checks.count(depth_multiplier, "depth_multiplier", 1)
        self.use_bias = checks.flag(use_bias, "use_bias")
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape):
        return self._output_rows_cols(input_shape) + (input_shape[-1] * self.depth_multiplier,)

    def param_specs(self, input_shape):
        c = input_shape[-1]
        specs = {"kernel": (self.kernel_size + (c, self.depth_multiplier), self.depthwise_initializer)}
        if self.use_bias:
            specs["bias"] = ((c * self.depth_multiplier,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {"name": self.name, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "dilation_rate": list(self.dilation_rate), "activation": self.activation, "use_bias": self.use_bias}

    def add_to_plan(self, plan, inputs):
        return plan.add_depthwise_conv2d(self.params["kernel"], self.params.get("bias"), list(self.strides),
                                         self.padding, list(self.dilation_rate), self.activation, input=inputs[0])


class SeparableConv2D(DepthwiseConv2D):
    """Keras's SeparableConv2D: a depthwise convolution (no bias) followed by a 1x1 convolution to
    `filters` channels with the bias and activation; two nodes of the plan. Weights as Keras 3 names them:
    depthwise_kernel (kh, kw, c, depth_multiplier), pointwise_kernel (1, 1, c·depth_multiplier, filters),
    bias (filters,)."""

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid", dilation_rate=(1, 1),
                 depth_multiplier: int = 1, activation=None, use_bias: bool = True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, name=None):
        super().__init__(kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                         input_shape=input_shape, name=name)
        self.filters = checks.count(filters, "filters", 1)
        self.pointwise_initializer = initializers.get(pointwise_initializer)

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(input_shape)[:2] + (self.filters,)

    def param_specs(self, input_shape):
        middle = input_shape[-1] * self.depth_multiplier
        specs = {"depthwise_kernel": (self.kernel_size + (input_shape[-1], self.depth_multiplier),
                                      self.depthwise_initializer),
                 "pointwise_kernel": ((1, 1, middle, self.filters), self.pointwise_initializer)}
        if self.use_bias:
            specs["bias"] = ((self.filters,), self.bias_initializer)
        self.trainable_names = tuple(specs)
        return specs

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}

    def add_to_plan(self, plan, inputs):
        p = self.params
        middle = plan.add_depthwise_conv2d(p["depthwise_kernel"], None, list(self.strides), self.padding,
                                           list(self.dilation_rate), None, input=inputs[0])
        return plan.add_conv2d(p["pointwise_kernel"], p.get("bias"), [1, 1], "valid", self.activation, input=middle)


class _Pooling2D(Layer):
    plan_kind = None  # "max" or "avg"

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        padding = _padding(padding)
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

    def add_to_plan(self, plan, inputs):
        return plan.add_pool2d(self.plan_kind, list(self.pool_size), list(self.strides), self.padding,
                               input=inputs[0])


class MaxPooling2D(_Pooling2D):
    plan_kind = "max"


class AveragePooling2D(_Pooling2D):
    plan_kind = "avg"


class GlobalAveragePooling2D(Layer):
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        return (input_shape[-1],)

    def add_to_plan(self, plan, inputs):
        return plan.add_global_avg_pool2d(input=inputs[0])


class GlobalMaxPooling2D(Layer):
    """The maximum of each channel over the image: a max pool whose window is the whole image."""

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (height, width, channels), got {input_shape}")
        return (input_shape[-1],)

    def add_to_plan(self, plan, inputs):
        h, w, _ = self.input_shape
        pooled = plan.add_pool2d("max", [h, w], [h, w], "valid", input=inputs[0])
        return plan.add_flatten(input=pooled)


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def add_to_plan(self, plan, inputs):
        return plan.add_flatten(input=inputs[0])


class Dropout(Layer):
    def __init__(self, rate: float, seed: int | None = None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.rate = checks.number(rate, "rate", 0.0, 1.0, high_open=True)
        self.seed = None if seed is None else checks.count(seed, "seed", 0)

    def add_to_plan(self, plan, inputs):
        return plan.add_dropout(self.rate, _plan.dropout_seed(self), input=inputs[0])

    def get_config(self):
        return {"name": self.name, "rate": self.rate}


class BatchNormalization(Layer):
    """Over the last axis, Keras's defaults: momentum 0.99, epsilon 1e-3; moving statistics are
    non-trainable weights. Frozen (trainable = False), it runs in inference mode in training too, as
    Keras's does."""

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis: expected an int, got {axis!r}")
        self.axis = axis
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    def compute_output_shape(self, input_shape):
        # gputrain's tensors are NHWC: the channels, the last axis, are what Keras normalises by default.
        if self.axis not in (-1, len(input_shape)):
            raise ValueError(f"{self.name}: axis {self.axis} is not supported; batch normalisation runs over the "
                             f"last (channels) axis, -1 or {len(input_shape)} for inputs {input_shape}")
        return input_shape

    def param_specs(self, input_shape):
        c = (input_shape[-1],)
        self.trainable_names = ("gamma", "beta")
        ones, zeros = initializers.Ones(), initializers.Zeros()
        return {"gamma": (c, ones), "beta": (c, zeros), "moving_mean": (c, zeros), "moving_variance": (c, ones)}

    def add_to_plan(self, plan, inputs):
        p = self.params
        return plan.add_batch_norm(p["gamma"], p["beta"], p["moving_mean"], p["moving_variance"], self.momentum,
                                   self.epsilon, input=inputs[0])

    def get_config(self):
        return {"name": self.name, "momentum": self.momentum, "epsilon": self.epsilon}


class Activation(_Activated):
    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(activation=activation, name=name, input_shape=input_shape)

    def add_to_plan(self, plan, inputs):
        return plan.add_activation(self.activation, input=inputs[0])

    def get_config(self):
        return {"name": self.name, "activation": self.activation}


class LeakyReLU(Layer):
    """Keras's LeakyReLU: x where x >= 0, negative_slope·x below (default 0.3, Keras 3's). Two nodes of the
    plan: slope·x, then the element-wise maximum (minimum for a slope above 1) with x, whose gradient
    goes to x where the two are equal (at 0). A slope of 0 is relu (so +inf stays +inf, where 0·inf
    would make the maximum NaN)."""

    def __init__(self, negative_slope: float = 0.3, name=None, input_shape=None, alpha=None):
        super().__init__(name=name, input_shape=input_shape)
        if alpha is not None:  # Keras 2's name of the slope
            negative_slope = alpha
        self.negative_slope = checks.number(negative_slope, "negative_slope", low=0.0)

    def add_to_plan(self, plan, inputs):
        if self.negative_slope == 0.0:
            return plan.add_activation("relu", input=inputs[0])
        scaled = plan.add_scale(self.negative_slope, input=inputs[0])
        return plan.add_merge("maximum" if self.negative_slope <= 1.0 else "minimum", [inputs[0], scaled])

    def get_config(self):
        return {"name": self.name, "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Keras's PReLU: x where x > 0, else alpha·x, alpha a trainable weight shaped like the input with each
    of shared_axes (1-based, the batch excluded) of extent 1: shared_axes=[1, 2] gives one alpha per
    channel of NHWC images. One node of the plan; alpha's gradient is summed over the batch and the shared
    axes."""

    def __init__(self, alpha_initializer="zeros", shared_axes=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.alpha_initializer = initializers.get(alpha_initializer)
        if shared_axes is None:
            axes = ()
        elif isinstance(shared_axes, (list, tuple)):
            axes = shared_axes
        else:
            axes = (shared_axes,)
        axes = tuple(checks.count(a, "shared_axes", 1) for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"shared_axes: each axis at most once, got {list(axes)}")
        self.shared_axes = axes or None

    def compute_output_shape(self, input_shape):
        if any(a > len(input_shape) for a in self.shared_axes or ()):
            raise ValueError(f"{self.name}: shared_axes {list(self.shared_axes)} are not axes 1..{len(input_shape)} "
                             f"of inputs {tuple(input_shape)}")
        return input_shape

    def param_specs(self, input_shape):
        shared = self.shared_axes or ()
        self.trainable_names = ("alpha",)
        return {"alpha": (tuple(1 if i + 1 in shared else d for i, d in enumerate(input_shape)),
                          self.alpha_initializer)}

    def add_to_plan(self, plan, inputs):
        return plan.add_prelu(self.params["alpha"], input=inputs[0])

    def get_config(self):
        return {"name": self.name, "shared_axes": None if self.shared_axes is None else list(self.shared_axes)}


class ELU(Activation):
    """Keras's ELU layer; alpha 1 (the elu of the activation list) only."""

    def __init__(self, alpha: float = 1.0, name=None, input_shape=None):
        if checks.number(alpha, "alpha") != 1.0:
            raise ValueError(f"ELU: alpha={alpha} is not supported; gputrain's elu has alpha 1")
        super().__init__("elu", name=name, input_shape=input_shape)

    def get_config(self):
        return {"name": self.name}


class Softmax(Activation):
    """Keras's Softmax layer over the last axis (axis=-1, the only one gputrain has)."""

    def __init__(self, axis: int = -1, name=None, input_shape=None):
        if axis != -1:
            raise ValueError(f"Softmax: axis={axis} is not supported; gputrain's softmax runs over the last axis "
                             f"(axis=-1)")
        super().__init__("softmax", name=name, input_shape=input_shape)

    def get_config(self):
        return {"name": self.name}


class ReLU(Activation):
    """Keras's ReLU layer: relu, or relu6 with max_value=6 (MobileNet's). Other max values, slopes and
    thresholds are refused: they are not in the activation list."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, name=None, input_shape=None):
        if max_value is not None:
            max_value = checks.number(max_value, "max_value", low=0.0)
        negative_slope = checks.number(negative_slope, "negative_slope", low=0.0)
        threshold = checks.number(threshold, "threshold")
        if max_value not in (None, 6.0) or negative_slope != 0.0 or threshold != 0.0:
            raise ValueError(f"ReLU: max_value={max_value}, negative_slope={negative_slope}, threshold={threshold} "
                             f"is not supported; gputrain has relu (the defaults) and relu6 (max_value=6)")
        super().__init__("relu" if max_value is None else "relu6", name=name, input_shape=input_shape)
        self.max_value = max_value

    def get_config(self):
        return {"name": self.name, **({"max_value": self.max_value} if self.max_value is not None else {})}


# The layers of other modules, reachable as gt.layers.<name> (imported last: they build on Layer).
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract  # noqa: E402
from .reshaping import Cropping2D, Permute, Reshape, UpSampling2D, ZeroPadding2D  # noqa: E402

LAYERS = {cls.__name__: cls for cls in (InputLayer, Dense, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D,
                                         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                                         Flatten, Dropout, BatchNormalization, Activation, ReLU, LeakyReLU, PReLU,
                                         ELU, Softmax, Add, Average, Subtract, Multiply, Maximum, Minimum, Concatenate,
                                         ZeroPadding2D, Cropping2D, UpSampling2D, Reshape, Permute)}


LAYERS["Input"] = InputLayer  # its name in checkpoints


def config_name(layer) -> str:
    """The layer's class name in checkpoints."""
    return getattr(type(layer), "config_name", type(layer).__name__)


def from_config(class_name: str, config: dict) -> Layer:
    if class_name not in LAYERS:
        raise ValueError(f"layer class {class_name!r} is not a gputrain layer")
    return LAYERS[class_name](**config)


def __getattr__(name: str):  # Keras's other layers (Embedding, LSTM, RandomFlip, ...)
    from .unsupported import missing
    return missing("layers", name, ", ".join(sorted(LAYERS)))
