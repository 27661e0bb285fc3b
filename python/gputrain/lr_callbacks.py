"""Keras's learning-rate callbacks: LearningRateScheduler (a function of the epoch) and ReduceLROnPlateau
(divide on a plateau of a monitored value). Both set `model.optimizer.learning_rate`, which each
training step reads (a compiled step takes it as the step's scalar, so no plan is rebuilt), and log
it as "learning_rate" at the epoch's end, as Keras 3 does."""
from __future__ import annotations

import math

from . import checks
from .callbacks import Callback, Monitor


def _set_learning_rate(model, value, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{who}: the schedule must return a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{who}: the learning rate must be a positive finite number, got {value}")
    model.optimizer.learning_rate = value
    return value


class LearningRateScheduler(Callback):
    """At each epoch's start, learning_rate = schedule(epoch, learning_rate) (epoch from 0), or
    schedule(epoch) for a function of one argument."""
    reads_batch_logs = False

    def __init__(self, schedule, verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"schedule: expected a function of the epoch, got {schedule!r}")
        self.schedule, self.verbose = schedule, checks.count(verbose, "verbose", 0)

    def on_epoch_begin(self, epoch, logs=None):
        current = self.model.optimizer.learning_rate
        try:
            value = self.schedule(epoch, current)
        except TypeError:  # a schedule of the epoch alone (Keras 2's form)
            value = self.schedule(epoch)
        value = _set_learning_rate(self.model, value, "LearningRateScheduler")
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {value}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """learning_rate × factor (not below min_lr) once `monitor` has not improved by min_delta for
    `patience` epochs; then `cooldown` epochs before watching again (Keras's rules)."""
    reads_batch_logs = False

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        self.factor = checks.number(factor, "factor", low=0.0, low_open=True)
        if self.factor >= 1.0:
            raise ValueError(f"factor: ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        self._monitor = Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = checks.count(patience, "patience", 0)
        self.verbose = checks.count(verbose, "verbose", 0)
        self.cooldown = checks.count(cooldown, "cooldown", 0)
        self.min_lr = checks.number(min_lr, "min_lr", low=0.0)
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._monitor.value(logs, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improves(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = _set_learning_rate(self.model, max(old * self.factor, self.min_lr), "ReduceLROnPlateau")
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0
