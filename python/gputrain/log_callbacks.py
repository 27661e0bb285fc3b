"""Keras's callbacks for watching training from your own code: LambdaCallback (functions for any of the
events) and CSVLogger (a row of the epoch's logs per epoch)."""
from __future__ import annotations

import csv
import os

from .callbacks import Callback

_EVENTS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
           "on_train_batch_end")


class LambdaCallback(Callback):
    """Calls the functions given for the events: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_train_batch_begin(batch, logs), on_train_batch_end(batch, logs) (also as Keras's on_batch_begin /
    on_batch_end), on_train_begin(logs), on_train_end(logs)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, on_batch_begin=None, on_batch_end=None,
                 **unsupported):
        if unsupported:
            name = next(iter(unsupported))
            raise TypeError(f"LambdaCallback: {name!r} is not an event gputrain calls; it calls "
                            f"{', '.join(_EVENTS)} (and on_batch_begin/on_batch_end)")
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin or on_batch_begin,
                 "on_train_batch_end": on_train_batch_end or on_batch_end}
        for event, function in given.items():
            if function is not None:
                if not callable(function):
                    raise TypeError(f"{event}: expected a function, got {function!r}")
                setattr(self, event, function)
        # Reading each batch's logs waits for the device: only when a batch-end function looks.
        self.reads_batch_logs = given["on_train_batch_end"] is not None


class CSVLogger(Callback):
    """Writes the epoch number and the epoch's logs (keys sorted, as Keras) to `filename`, one row per
    epoch, with a header; append=True continues an existing file (no second header)."""
    reads_batch_logs = False

    def __init__(self, filename, separator: str = ",", append: bool = False):
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename: expected a path, got {type(filename).__name__}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator: expected one character, got {separator!r}")
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self._file = self._writer = self._keys = None

    def on_train_begin(self, logs=None):
        header_written = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._keys = None if not header_written else []  # [] : header already there, keys from the first row
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *keys], delimiter=self.sep)
            if self._keys is None:
                self._writer.writeheader()
            self._keys = keys
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None
