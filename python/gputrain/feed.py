"""Input pipeline for fit: a background thread gathers the next batches (shuffled rows, converted to
float32 unless uint8 images may stay uint8) and copies them to the device while the current step
computes; the training loop measures how long it waits for each batch."""
from __future__ import annotations

import queue
import threading
import time

import numpy as np

from .tensor import tensor as _tensor

_DONE = object()


class BatchFeed:
    def __init__(self, x: np.ndarray, y: np.ndarray | None, order: np.ndarray, batch_size: int,
                 device: str, prepare_labels, start_step: int = 0, depth: int = 2, keep_uint8: bool = False):
        self._x, self._y, self._order = x, y, order
        self._batch, self._device, self._prepare_labels = batch_size, device, prepare_labels
        self._start = start_step
        self._keep_uint8 = keep_uint8  # the consumer converts uint8 images on the device
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, daemon=True, name="gputrain-feed")
        self._thread.start()

    def _produce(self):
        try:
            n = len(self._order)
            for start in range(self._start * self._batch, n, self._batch):
                if self._stop.is_set():
                    return
                rows = self._order[start:start + self._batch]
                xb = np.asarray(self._x[rows])
                if not (self._keep_uint8 and xb.dtype == np.uint8):
                    xb = xb.astype(np.float32, copy=False)
                xb = _tensor(xb, device=self._device)
                yb = None
                if self._y is not None:
                    yb = _tensor(self._prepare_labels(self._y[rows]), device=self._device)
                self._put((xb, yb, len(rows)))
        except BaseException as exc:  # handed to the training loop, which raises it
            self._put(exc)
            return
        self._put(_DONE)

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            started = time.perf_counter()
            item = self._queue.get()
            waited = time.perf_counter() - started
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            xb, yb, count = item
            yield xb, yb, count, waited

    def close(self):
        self._stop.set()
        self._thread.join(timeout=10)
