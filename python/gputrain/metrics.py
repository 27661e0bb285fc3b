"""keras.metrics: metric objects are not in gputrain yet. compile takes metrics by name ("accuracy", "acc",
"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "mae", "mse", "rmse", "mape",
"msle", "logcosh", "poisson"), computed on the device beside the loss."""
from __future__ import annotations

from .unsupported import missing


def __getattr__(name: str):
    return missing("metrics", name, "metrics by name in compile: metrics=['accuracy'] (or 'mae', 'rmse', ...)")
