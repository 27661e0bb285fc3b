"""Page-locked host tensors and asynchronous copies: t.pin_memory(), t.is_pinned(),
t.to(gpu, non_blocking=True), gputrain.synchronize(). Under the CPU emulator of the GPU
(GPUTRAIN_TEST_GPU_EMULATOR=1) an asynchronous copy runs only once the device is told to wait for it,
so a copy the device does not wait for reads back stale."""
import numpy as np
import pytest

import gputrain as gt


def gpu_only(device):
    if device == "cpu":
        pytest.skip("page-locked memory serves copies to a GPU")


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int32"])
def test_non_blocking_copy_from_pinned_memory_arrives(device, rng, dtype):
    gpu_only(device)
    x = (rng.random((33, 7)) * 200).astype(dtype)
    pinned = gt.tensor(x, device="cpu").pin_memory(device)
    assert pinned.is_pinned() and pinned.device == "cpu" and pinned.dtype == dtype
    np.testing.assert_array_equal(pinned.numpy(), x)
    np.testing.assert_array_equal(np.asarray(pinned), x)  # an ordinary host tensor for everything else
    on_gpu = pinned.to(device, non_blocking=True)
    assert on_gpu.device == device and on_gpu.shape == x.shape
    np.testing.assert_array_equal(on_gpu.numpy(), x)
    again = pinned.to(device, non_blocking=True)
    del pinned  # freed only once the copy has read it
    np.testing.assert_array_equal(again.numpy(), x)


def test_kernels_see_a_non_blocking_copy(device, rng):
    gpu_only(device)
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(1000).astype(np.float32)
    pa, pb = (gt.tensor(v, device="cpu").pin_memory(device) for v in (a, b))
    total = gt._core.add(pa.to(device, non_blocking=True), pb.to(device, non_blocking=True))
    np.testing.assert_array_equal(total.numpy(), a + b)


def test_the_source_may_be_rewritten_after_synchronize(device, rng):
    """The documented reuse of one pinned buffer: copy, synchronize, write the next data, copy again."""
    gpu_only(device)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    pinned = gt.tensor(x, device="cpu").pin_memory(device)

    class Interface:  # a writable NumPy view of the pinned memory
        __array_interface__ = pinned.__array_interface__

    view = np.asarray(Interface())
    first = pinned.to(device, non_blocking=True)
    gt.synchronize(device)
    view[...] = x + 1
    second = pinned.to(device, non_blocking=True)
    np.testing.assert_array_equal(first.numpy(), x)
    np.testing.assert_array_equal(second.numpy(), x + 1)


def test_non_blocking_is_synchronous_where_it_cannot_be_asynchronous(device, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    host = gt.tensor(x, device="cpu")
    assert not host.is_pinned()
    np.testing.assert_array_equal(host.to(device, non_blocking=True).numpy(), x)  # pageable source
    there = gt.tensor(x, device=device)
    np.testing.assert_array_equal(there.to("cpu", non_blocking=True).numpy(), x)  # device to host
    assert not there.to("cpu").is_pinned()


def test_pin_memory_errors(device, rng):
    host = gt.tensor(np.ones(3, np.float32), device="cpu")
    with pytest.raises(ValueError, match="pin_memory: page-locked memory serves copies to a GPU"):
        host.pin_memory("cpu")
    with pytest.raises(ValueError, match="not a device name|unknown backend"):
        host.pin_memory("gpu:0")
    gpu_only(device)
    with pytest.raises(ValueError, match=f"pin_memory: the tensor is on {device}"):
        gt.tensor(np.ones(3, np.float32), device=device).pin_memory(device)
