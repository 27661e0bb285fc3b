"""Input pipeline for fit: a background thread gathers the next batches' rows (in the epoch's shuffled
order) and stages them through a ring of page-locked host buffers and device buffers
(gputrain._core.StagingRing), whose copies run on the device's copy stream while the previous step
computes. The training loop measures how long it waits for each batch.

Dtypes: uint8 x stays uint8 (the model converts it on the device), float32 x stays float32, any other x
becomes float32 on the host; y is what `prepare_labels` (the loss's labels()) returns.

The generator keeps the ring's protocol: before a batch is yielded, the device's compute stream is made
to wait for its copy (the host does not wait); when the next batch is asked for, the step that used the
previous one has been launched, so that batch is released and its slot may be refilled once the device
is done with it. A batch's tensors are therefore valid only until the next iteration.

A ring holds page-locked memory, which is slow to allocate: close() hands the ring back once every slot
is free, and fit passes it to the next epoch's feed."""
from __future__ import annotations

import queue
import threading
import time

import numpy as np

from . import _core, checks

_DONE = object()
_POLL_S = 0.1  # how often a producer waiting for a free slot checks for close()


def _host_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    xb = np.asarray(x[rows])
    if xb.dtype != np.uint8 and xb.dtype != np.float32:
        xb = xb.astype(np.float32)
    return xb


class BatchFeed:
    def __init__(self, x: np.ndarray, y: np.ndarray | None, order: np.ndarray, batch_size: int,
                 device: str, prepare_labels, start_step: int = 0, depth: int = 2, ring=None):
        self._x, self._y, self._order = x, y, order
        self._batch = checks.count(batch_size, "batch_size", 1)
        self._depth = checks.count(depth, "depth", 1)
        self._device, self._prepare_labels, self._start = device, prepare_labels, int(start_step)
        if ring is not None and (ring.device != device or ring.max_rows != self._batch or ring.depth != self._depth):
            raise ValueError(f"ring: made for {ring.max_rows} rows x {ring.depth} slots on {ring.device}, "
                             f"this feed needs {self._batch} x {self._depth} on {device}")
        # Without a ring to reuse the producer makes one from the first batch (y's rows are known only
        # then); a reused ring checks each batch's row shapes and dtypes as it stages it.
        self._ring = ring
        # One permit per ring slot: the producer takes one per batch, the consumer gives it back when
        # it releases the batch, so stage() never finds its next slot still in use.
        self._free_slots = threading.Semaphore(self._depth)
        self._queue: queue.Queue = queue.Queue()  # never more than `depth` batches: see the permits
        self._stop = threading.Event()
        self._held = None  # the batch last yielded, until the next one is asked for
        self._thread = threading.Thread(target=self._produce, daemon=True, name="gputrain-feed")
        self._thread.start()

    def _produce(self):
        try:
            for start in range(self._start * self._batch, len(self._order), self._batch):
                if not self._take_slot():
                    break
                rows = self._order[start:start + self._batch]
                xb = _host_rows(self._x, rows)
                yb = None if self._y is None else np.asarray(self._prepare_labels(self._y[rows]))
                if self._ring is None:
                    self._ring = _core.StagingRing(
                        self._device, self._batch, self._depth, xb.shape[1:], str(xb.dtype),
                        None if yb is None else yb.shape[1:], None if yb is None else str(yb.dtype))
                self._queue.put(self._ring.stage(xb, yb))
        except BaseException as exc:  # handed to the training loop, which raises it
            self._queue.put(exc)
            return
        self._queue.put(_DONE)

    def _take_slot(self) -> bool:
        while not self._stop.is_set():
            if self._free_slots.acquire(timeout=_POLL_S):
                return True
        return False

    def _release_held(self):
        batch, self._held = self._held, None
        if batch is not None:
            self._ring.release(batch)  # the step that used it has been launched
            self._free_slots.release()

    def __iter__(self):
        try:
            while True:
                started = time.perf_counter()
                item = self._queue.get()
                waited = time.perf_counter() - started
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                self._ring.acquire(item)  # the step's kernels will wait for this batch's copy
                self._held = item
                yield item.x, item.y, item.rows, waited
                self._release_held()
        finally:
            self._release_held()

    def close(self):
        """Stops the producer (it notices within _POLL_S) and returns the ring, every slot free, for the
        next feed of the same batch size, device and row shapes; None when there is none to reuse."""
        self._stop.set()
        self._release_held()
        self._thread.join(timeout=10)
        if self._thread.is_alive():  # still inside stage(): the ring is not ours to hand on
            return None
        ring, self._ring = self._ring, None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _core.StagedBatch):
                ring.release(item)  # staged but never used: its slot becomes free
        return ring
