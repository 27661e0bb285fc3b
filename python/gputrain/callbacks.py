"""Callbacks for fit, in Keras's words: ModelCheckpoint (by epoch, every N steps or every M minutes,
optionally best-only), EarlyStopping, TerminateOnNaN, and History, which fit returns; the learning-rate
callbacks (lr_callbacks.py) and the logging ones (log_callbacks.py) are reachable from here too."""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from . import checks, saving


class Callback:
    model = None
    params: dict = {}  # fit's: verbose, epochs, steps (per epoch), as Keras sets them
    # Whether on_train_batch_end reads its logs. fit then reads a compiled step's running loss and
    # metrics after every step, which waits for the device; callbacks that never look say False.
    reads_batch_logs = True

    def set_model(self, model):
        self.model = model

    def set_params(self, params: dict):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class History(Callback):
    reads_batch_logs = False

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self._recorded: set = set()  # the keys on_epoch_end recorded for the latest epoch

    def on_epoch_end(self, epoch, logs=None):
        # Called before the other callbacks' on_epoch_end, so a checkpoint they save holds this epoch's.
        self.epoch.append(epoch)
        self._recorded = set(logs or {})
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def record_late(self, logs) -> None:
        """The values callbacks added to the epoch's logs after History recorded them."""
        for key, value in (logs or {}).items():
            if key not in self._recorded:
                self.history.setdefault(key, []).append(value)


class ModelCheckpoint(Callback):
    """Saves the whole model (weights, optimizer state, training progress) with an atomic write; a
    filepath ending in .keras (or .weights.h5 with save_weights_only) writes Keras 3's format.

    filepath: where to save; may hold Keras placeholders such as {epoch:02d} or {val_loss:.3f}. None
    (the default) saves `<model name>-<architecture key>.safetensors` in the platform's persistent folder
    (Google Drive on Colab, /storage on Paperspace, /kaggle/working on Kaggle; else
    ~/.gputrain/checkpoints), replaced on each save so the newest state is always there; the key (a hash
    of the layers and their settings) keeps different models of one user apart in that shared folder.
    save_freq: "epoch", or a number of training steps. every_minutes: also save when this many minutes
    have passed since the last save. save_best_only: at epoch ends, save only when `monitor` improved.
    save_weights_only: the weights alone (as model.save_weights; such files cannot resume a fit).

    Nothing good is lost: weights holding NaN or Inf are never saved, and a file this fit neither wrote
    nor resumed from, which holds a model trained further than this one, is renamed aside (the new name
    is printed) instead of being overwritten. `last_path` is the file last saved, or resumed from."""

    def __init__(self, filepath=None, save_freq="epoch", every_minutes: float | None = None,
                 save_best_only: bool = False, monitor: str = "val_loss", mode: str = "auto", verbose: int = 0,
                 save_weights_only: bool = False):
        if save_freq != "epoch":
            save_freq = checks.count(save_freq, "save_freq", 1)
        if every_minutes is not None:
            every_minutes = checks.number(every_minutes, "every_minutes", low=0.0, low_open=True)
        self._monitor = Monitor(monitor, mode)
        if filepath is not None and not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath: expected a path or None, got {type(filepath).__name__}")
        self.filepath = filepath
        self.save_freq = save_freq
        self.every_minutes = every_minutes
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = checks.flag(save_weights_only, "save_weights_only")
        if str(filepath or "").endswith(".h5") and not self.save_weights_only:
            raise ValueError(f"filepath {filepath}: a whole model is saved as .keras (Keras 3's format) or "
                             f".safetensors (gputrain's); .h5 holds weights alone (save_weights_only=True)")
        self.monitor = monitor
        self.verbose = verbose
        self._best = None
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
        if self.save_weights_only:
            saved = saving.save_weights(self.model, path, finite_only=True)
        else:
            saved = saving.save_model(self.model, path, finite_only=True)
        if not saved:
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
            value = self._monitor.value(logs, "ModelCheckpoint")
            if value is None or not self._monitor.improves(value, self._best):
                return
            self._best = value
            self.save(logs)
        elif self.save_freq == "epoch":
            self.save(logs)


class Monitor:
    """Keras's rule for a monitored value: `mode` "min" or "max", or "auto" (larger is better for
    accuracies, smaller for losses and errors); a value improves on a reference by more than
    `min_delta`; no reference yet is always improved on."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: expected the name of a logged value, got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            name = monitor.removeprefix("val_")
            mode = "max" if "acc" in name or name in ("auc", "precision", "recall") else "min"
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(checks.number(min_delta, "min_delta"))

    def improves(self, value, reference) -> bool:
        if reference is None:
            return True
        if self.mode == "max":
            return bool(value - self.min_delta > reference)
        return bool(value + self.min_delta < reference)

    def value(self, logs, who: str):
        """The monitored value of `logs`, or None with a warning naming what there is (as Keras)."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{who}: {self.monitor!r} is not in the logs, which have {', '.join(logs or {})}",
                          RuntimeWarning, stacklevel=3)
        return value


class EarlyStopping(Callback):
    """Stops training once `monitor` has not improved for `patience` epochs (Keras 3's rules: epochs
    before `start_from_epoch` are not watched; an improvement that does not also beat `baseline` does not
    reset the count; with restore_best_weights the best epoch's weights are restored when training
    ends)."""
    reads_batch_logs = False

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0):
        self._monitor = Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = checks.count(patience, "patience", 0)
        self.verbose = checks.count(verbose, "verbose", 0)
        self.baseline = None if baseline is None else checks.number(baseline, "baseline")
        self.restore_best_weights = checks.flag(restore_best_weights, "restore_best_weights")
        self.start_from_epoch = checks.count(start_from_epoch, "start_from_epoch", 0)
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._monitor.improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._monitor.improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


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


from .log_callbacks import CSVLogger, LambdaCallback  # noqa: E402,F401  (gt.callbacks.*, as in Keras)
from .lr_callbacks import LearningRateScheduler, ReduceLROnPlateau  # noqa: E402,F401


def __getattr__(name: str):  # Keras's other callbacks (TensorBoard, BackupAndRestore, ...)
    from .unsupported import missing
    return missing("callbacks", name, "Callback, History, ModelCheckpoint (with fit(resume=True) in place of "
                   "BackupAndRestore), EarlyStopping, TerminateOnNaN, LearningRateScheduler, ReduceLROnPlateau, "
                   "CSVLogger and LambdaCallback")
