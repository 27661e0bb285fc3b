"""The staging ring (gputrain._core.StagingRing): batches of rows reach the device intact through reused
slots of page-locked and device memory, in the order and with the dtypes given; misuse and bad input
raise clear errors. Under the CPU emulator of the GPU (GPUTRAIN_TEST_GPU_EMULATOR=1) asynchronous
copies run only when something waits for them, so a missing wait shows here as stale data."""
import time

import numpy as np
import pytest

from gputrain import _core
from conftest import EMULATED_GPU


def random_rows(rng, n, row_shape, dtype):
    if dtype == "uint8":
        return rng.integers(0, 256, size=(n, *row_shape), dtype=np.uint8)
    if dtype == "int32":
        return rng.integers(-1000, 1000, size=(n, *row_shape)).astype(np.int32)
    return rng.standard_normal((n, *row_shape)).astype(dtype)


def make_ring(device, max_rows, depth, x_shape=(5, 3), x_dtype="float32", y_shape=(), y_dtype="int32"):
    return _core.StagingRing(device, max_rows, depth, x_shape, x_dtype, y_shape, y_dtype)


def check_batch(batch, x, y, device):
    """The batch's tensors hold exactly x's and y's rows, with their dtypes, on `device`."""
    assert batch.rows == len(x)
    assert batch.x.device == device and batch.x.shape == x.shape and batch.x.dtype == str(x.dtype)
    np.testing.assert_array_equal(batch.x.numpy(), x)
    assert batch.y.device == device and batch.y.shape == y.shape and batch.y.dtype == str(y.dtype)
    np.testing.assert_array_equal(batch.y.numpy(), y)


def run_pipeline(ring, xs, ys, device):
    """Stages batches as the input pipeline does: `depth` in flight, each used and released in order."""
    in_flight = []
    for x, y in zip(xs, ys):
        if len(in_flight) == ring.depth:
            batch, bx, by = in_flight.pop(0)
            ring.acquire(batch)
            check_batch(batch, bx, by, device)
            ring.release(batch)
        in_flight.append((ring.stage(x, y), x, y))
    for batch, bx, by in in_flight:
        ring.acquire(batch)
        check_batch(batch, bx, by, device)
        ring.release(batch)


@pytest.mark.parametrize("x_dtype", ["uint8", "float32"])
@pytest.mark.parametrize("y_dtype, y_shape", [("int32", ()), ("float32", (1,)), ("float32", (3,))])
def test_every_batch_arrives_intact_with_its_dtypes(device, rng, x_dtype, y_dtype, y_shape):
    n, batch_size = 37, 8  # the last batch has 5 rows
    x = random_rows(rng, n, (7, 3), x_dtype)
    y = random_rows(rng, n, y_shape, y_dtype)
    ring = make_ring(device, batch_size, 2, (7, 3), x_dtype, y_shape, y_dtype)
    assert ring.device == device and ring.depth == 2 and ring.max_rows == batch_size
    starts = range(0, n, batch_size)
    run_pipeline(ring, [x[s:s + batch_size] for s in starts], [y[s:s + batch_size] for s in starts], device)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_slots_are_reused_over_many_batches(device, rng, depth):
    sizes = rng.integers(1, 7, size=40)  # batches of 1..6 rows in a ring of 6-row slots
    xs = [random_rows(rng, int(k), (4,), "float32") for k in sizes]
    ys = [random_rows(rng, int(k), (), "int32") for k in sizes]
    ring = make_ring(device, 6, depth, (4,))
    run_pipeline(ring, xs, ys, device)


def test_ring_without_labels(device, rng):
    ring = _core.StagingRing(device, 4, 2, (2, 2), "uint8")
    x = random_rows(rng, 3, (2, 2), "uint8")
    batch = ring.stage(x)
    ring.acquire(batch)
    assert batch.y is None
    np.testing.assert_array_equal(batch.x.numpy(), x)
    ring.release(batch)


def test_cpu_batches_are_the_host_arrays(rng):
    ring = make_ring("cpu", 4, 2)
    x, y = random_rows(rng, 4, (5, 3), "float32"), random_rows(rng, 4, (), "int32")
    batch = ring.stage(x, y)
    ring.acquire(batch)
    # No copy on the CPU: the tensors share the arrays' memory.
    assert batch.x.__array_interface__["data"][0] == x.__array_interface__["data"][0]
    assert batch.y.__array_interface__["data"][0] == y.__array_interface__["data"][0]
    ring.release(batch)


def test_a_batch_needs_its_copy_waited_for_under_the_emulator(rng):
    """The emulator defers the copy stream's copies until something waits for them: reading a batch
    before acquire() gives the slot's previous contents. This is what lets the tests above fail when
    the ring forgets to order the compute stream after a copy."""
    if not EMULATED_GPU:
        pytest.skip("checks the CPU emulator of the GPU (GPUTRAIN_TEST_GPU_EMULATOR=1)")
    ring = make_ring("cuda:0", 4, 1, (3,))
    first = (random_rows(rng, 4, (3,), "float32"), random_rows(rng, 4, (), "int32"))
    second = (first[0] + 1.0, first[1] + 1)
    batch = ring.stage(*first)
    ring.acquire(batch)
    ring.release(batch)
    batch = ring.stage(*second)
    np.testing.assert_array_equal(batch.x.numpy(), first[0])  # copy still queued: stale
    ring.acquire(batch)
    check_batch(batch, *second, "cuda:0")
    ring.release(batch)


def test_copied_says_when_a_copy_has_finished_without_waiting(device, rng):
    ring = make_ring(device, 4, 2, (3,))
    x, y = random_rows(rng, 4, (3,), "float32"), random_rows(rng, 4, (), "int32")
    batch = ring.stage(x, y)
    answers = [ring.copied(batch)]
    deadline = time.monotonic() + 10.0
    while not answers[-1] and time.monotonic() < deadline:
        answers.append(ring.copied(batch))
    assert answers[-1], "the copy never finished"
    if EMULATED_GPU and device.startswith("cuda"):
        assert answers == [False, True]  # the emulator answers "not ready" once, then runs the copy
    ring.acquire(batch)
    check_batch(batch, x, y, device)
    ring.release(batch)
    with pytest.raises(RuntimeError, match="copied: the batch is not staged"):
        ring.copied(batch)


@pytest.mark.parametrize("depth", [1, 2])
def test_a_batch_released_unused_leaves_its_slot_correct(device, rng, depth):
    """A batch may be released without being used (a loop that stops early): the slot's next filling
    must wait until the unused batch's copy has read the page-locked buffer before overwriting it. (The
    emulator reports a queued copy whose source was written before it ran.)"""
    ring = make_ring(device, 5, depth, (3,))
    for k in range(3 * depth):
        x, y = random_rows(rng, 5 - k % 2, (3,), "float32"), random_rows(rng, 5 - k % 2, (), "int32")
        batch = ring.stage(x, y)
        if k % 3 == 2:
            ring.acquire(batch)
            check_batch(batch, x, y, device)
        ring.release(batch)


def test_bad_rows_raise_clear_errors(device, rng):
    ring = make_ring(device, 4, 2, (5, 3), "float32", (), "int32")
    x, y = random_rows(rng, 4, (5, 3), "float32"), random_rows(rng, 4, (), "int32")
    with pytest.raises(ValueError, match=r"x: expected rows of shape \(5, 3\), got an array of shape \(4, 3, 5\)"):
        ring.stage(np.zeros((4, 3, 5), np.float32), y)
    with pytest.raises(ValueError, match=r"x: a batch of 5 rows does not fit the ring's slots of 1 to 4 rows"):
        ring.stage(np.zeros((5, 5, 3), np.float32), np.zeros(5, np.int32))
    with pytest.raises(ValueError, match=r"x: a batch of 0 rows"):
        ring.stage(np.zeros((0, 5, 3), np.float32), np.zeros(0, np.int32))
    with pytest.raises(TypeError, match="x: expected float32 rows, got uint8"):
        ring.stage(x.astype(np.uint8), y)
    with pytest.raises(TypeError, match="x: dtype float64 is not supported"):
        ring.stage(x.astype(np.float64), y)
    with pytest.raises(TypeError, match="x: expected a NumPy array, got list"):
        ring.stage(x.tolist(), y)
    with pytest.raises(ValueError, match=r"y: expected rows of shape \(\), got an array of shape \(4, 1\)"):
        ring.stage(x, y[:, None])
    with pytest.raises(ValueError, match="x and y must have the same number of rows, got 4 and 3"):
        ring.stage(x, y[:3])
    with pytest.raises(ValueError, match="y: this ring carries labels"):
        ring.stage(x)
    with pytest.raises(ValueError, match="y: this ring was made without labels"):
        _core.StagingRing(device, 4, 2, (5, 3), "float32").stage(x, y)
    # Refused batches leave the ring usable, its slots free.
    for _ in range(3):
        batch = ring.stage(x, y)
        ring.acquire(batch)
        check_batch(batch, x, y, device)
        ring.release(batch)


def test_bad_ring_arguments(device):
    with pytest.raises(ValueError, match="depth: must be at least 1, got 0"):
        make_ring(device, 4, 0)
    with pytest.raises(ValueError, match="max_rows: must be at least 1, got 0"):
        make_ring(device, 0, 2)
    with pytest.raises(ValueError, match="dtype: 'float64' is not supported"):
        make_ring(device, 4, 2, x_dtype="float64")
    with pytest.raises(ValueError, match="y_row_shape and y_dtype: give both"):
        _core.StagingRing(device, 4, 2, (3,), "float32", (), None)
    with pytest.raises(ValueError, match="unknown backend .gpu."):
        make_ring("gpu:zero", 4, 2)


def test_out_of_order_use_raises(device, rng):
    ring = make_ring(device, 4, 2, (3,))
    x, y = random_rows(rng, 2, (3,), "float32"), random_rows(rng, 2, (), "int32")
    first, second = ring.stage(x, y), ring.stage(x, y)
    with pytest.raises(RuntimeError, match="a ring of depth 2 holds at most 2 batches, so release"):
        ring.stage(x, y)
    ring.release(first)
    with pytest.raises(RuntimeError, match="release: the batch is not staged in this ring"):
        ring.release(first)
    with pytest.raises(RuntimeError, match="acquire: the batch is not staged in this ring"):
        make_ring(device, 4, 2, (3,)).acquire(second)
    third = ring.stage(x + 1, y + 1)  # takes the released slot
    ring.acquire(second)
    check_batch(second, x, y, device)
    ring.acquire(third)
    check_batch(third, x + 1, y + 1, device)
