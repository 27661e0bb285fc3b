"""The training input pipeline (gputrain.feed.BatchFeed): every batch of an epoch arrives in the epoch's
order, intact and with the dtypes the model expects, through rings of any depth; a failure in the
producer thread is raised in the training loop; closing mid-epoch returns promptly."""
import threading
import time
import types

import numpy as np
import pytest

import gputrain as gt
from gputrain import _core, losses
from gputrain import feed as feed_module
from gputrain.feed import BatchFeed


def sparse_labels(y):
    return losses.SparseCategoricalCrossentropy().labels(y)


def collect(feed):
    """(x, y, count) of every batch, read while the batch is current (its slot is reused after)."""
    out = []
    for xb, yb, count, waited in feed:
        assert waited >= 0.0
        out.append((xb.numpy(), None if yb is None else yb.numpy(), count, xb.device))
    return out


@pytest.mark.parametrize("x_dtype, fed_dtype", [("uint8", "uint8"), ("float32", "float32"),
                                                ("float64", "float32"), ("int16", "float32")])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_every_row_arrives_in_order_with_its_dtype(device, rng, x_dtype, fed_dtype, depth):
    n, batch_size = 29, 6  # the last batch has 5 rows
    x = (rng.random((n, 4, 3)) * 255).astype(x_dtype)
    y = rng.integers(0, 10, size=n)
    order = rng.permutation(n)
    feed = BatchFeed(x, y, order, batch_size, device, sparse_labels, depth=depth)
    try:
        batches = collect(feed)
    finally:
        feed.close()
    assert [b[2] for b in batches] == [6, 6, 6, 6, 5]
    for i, (xb, yb, count, where) in enumerate(batches):
        rows = order[i * batch_size:(i + 1) * batch_size]
        assert where == device and xb.dtype == fed_dtype and yb.dtype == np.int32
        np.testing.assert_array_equal(xb, x[rows].astype(fed_dtype))
        np.testing.assert_array_equal(yb, y[rows])


def test_resumes_at_start_step_and_carries_float_labels(device, rng):
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = rng.random((20, 1))
    order = np.arange(20)
    feed = BatchFeed(x, y, order, 8, device, losses.BinaryCrossentropy().labels, start_step=1)
    try:
        batches = collect(feed)
    finally:
        feed.close()
    assert [b[2] for b in batches] == [8, 4]
    np.testing.assert_array_equal(batches[0][0], x[8:16])
    np.testing.assert_array_equal(batches[1][1], y[16:].astype(np.float32))


def test_without_labels(device, rng):
    x = rng.standard_normal((7, 2)).astype(np.float32)
    feed = BatchFeed(x, None, np.arange(7), 4, device, sparse_labels)
    try:
        batches = collect(feed)
    finally:
        feed.close()
    assert [b[1] for b in batches] == [None, None]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)


def test_producer_errors_are_raised_in_the_training_loop(device, rng):
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = np.arange(40)
    calls = []

    def labels(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise ValueError("y: bad labels in batch 3")
        return sparse_labels(batch)

    feed = BatchFeed(x, y, np.arange(40), 8, device, labels)
    seen = 0
    with pytest.raises(ValueError, match="bad labels in batch 3"):
        for _ in feed:
            seen += 1
    feed.close()
    assert seen == 2


def test_bad_batches_from_the_labels_raise_clear_errors(device, rng):
    x = rng.standard_normal((10, 3)).astype(np.float32)
    feed = BatchFeed(x, np.arange(10), np.arange(10), 4, device, lambda y: sparse_labels(y)[:-1])
    with pytest.raises(ValueError, match="x and y must have the same number of rows, got 4 and 3"):
        collect(feed)
    feed.close()
    ragged = BatchFeed(x, np.arange(10), np.arange(10), 4, device,
                       lambda y: sparse_labels(y).reshape(-1, 2) if len(y) == 2 else sparse_labels(y))
    with pytest.raises(ValueError, match=r"y: expected rows of shape \(\)"):
        collect(ragged)
    ragged.close()


def test_bad_arguments(rng):
    x = np.zeros((4, 2), np.float32)
    for depth, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="depth: expected an integer >= 1"):
            BatchFeed(x, None, np.arange(4), 2, "cpu", sparse_labels, depth=depth)
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1"):
        BatchFeed(x, None, np.arange(4), 0, "cpu", sparse_labels)


@pytest.mark.parametrize("depth", [1, 2])
def test_close_mid_epoch_returns_promptly(device, rng, depth):
    x = rng.standard_normal((400, 16)).astype(np.float32)
    feed = BatchFeed(x, np.arange(400) % 10, np.arange(400), 4, device, sparse_labels, depth=depth)
    for i, (xb, _, _, _) in enumerate(feed):
        np.testing.assert_array_equal(xb.numpy(), x[4 * i:4 * i + 4])
        if i == 2:
            break
    started = time.perf_counter()
    feed.close()
    assert time.perf_counter() - started < 5.0
    assert not feed._thread.is_alive()
    # Never iterated: the producer is waiting for a free slot and must notice close() too.
    idle = BatchFeed(x, None, np.arange(400), 4, device, sparse_labels, depth=depth)
    time.sleep(0.05)
    started = time.perf_counter()
    idle.close()
    assert time.perf_counter() - started < 5.0
    assert not idle._thread.is_alive()
    assert not any(t.name == "gputrain-feed" and t.is_alive() for t in threading.enumerate())


def test_uint8_images_train_as_their_float32_values(device, rng):
    """models.py takes the feed's uint8 batches: training on uint8 images equals training on the same
    values as float32."""
    x8 = rng.integers(0, 256, size=(24, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 3, size=24)
    histories = []
    for x in (x8, x8.astype(np.float32)):
        gt.utils.set_random_seed(7)
        model = gt.Sequential([gt.layers.Flatten(input_shape=(4, 4)), gt.layers.Dense(3)])
        model.compile(optimizer=gt.optimizers.SGD(1e-4),
                      loss=gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
        histories.append(model.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"])
    assert histories[0] == histories[1]


@pytest.mark.parametrize("stop_after", [None, 1])
def test_a_closed_feed_hands_its_ring_to_the_next(device, rng, stop_after):
    """Page-locked memory is slow to allocate, so fit reuses one ring for all its epochs: close() returns
    it with every slot free, also when the epoch stopped early with batches still staged."""
    x = rng.standard_normal((30, 5)).astype(np.float32)
    y = rng.integers(0, 4, size=30)
    first = BatchFeed(x, y, np.arange(30), 4, device, sparse_labels, depth=3)
    for i, _ in enumerate(first):
        if i == stop_after:
            break
    time.sleep(0.05)  # let the producer fill every slot
    ring = first.close()
    assert ring is not None
    order = rng.permutation(30)
    second = BatchFeed(x, y, order, 4, device, sparse_labels, depth=3, ring=ring)
    try:
        batches = collect(second)
    finally:
        assert second.close() is ring
    assert sum(b[2] for b in batches) == 30
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x[order])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y[order])


def test_a_ring_for_another_shape_is_refused(device, rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    feed = BatchFeed(x, None, np.arange(8), 4, device, sparse_labels)
    collect(feed)
    ring = feed.close()
    with pytest.raises(ValueError, match="ring: made for 4 rows x 2 slots"):
        BatchFeed(x, None, np.arange(8), 3, device, sparse_labels, ring=ring)
    wider = BatchFeed(rng.standard_normal((8, 6)).astype(np.float32), None, np.arange(8), 4, device,
                      sparse_labels, ring=ring)
    with pytest.raises(ValueError, match=r"x: expected rows of shape \(5,\), got an array of shape \(4, 6\)"):
        collect(wider)
    wider.close()


def test_fit_makes_one_ring_for_all_its_epochs(device, rng, monkeypatch):
    made = []
    real = feed_module._core.StagingRing

    def counting_ring(*args):
        made.append(args)
        return real(*args)

    monkeypatch.setattr(feed_module, "_core", types.SimpleNamespace(StagingRing=counting_ring,
                                                                    StagedBatch=_core.StagedBatch))
    model = gt.Sequential([gt.layers.Dense(3, input_shape=(5,))])
    model.compile(optimizer="sgd", loss=gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  device=device)
    model.fit(rng.standard_normal((21, 5)).astype(np.float32), rng.integers(0, 3, size=21),
              batch_size=4, epochs=3, verbose=0)
    assert len(made) == 1
