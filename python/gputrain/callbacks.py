"""Callbacks for fit, in Keras's words: ModelCheckpoint (by epoch, every N steps or every M minutes,
optionally best-only), EarlyStopping, and History, which fit returns."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


class Callback:
    model = None
    # Whether on_train_batch_end reads its logs. fit then reads a compiled step's running loss and
    # metrics after every step, which waits for the device; callbacks that never look say False.
    reads_batch_logs = True

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...


class History(Callback):
    reads_batch_logs = False

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ModelCheckpoint(Callback):
    """Saves the whole model (weights, optimizer state, epoch and step) with an atomic write.

    filepath: where to save; may hold Keras placeholders such as {epoch:02d} or {val_loss:.3f}. None
    (the default) saves `<model name>-<architecture key>.safetensors` in the platform's persistent folder
    (Google Drive on Colab, /storage on Paperspace, /kaggle/working on Kaggle; else
    ~/.gputrain/checkpoints), replaced on each save so the newest state is always there; the key (a hash
    of the layers and their settings) keeps different models of one user apart in that shared folder.
    save_freq: "epoch", or a number of training steps. every_minutes: also save when this many minutes
    have passed since the last save. save_best_only: at epoch ends, save only when `monitor` improved."""

    def __init__(self, filepath=None, save_freq="epoch", every_minutes: float | None = None,
                 save_best_only: bool = False, monitor: str = "val_loss", mode: str = "auto", verbose: int = 0):
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"save_freq: expected 'epoch' or a positive number of steps, got {save_freq!r}")
        if every_minutes is not None and every_minutes <= 0:
            raise ValueError(f"every_minutes: must be positive, got {every_minutes}")
        self.filepath = filepath
        self.save_freq = save_freq
        self.every_minutes = every_minutes
        self.save_best_only = save_best_only
        self.monitor = monitor
        self.verbose = verbose
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self._better = np.greater if mode == "max" else np.less
        self._best = -np.inf if mode == "max" else np.inf
        self._last_save = time.monotonic()
        self.last_path: Path | None = None

    @property
    def reads_batch_logs(self) -> bool:
        # Only a mid-epoch save into a file name with placeholders ({loss}) needs the batch's values.
        mid_epoch = isinstance(self.save_freq, int) or self.every_minutes is not None
        return mid_epoch and self.filepath is not None and "{" in str(self.filepath)

    def folder(self) -> Path:
        return self.path_for({}).parent

    def path_for(self, logs: dict) -> Path:
        if self.filepath is None:
            from .models import architecture_key
            key = architecture_key(self.model.get_config())
            return default_checkpoint_dir() / f"{self.model.name}-{key}.safetensors"
        path = str(self.filepath)
        try:
            path = path.format(epoch=self.model.training_state["epoch"] + 1, **logs)
        except (KeyError, IndexError, ValueError):
            pass  # a placeholder with nothing to fill (for example {val_loss} mid-epoch) stays as written
        return Path(path).expanduser()

    def save(self, logs: dict | None = None):
        self.last_path = self.path_for(logs or {})
        self.model.save(self.last_path)
        self._last_save = time.monotonic()
        if self.verbose:
            print(f"saved checkpoint {self.last_path}")

    def on_train_begin(self, logs=None):
        self._last_save = time.monotonic()  # every_minutes counts from the start of this fit

    def on_train_batch_end(self, batch, logs=None):
        if self.save_best_only:
            return
        due = isinstance(self.save_freq, int) and self.model.optimizer.iterations % self.save_freq == 0
        if self.every_minutes is not None and time.monotonic() - self._last_save >= 60 * self.every_minutes:
            due = True
        if due:
            self.save(logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or not self._better(value, self._best):
                return
            self._best = value
            self.save(logs)
        elif self.save_freq == "epoch":
            self.save(logs)


class EarlyStopping(Callback):
    reads_batch_logs = False

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False):
        self.monitor, self.patience = monitor, patience
        self.min_delta = abs(min_delta)
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self._best = -np.inf
        self._wait = 0
        self._best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        score = self.sign * value
        if score - self.min_delta > self._best:
            self._best, self._wait = score, 0
            if self.restore_best_weights:
                self._best_weights = self.model.get_weights()
            return
        self._wait += 1
        if self._wait >= self.patience:  # Keras: patience epochs without improvement, then stop
            self.model.stop_training = True
            self.stopped_epoch = epoch
            if self._best_weights is not None:
                self.model.set_weights(self._best_weights)


def default_checkpoint_dir() -> Path:
    """GPUTRAIN_CHECKPOINT_DIR if set; else the platform's persistent folder (which survives the end of a
    notebook session) plus gputrain-checkpoints, or ~/.gputrain/checkpoints where the platform has none."""
    import os
    from .session import persistent_dir
    if os.environ.get("GPUTRAIN_CHECKPOINT_DIR"):
        return Path(os.environ["GPUTRAIN_CHECKPOINT_DIR"]).expanduser()
    base = persistent_dir()
    return (Path(base) / "gputrain-checkpoints") if base else Path.home() / ".gputrain" / "checkpoints"
