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

A ring holds page-locked memory, which is slow to allocate: close() hands the rings back once every slot
is free, and fit passes them to the next epoch's feed."""
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


def _listed(value) -> tuple[list, bool]:
    """(the arrays, whether they came as a list): a model of several inputs or outputs feeds lists."""
    return (list(value), True) if isinstance(value, (list, tuple)) else ([value], False)


class BatchFeed:
    """Batches of x (an array, or a list of arrays: one per model input) and y (likewise, one per loss;
    or None), yielded as tensors in the same structure. Each ring carries one x array and one y array
    (a single-input model's batch in one ring), or one of the arrays left over; all advance together."""

    def __init__(self, x, y, order: np.ndarray, batch_size: int, device: str, prepare_labels,
                 start_step: int = 0, depth: int = 2, ring=None):
        (self._xs, self._x_listed), (self._ys, self._y_listed) = _listed(x), ([], False) if y is None else _listed(y)
        self._order = order
        # One label conversion per y array (the loss's labels()).
        self._prepare = list(prepare_labels) if isinstance(prepare_labels, (list, tuple)) else [prepare_labels]
        if len(self._prepare) != len(self._ys) and self._ys:
            raise ValueError(f"prepare_labels: expected one per y array ({len(self._ys)}), got {len(self._prepare)}")
        self._batch = checks.count(batch_size, "batch_size", 1)
        self._depth = checks.count(depth, "depth", 1)
        self._device, self._start = device, int(start_step)
        for r in ring or []:
            if r.device != device or r.max_rows != self._batch or r.depth != self._depth:
                raise ValueError(f"ring: made for {r.max_rows} rows x {r.depth} slots on {r.device}, "
                                 f"this feed needs {self._batch} x {self._depth} on {device}")
        # Without rings to reuse the producer makes them from the first batch (y's rows are known only
        # then); a reused ring checks each batch's row shapes and dtypes as it stages it.
        self._rings = ring
        # One permit per ring slot: the producer takes one per batch, the consumer gives it back when
        # it releases the batch, so stage() never finds its next slot still in use.
        self._free_slots = threading.Semaphore(self._depth)
        self._queue: queue.Queue = queue.Queue()  # never more than `depth` batches: see the permits
        self._stop = threading.Event()
        self._held = None  # the batch last yielded (one staged batch per ring), until the next is asked for
        self._thread = threading.Thread(target=self._produce, daemon=True, name="gputrain-feed")
        self._thread.start()

    def _pairs(self, xbs: list, ybs: list) -> list:
        """The (x, y) each ring stages: x arrays beside y arrays, then the arrays left over alone."""
        paired = min(len(xbs), len(ybs))
        return ([(xbs[k], ybs[k]) for k in range(paired)] + [(a, None) for a in xbs[paired:]] +
                [(a, None) for a in ybs[paired:]])

    def _produce(self):
        try:
            for start in range(self._start * self._batch, len(self._order), self._batch):
                if not self._take_slot():
                    break
                rows = self._order[start:start + self._batch]
                xbs = [_host_rows(x, rows) for x in self._xs]
                ybs = [np.asarray(prepare(y[rows])) for prepare, y in zip(self._prepare, self._ys)]
                pairs = self._pairs(xbs, ybs)
                if self._rings is None:
                    self._rings = [_core.StagingRing(
                        self._device, self._batch, self._depth, xb.shape[1:], str(xb.dtype),
                        None if yb is None else yb.shape[1:], None if yb is None else str(yb.dtype))
                        for xb, yb in pairs]
                elif len(self._rings) != len(pairs):
                    raise ValueError(f"ring: {len(self._rings)} ring(s) given, this feed stages {len(pairs)} "
                                     f"arrays' batches")
                self._queue.put([ring.stage(xb, yb) for ring, (xb, yb) in zip(self._rings, pairs)])
        except BaseException as exc:  # handed to the training loop, which raises it
            self._queue.put(exc)
            return
        self._queue.put(_DONE)

    def _unpair(self, staged: list) -> tuple:
        """The staged tensors as x and y again, each in the structure it was given."""
        nx, ny = len(self._xs), len(self._ys)
        paired = min(nx, ny)
        xs = [b.x for b in staged[:nx]]
        ys = [b.y for b in staged[:paired]] + [b.x for b in staged[nx:]]
        x = xs if self._x_listed else xs[0]
        y = None if not ny else (ys if self._y_listed else ys[0])
        return x, y

    def _take_slot(self) -> bool:
        while not self._stop.is_set():
            if self._free_slots.acquire(timeout=_POLL_S):
                return True
        return False

    def _release_held(self):
        staged, self._held = self._held, None
        if staged is not None:
            for ring, batch in zip(self._rings, staged):
                ring.release(batch)  # the step that used it has been launched
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
                for ring, batch in zip(self._rings, item):
                    ring.acquire(batch)  # the step's kernels will wait for this batch's copy
                self._held = item
                x, y = self._unpair(item)
                yield x, y, item[0].rows, waited
                self._release_held()
        finally:
            self._release_held()

    def close(self):
        """Stops the producer (it notices within _POLL_S) and returns the rings, every slot free, for the
        next feed of the same batch size, device and row shapes; None when there are none to reuse."""
        self._stop.set()
        self._release_held()
        self._thread.join(timeout=10)
        if self._thread.is_alive():  # still inside stage(): the rings are not ours to hand on
            return None
        rings, self._rings = self._rings, None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, list):
                for ring, batch in zip(rings, item):
                    ring.release(batch)  # staged but never used: its slot becomes free
        return rings
