"""Callbacks for fit, in Keras's words: ModelCheckpoint (by epoch, every N steps or every M minutes,
optionally best-only), EarlyStopping, TerminateOnNaN, and History, which fit returns."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from . import checks, saving


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
    """Saves the whole model (weights, optimizer state, training progress) with an atomic write.

    filepath: where to save; may hold Keras placeholders such as {epoch:02d} or {val_loss:.3f}. None
    (the default) saves `<model name>-<architecture key>.safetensors` in the platform's persistent folder
    (Google Drive on Colab, /storage on Paperspace, /kaggle/working on Kaggle; else
    ~/.gputrain/checkpoints), replaced on each save so the newest state is always there; the key (a hash
    of the layers and their settings) keeps different models of one user apart in that shared folder.
    save_freq: "epoch", or a number of training steps. every_minutes: also save when this many minutes
    have passed since the last save. save_best_only: at epoch ends, save only when `monitor` improved.

    Nothing good is lost: weights holding NaN or Inf are never saved, and a file this fit neither wrote
    nor resumed from, which holds a model trained further than this one, is renamed aside (the new name
    is printed) instead of being overwritten. `last_path` is the file last saved, or resumed from."""

    def __init__(self, filepath=None, save_freq="epoch", every_minutes: float | None = None,
                 save_best_only: bool = False, monitor: str = "val_loss", mode: str = "auto", verbose: int = 0):
        if save_freq != "epoch":
            save_freq = checks.count(save_freq, "save_freq", 1)
        if every_minutes is not None:
            every_minutes = checks.number(every_minutes, "every_minutes", low=0.0, low_open=True)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if filepath is not None and not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath: expected a path or None, got {type(filepath).__name__}")
        self.filepath = filepath
        self.save_freq = save_freq
        self.every_minutes = every_minutes
        self.save_best_only = bool(save_best_only)
        self.monitor = monitor
        self.verbose = verbose
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self._better = np.greater if mode == "max" else np.less
        self._best = -np.inf if mode == "max" else np.inf
        self._last_save = time.monotonic()
        self._ours: set = set()  # files this fit wrote or resumed from: ours to replace
        self._warned_nonfinite = False
        self.last_path: Path | None = None

    @property
    def reads_batch_logs(self) -> bool:
        # Only a mid-epoch save into a file name with placeholders ({loss}) needs the batch's values.
        mid_epoch = isinstance(self.save_freq, int) or self.every_minutes is not None
        return mid_epoch and self.filepath is not None and "{" in str(self.filepath)

    def single_file(self) -> Path | None:
        """The one file this callback writes when its filepath has no placeholders; None otherwise."""
        if self.filepath is None or "{" in str(self.filepath):
            return None
        return Path(self.filepath).expanduser()

    def folder(self) -> Path:
        return self.path_for({}).parent

    def check_target(self) -> None:
        """Raises, before training starts, when the folder checkpoints go to cannot be one."""
        folder = self.folder()
        for parent in (folder, *folder.parents):
            if parent.exists():
                if not parent.is_dir():
                    raise NotADirectoryError(f"checkpoints go to {folder}, but {parent} is a file, not a folder"
                                             f" (set GPUTRAIN_CHECKPOINT_DIR or filepath to a folder)")
                break

    def path_for(self, logs: dict) -> Path:
        if self.filepath is None:
            return default_checkpoint_dir() / saving.default_filename(self.model)
        path = str(self.filepath)
        state = self.model.training_state
        # Keras numbers the epoch being saved from 1: the one just completed, or the one in progress.
        epoch = state["epoch"] + (1 if state["samples"] else 0)
        try:
            path = path.format(epoch=epoch, **logs)
        except (KeyError, IndexError, ValueError):
            pass  # a placeholder with nothing to fill (for example {val_loss} mid-epoch) stays as written
        return Path(path).expanduser()

    def resumed_from(self, path: Path) -> None:
        self.last_path = Path(path)
        self._ours.add(self.last_path)

    def save(self, logs: dict | None = None):
        path = self.path_for(logs or {})
        if path not in self._ours:
            kept = saving.keep_aside_if_further(path, self.model.optimizer.iterations)
            if kept is not None:
                print(f"{path} held a model trained further than this one: kept as {kept}")
        if not saving.save_model(self.model, path, finite_only=True):
            if not self._warned_nonfinite:
                self._warned_nonfinite = True
                print(f"not saved to {path}: the weights hold NaN or Inf")
            return
        self.last_path = path
        self._ours.add(path)
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

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False):
        self.monitor = monitor
        self.patience = checks.count(patience, "patience", 0)
        self.min_delta = abs(checks.number(min_delta, "min_delta"))
        self.verbose = verbose
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
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
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite, as Keras's does. (fit also stops
    on its own when it sees such a loss, at the latest when the progress bar next reads it; this
    callback reads every batch's loss, which costs a device synchronisation per step.)"""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def default_checkpoint_dir() -> Path:
    """GPUTRAIN_CHECKPOINT_DIR if set; else the platform's persistent folder (which survives the end of a
    notebook session) plus gputrain-checkpoints, or ~/.gputrain/checkpoints where the platform has none."""
    from .session import persistent_dir
    from .settings import get as setting
    folder = setting("GPUTRAIN_CHECKPOINT_DIR")
    if folder:
        return Path(folder).expanduser()
    base = persistent_dir()
    return (Path(base) / "gputrain-checkpoints") if base else Path.home() / ".gputrain" / "checkpoints"
