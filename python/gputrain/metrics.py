"""keras.metrics: metric objects for compile (computed on the device beside the loss, logged under their
`name`) and, for the mean errors, standalone update_state / result / reset_state through the same
kernels (gputrain.ops.point_loss); Mean and Sum aggregate values you give them. Metric names work in
compile as well ("accuracy", "mae", "rmse", ...)."""
from __future__ import annotations

import math

import numpy as np

from . import ops
from .unsupported import NotSupportedError, missing


class Metric:
    default_name = "metric"
    kernel: str | None = None  # what a compiled step computes: "accuracy" or an element-wise loss's name
    labels: str | None = None  # the labels an accuracy needs ("sparse", "categorical", "targets"), or any
    root = False               # the result is the square root of the mean (rmse)

    def __init__(self, name: str | None = None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, got {name!r}")
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self) -> None:
        self._total, self._count = 0.0, 0

    def result(self) -> float:
        mean = self._total / self._count if self._count else 0.0
        return math.sqrt(mean) if self.root else mean

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotSupportedError(f"{type(self).__name__}.update_state outside compile is not supported yet; pass the "
                                f"metric to compile, which computes it on the device")


class _MeanError(Metric):
    """The mean over the samples seen of an element-wise loss (core/point_losses.h)."""

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is not None:
            raise NotSupportedError(f"{type(self).__name__}: sample_weight is not supported yet")
        y_pred = np.asarray(y_pred, np.float32)
        y_true = np.asarray(y_true, np.float32).reshape(y_pred.shape)
        loss, _ = ops.point_loss(self.kernel, y_true, y_pred)
        rows = len(y_pred) if y_pred.ndim else 1
        self._total += float(loss) * rows
        self._count += rows


class MeanSquaredError(_MeanError):
    default_name = kernel = "mean_squared_error"


class RootMeanSquaredError(_MeanError):
    default_name, kernel, root = "root_mean_squared_error", "mean_squared_error", True


class MeanAbsoluteError(_MeanError):
    default_name = kernel = "mean_absolute_error"


class MeanAbsolutePercentageError(_MeanError):
    default_name = kernel = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_MeanError):
    default_name = kernel = "mean_squared_logarithmic_error"


class LogCoshError(_MeanError):
    default_name, kernel = "logcosh", "log_cosh"


class Poisson(_MeanError):
    default_name = kernel = "poisson"


class SparseCategoricalAccuracy(Metric):
    default_name, kernel, labels = "sparse_categorical_accuracy", "accuracy", "sparse"


class CategoricalAccuracy(Metric):
    default_name, kernel, labels = "categorical_accuracy", "accuracy", "categorical"


class BinaryAccuracy(Metric):
    default_name, kernel, labels = "binary_accuracy", "accuracy", "targets"

    def __init__(self, name: str | None = None, dtype=None, threshold: float = 0.5):
        if threshold != 0.5:
            raise NotSupportedError("BinaryAccuracy: thresholds other than 0.5 are not supported yet")
        super().__init__(name, dtype)


class Mean(Metric):
    """The (weighted) mean of the values given to update_state."""
    default_name = "mean"

    def update_state(self, values, sample_weight=None) -> None:
        values = np.asarray(values, np.float64)
        weights = np.broadcast_to(1.0 if sample_weight is None else np.asarray(sample_weight, np.float64),
                                  values.shape)
        self._total += float((values * weights).sum())
        self._count += float(weights.sum())


class Sum(Mean):
    default_name = "sum"

    def result(self) -> float:
        return self._total


def __getattr__(name: str):
    return missing("metrics", name, "metric names in compile (metrics=['accuracy'], 'mae', 'rmse', ...) and "
                   "MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, "
                   "MeanSquaredLogarithmicError, LogCoshError, Poisson, SparseCategoricalAccuracy, "
                   "CategoricalAccuracy, BinaryAccuracy, Mean and Sum")
