"""Losses in Keras's words: each converts and checks the labels on the host and adds itself to the
model's plan, which computes it on the device (cpp/core/train_plan.cpp). Where the model ends in the
activation a probability loss expects (softmax for cross-entropy, sigmoid for binary cross-entropy), the
loss is computed from the logits instead, exactly as Keras does: the same value, without the rounding
of log(softmax). The element-wise losses (mean squared error, ...) are listed once, with their formulas,
in cpp/core/point_losses.h."""
from __future__ import annotations

import math

import numpy as np

from . import _core, checks, ops
from .tensor import tensor as _tensor

_EPSILON = 1e-7  # Keras's backend epsilon


def _host(values) -> np.ndarray:
    """float32 values on the host (a gt.Tensor is copied back)."""
    return np.asarray(values.numpy() if isinstance(values, _core.Tensor) else values, np.float32)


class Loss:
    name = "loss"
    fused_activation: str | None = None  # the output activation this loss can absorb

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def labels(self, y: np.ndarray) -> np.ndarray:
        """Host-side label conversion for a batch (dtype, shape checks)."""
        return np.asarray(y, np.float32)

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> None:
        """Whole-array checks of y against the model's output shape (without the batch), before fit or
        evaluate starts, so a mismatch is reported once, naming y's shape."""

    def add_to_plan(self, plan, activation, output_shape: tuple, output: int = -1, weight: float = 1.0,
                    metrics=("accuracy",), class_weight=None) -> None:
        """Adds this loss on the plan's value `output`, whose layer ends in `activation` (None where the
        loss may not take it over), weighted by `weight`, with the plan's `metrics` ("accuracy" or an
        element-wise loss's name) on the same output; `class_weight`: fit's (the trainer has checked that
        this loss takes it)."""
        raise NotImplementedError(type(self).__name__)

    def units_per_sample(self, output_shape: tuple) -> int:
        """How many predictions a sample's accuracy counts."""
        return 1

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss of y_pred against y_true as a scalar gt.Tensor (as Keras's loss_fn(y_true, y_pred)),
        computed by the same kernels as training."""
        if sample_weight is not None:
            raise NotImplementedError("loss: sample_weight is not supported yet")
        loss = self._value(y_true, y_pred)
        return loss if isinstance(loss, _core.Tensor) else _tensor(np.asarray(loss, np.float32))

    def _value(self, y_true, y_pred):
        raise NotImplementedError(type(self).__name__)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    fused_activation = "softmax"

    def labels(self, y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y: sparse labels must have shape (batch,), got {y.shape}")
        if y.dtype.kind not in "iu":
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("y: sparse labels must be integer class indices")
        return y.astype(np.int32)

    def _value(self, y_true, y_pred):
        labels = self.labels(y_true.numpy() if isinstance(y_true, _core.Tensor) else y_true)
        if not self.from_logits:  # probabilities, clipped as Keras clips them, are logits of themselves
            y_pred = np.log(np.clip(_host(y_pred), _EPSILON, 1.0 - _EPSILON)).astype(np.float32)
        return ops.softmax_cross_entropy(labels, _host(y_pred))[0]

    def add_to_plan(self, plan, activation, output_shape, output=-1, weight=1.0, metrics=("accuracy",),
                    class_weight=None):
        if self.from_logits:
            plan.add_loss("sparse_categorical", False, output, weight, list(metrics), class_weight=class_weight)
        elif activation == "softmax" and len(output_shape) == 1:
            plan.add_loss("sparse_categorical", True, output, weight, list(metrics), class_weight=class_weight)
        else:  # probabilities that no softmax of the model produced
            plan.add_loss("sparse_categorical_probabilities", False, output, weight, list(metrics),
                          class_weight=class_weight)


class CategoricalCrossentropy(SparseCategoricalCrossentropy):
    """One-hot labels; computed as the sparse loss on their class indices."""
    name = "categorical_crossentropy"

    def labels(self, y):
        y = np.asarray(y)
        if y.ndim != 2 or not np.all((y == 0) | (y == 1)) or not np.all(y.sum(axis=1) == 1):
            raise ValueError(f"y: categorical labels must be one-hot rows, got shape {y.shape}")
        return np.argmax(y, axis=1).astype(np.int32)

    def check_targets(self, y, output_shape):
        if np.ndim(y) == 2 and y.shape[1] != output_shape[-1]:
            raise ValueError(f"y: one-hot rows of width {y.shape[1]} (y has shape {y.shape}), but the model "
                             f"has {output_shape[-1]} outputs")


class _TargetsLikeOutputs(Loss):
    """Float targets shaped like the output (one row per sample, however the output is shaped)."""

    def labels(self, y):
        y = np.asarray(y, np.float32)
        return y.reshape(len(y), -1)

    def check_targets(self, y, output_shape):
        per_sample = int(np.prod(y.shape[1:], dtype=np.int64))
        outputs = int(np.prod(output_shape, dtype=np.int64))
        if per_sample != outputs:
            raise ValueError(f"y: {per_sample} target(s) per sample (y has shape {y.shape}), but the model "
                             f"has {outputs} output(s) per sample")

    def units_per_sample(self, output_shape):
        return int(math.prod(output_shape))


class BinaryCrossentropy(_TargetsLikeOutputs):
    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def _value(self, y_true, y_pred):
        y_pred = _host(y_pred)
        return ops.binary_cross_entropy(self.labels(_host(y_true)).reshape(y_pred.shape), y_pred, self.from_logits)[0]

    def add_to_plan(self, plan, activation, output_shape, output=-1, weight=1.0, metrics=("accuracy",),
                    class_weight=None):
        if self.from_logits:
            plan.add_loss("binary_logits", False, output, weight, list(metrics))
        else:
            plan.add_loss("binary_probabilities", activation == "sigmoid", output, weight, list(metrics))


class _PointLoss(_TargetsLikeOutputs):
    """An element-wise loss of Keras's: the mean over every element of its formula."""
    aliases: tuple = ()

    def __init__(self):
        super().__init__(False)

    def param(self) -> float:
        return 0.0

    def _value(self, y_true, y_pred):
        y_pred = _host(y_pred)
        return ops.point_loss(self.name, self.labels(_host(y_true)).reshape(y_pred.shape), y_pred, self.param())[0]

    def add_to_plan(self, plan, activation, output_shape, output=-1, weight=1.0, metrics=(), class_weight=None):
        plan.add_loss(self.name, False, output, weight, list(metrics), self.param())

    def get_config(self) -> dict:
        return {}


class MeanSquaredError(_PointLoss):
    name, aliases = "mean_squared_error", ("mse",)


class MeanAbsoluteError(_PointLoss):
    name, aliases = "mean_absolute_error", ("mae",)


class MeanAbsolutePercentageError(_PointLoss):
    name, aliases = "mean_absolute_percentage_error", ("mape",)


class MeanSquaredLogarithmicError(_PointLoss):
    name, aliases = "mean_squared_logarithmic_error", ("msle",)


class LogCosh(_PointLoss):
    name, aliases = "log_cosh", ("logcosh",)


class Poisson(_PointLoss):
    name = "poisson"


class Huber(_PointLoss):
    name = "huber"

    def __init__(self, delta: float = 1.0):
        super().__init__()
        self.delta = checks.number(delta, "delta", low=0.0)

    def param(self) -> float:
        return self.delta

    def get_config(self) -> dict:
        return {"delta": self.delta}


_CLASSES = (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCosh, Poisson, Huber)
# Keras's names: the function's ("mean_squared_error"), its short one ("mse") and the class's.
_BY_NAME = {name: cls for cls in _CLASSES for name in (cls.name, *getattr(cls, "aliases", ()), cls.__name__)}


def get(identifier) -> Loss:
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss) and identifier in _CLASSES:
        return identifier()
    if not isinstance(identifier, str) or identifier not in _BY_NAME:
        raise ValueError(f"loss: {identifier!r} is not one of {', '.join(c.name for c in _CLASSES)} (or their "
                         f"short names: mse, mae, mape, msle, logcosh)")
    return _BY_NAME[identifier]()


def from_config(name: str, config: dict) -> Loss:
    if name not in _BY_NAME:
        raise ValueError(f"loss: {name!r} is not one of {', '.join(c.name for c in _CLASSES)}")
    return _BY_NAME[name](**config)


def __getattr__(name: str):  # Keras's other losses (Hinge, KLDivergence, ...)
    from .unsupported import missing
    return missing("losses", name, ", ".join(c.__name__ for c in _CLASSES))
