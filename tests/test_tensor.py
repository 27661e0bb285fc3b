"""gt.Tensor: creation, host/device round trips, NumPy and DLPack interop, error messages."""
import numpy as np
import pytest

import gputrain as gt

STORAGE_DTYPES = ["float32", "float16", "int32", "int64", "uint8"]


def random_array(rng, shape, dtype):
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", STORAGE_DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 1, 3), (2, 3, 4, 5), (0, 3)])
def test_round_trip_every_dtype(device, rng, dtype, shape):
    x = random_array(rng, shape, dtype)
    t = gt.tensor(x, device=device)
    assert t.shape == shape and t.dtype == dtype and t.device == device
    assert t.ndim == len(shape) and t.size == x.size and t.nbytes == x.nbytes
    back = t.numpy()
    assert back.dtype == x.dtype
    np.testing.assert_array_equal(back, x)


def test_round_trip_between_devices(device, rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    t = gt.tensor(x, device="cpu").to(device)
    assert t.device == device
    np.testing.assert_array_equal(t.to("cpu").numpy(), x)
    copy = t.to(device, copy=True)
    np.testing.assert_array_equal(copy.numpy(), x)
    gt.ops.sgd_update(copy, np.ones((5, 7), np.float32), learning_rate=1.0)  # writes the copy only
    np.testing.assert_array_equal(copy.numpy(), x - 1.0)
    np.testing.assert_array_equal(t.numpy(), x)
    same = t.to(device)  # no copy asked for: the same memory
    gt.ops.sgd_update(same, np.ones((5, 7), np.float32), learning_rate=1.0)
    np.testing.assert_array_equal(t.numpy(), x - 1.0)


def test_non_contiguous_numpy_input(device, rng):
    base = rng.standard_normal((6, 8)).astype(np.float32)
    for view in (base.T, base[::2, 1::3], np.asfortranarray(base)):
        np.testing.assert_array_equal(gt.tensor(view, device=device).numpy(), view)


def test_zeros_and_empty(device):
    z = gt.zeros((3, 4), "int64", device=device)
    assert z.dtype == "int64" and z.shape == (3, 4)
    np.testing.assert_array_equal(z.numpy(), np.zeros((3, 4), np.int64))
    e = gt.empty(5, device=device)
    assert e.shape == (5,) and e.dtype == "float32"


def test_default_dtype_conversion():
    assert gt.tensor([1.5, 2.5], device="cpu").dtype == "float32"  # float64 input -> float32
    assert gt.tensor([1, 2], device="cpu").dtype == "int64"
    assert gt.tensor(np.array([1, 2], np.int16), device="cpu").dtype == "int64"
    assert gt.tensor(np.array([True, False]), device="cpu").dtype == "float32"
    t = gt.tensor([[1, 2]], dtype="float16", device="cpu")
    assert t.dtype == "float16"
    np.testing.assert_array_equal(t.numpy(), np.array([[1, 2]], np.float16))


def test_bfloat16_storage_round_trip(device, rng):
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 conversion uses ml_dtypes")
    x = rng.standard_normal((3, 5)).astype(np.float32)
    t = gt.tensor(x, dtype="bfloat16", device=device)
    assert t.dtype == "bfloat16" and t.nbytes == 30 and t.device == device
    back = t.numpy()
    assert back.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(back, x.astype(ml_dtypes.bfloat16))
    np.testing.assert_array_equal(t.to("cpu").to(device).numpy(), back)


def test_len_and_repr():
    t = gt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device="cpu")
    assert len(t) == 2
    r = repr(t)
    assert r.startswith("gputrain.Tensor([[0., 1., 2.],") and "dtype=float32" in r and "device='cpu'" in r
    with pytest.raises(TypeError, match="0-d"):
        len(gt.tensor(np.float32(3), device="cpu"))
    assert repr(gt.zeros((0, 3), device="cpu")) == "gputrain.Tensor(shape=(0, 3), dtype=float32, device='cpu')"


def test_numpy_views_cpu_tensor_without_copy():
    t = gt.tensor(np.arange(4, dtype=np.float32), device="cpu")
    view = np.asarray(t)
    assert view.__array_interface__["data"][0] == t.__array_interface__["data"][0]
    np.testing.assert_array_equal(view, [0, 1, 2, 3])
    del t  # the view keeps the tensor's memory alive
    np.testing.assert_array_equal(view, [0, 1, 2, 3])


def test_dlpack_round_trip_with_numpy_shares_memory(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = gt.from_dlpack(x)
    assert t.shape == (4, 3) and t.device == "cpu"
    x[0, 0] = 42.0  # zero copy: the tensor sees the producer's write
    assert t.numpy()[0, 0] == 42.0
    y = np.from_dlpack(t)
    assert y.__array_interface__["data"][0] == x.__array_interface__["data"][0]
    del x, t  # memory stays alive through the chain of owners
    assert y[0, 0] == 42.0


@pytest.mark.parametrize("dtype", STORAGE_DTYPES)
@pytest.mark.parametrize("shape", [(2, 5), (0,), (0, 3), (3, 0), (2, 0, 4)])
def test_dlpack_dtypes_and_device(rng, dtype, shape):
    x = random_array(rng, shape, dtype)
    t = gt.from_dlpack(x)
    assert t.dtype == dtype and t.shape == shape and t.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(np.from_dlpack(t), x)
    np.testing.assert_array_equal(np.from_dlpack(gt.tensor(x, device="cpu")), x)


def test_dlpack_read_only_producer(rng):
    """A read-only array lent through DLPack stays read-only: in-place ops refuse it, NumPy views of it
    are read-only, and only a DLPack 1.0 consumer (which can be told) may take it."""
    x = rng.standard_normal(6).astype(np.float32)
    x.flags.writeable = False
    t = gt.from_dlpack(x)
    assert t.read_only and not gt.tensor(x, device="cpu").read_only
    with pytest.raises(ValueError, match="param: the tensor is read-only"):
        gt.ops.sgd_update(t, np.ones(6, np.float32), learning_rate=0.5)
    assert not np.asarray(t).flags.writeable
    assert not np.from_dlpack(t).flags.writeable
    with pytest.raises(BufferError, match="read-only, which only DLPack 1.0 can signal"):
        t.__dlpack__()
    copied = gt.from_dlpack(t.__dlpack__(copy=True, max_version=(1, 0)))
    assert not copied.read_only and np.asarray(copied).flags.writeable
    np.testing.assert_array_equal(copied.numpy(), x)
    assert not t.to("cpu", copy=True).read_only


def test_dlpack_legacy_capsule_is_consumed_once(rng):
    t = gt.tensor(rng.standard_normal(3).astype(np.float32), device="cpu")
    capsule = t.__dlpack__()  # no max_version: the pre-1.0 capsule
    u = gt.from_dlpack(capsule)
    np.testing.assert_array_equal(u.numpy(), t.numpy())
    with pytest.raises(TypeError, match="unconsumed DLPack capsule"):
        gt.from_dlpack(capsule)


def test_dlpack_rejects_non_contiguous():
    with pytest.raises((ValueError, BufferError), match="contiguous|strides"):
        gt.from_dlpack(np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2])


def test_dlpack_with_torch_on_cpu(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed here")
    x = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
    t = gt.from_dlpack(x)
    x[1, 2] = 7.0
    assert t.numpy()[1, 2] == 7.0
    back = torch.from_dlpack(t)
    assert torch.equal(back, x)


def test_dlpack_with_jax(device, rng):
    """JAX (preinstalled on Colab and Kaggle) both ways through DLPack on the CPU, and on the GPU where
    this JAX has CUDA: values and shape survive; gputrain's side shares JAX's memory."""
    jax = pytest.importorskip("jax", reason="JAX is not installed here")
    backend = device.split(":")[0]
    if backend == "hip":
        pytest.skip("this test pairs JAX's CPU with cpu and its CUDA GPUs with cuda:0, not JAX's ROCm plugin")
    platform = "gpu" if backend == "cuda" else "cpu"
    try:
        target = jax.devices(platform)[0]
    except RuntimeError:
        pytest.skip(f"this JAX has no {platform} device")
    x = rng.standard_normal((4, 7)).astype(np.float32)
    a = jax.device_put(x, target)
    t = gt.from_dlpack(a)
    assert t.device == device and t.shape == (4, 7)
    interface = "__cuda_array_interface__" if backend == "cuda" else "__array_interface__"
    assert getattr(t, interface)["data"][0] == a.unsafe_buffer_pointer()  # no copy
    np.testing.assert_array_equal(t.numpy(), x)
    doubled = gt.ops.add(t, t)
    back = jax.dlpack.from_dlpack(doubled)
    assert back.shape == (4, 7) and back.devices() == {target}
    np.testing.assert_array_equal(np.asarray(back), x + x)


def test_dlpack_with_torch_on_the_gpu(device, rng):
    """Zero copy both ways with PyTorch on the same GPU, work on PyTorch's own stream included."""
    if not device.startswith("cuda"):
        pytest.skip("PyTorch's GPU tensors are CUDA tensors here")
    torch = pytest.importorskip("torch", reason="PyTorch is not installed here")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    x = torch.from_numpy(rng.standard_normal((64, 33)).astype(np.float32)).to("cuda:0")
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        x.mul_(2.0)  # pending on PyTorch's stream: from_dlpack must order our reads after it
        t = gt.from_dlpack(x)
    assert t.device == "cuda:0" and t.shape == (64, 33)
    assert t.__cuda_array_interface__["data"][0] == x.data_ptr()
    np.testing.assert_array_equal(t.numpy(), x.cpu().numpy())
    doubled = gt.ops.add(t, t)
    back = torch.from_dlpack(doubled)
    assert back.device == x.device and back.data_ptr() == doubled.__cuda_array_interface__["data"][0]
    assert torch.equal(back, x + x)


def test_cupy_reads_cuda_tensors_without_a_copy(device, rng):
    if not device.startswith("cuda"):
        pytest.skip("CuPy reads CUDA memory")
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed here")
    x = rng.standard_normal((5, 6)).astype(np.float32)
    t = gt.tensor(x, device=device)
    via_interface = cupy.asarray(t)
    assert via_interface.data.ptr == t.__cuda_array_interface__["data"][0]
    np.testing.assert_array_equal(cupy.asnumpy(via_interface), x)
    via_dlpack = cupy.from_dlpack(t)
    assert via_dlpack.data.ptr == t.__cuda_array_interface__["data"][0]
    u = gt.from_dlpack(via_dlpack * 3)
    np.testing.assert_allclose(u.numpy(), x * 3, rtol=1e-6)


def test_cuda_array_interface_only_on_cuda(device, rng):
    t = gt.tensor(rng.standard_normal(3).astype(np.float32), device=device)
    if device.startswith("cuda"):
        cai = t.__cuda_array_interface__
        assert cai["shape"] == (3,) and cai["typestr"] == "<f4" and cai["version"] == 3 and cai["data"][0]
    else:
        assert not hasattr(t, "__cuda_array_interface__")
    if device != "cpu":
        assert not hasattr(t, "__array_interface__")
        with pytest.raises(TypeError, match=r"\.numpy\(\)"):
            np.asarray(t)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="dtype: 'float64' is not supported"):
        gt.tensor([1.0], dtype="float64", device="cpu")
    with pytest.raises(ValueError, match="extents must be >= 0"):
        gt.zeros((2, -1), device="cpu")
    with pytest.raises(TypeError, match="shape"):
        gt.zeros("abc", device="cpu")
    with pytest.raises(TypeError, match="not supported"):
        gt.tensor(np.array([1 + 2j]), device="cpu")
    with pytest.raises(ValueError, match="device"):
        gt.tensor([1.0], device="tpu")


def test_cpu_allocation_failure_is_memory_error():
    with pytest.raises(MemoryError, match="cpu out of memory"):
        gt.empty((1 << 50,), device="cpu")  # 4 PiB


def test_ops_on_tensors_return_tensors_on_their_device(device, rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    out = gt.ops.add(gt.tensor(a, device=device), b)  # NumPy argument joins the tensor's device
    assert isinstance(out, gt.Tensor) and out.device == device
    np.testing.assert_array_equal(out.numpy(), a + b)


def test_ops_reject_tensors_on_different_devices(device, rng):
    if device == "cpu":
        pytest.skip("needs a second device")
    a = gt.tensor(np.ones(2, np.float32), device=device)
    b = gt.tensor(np.ones(2, np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"b is on cpu but this op runs on"):
        gt.ops.add(a, b)


def test_host_blocks_are_aligned_for_vectors_and_huge_pages():
    # 64 bytes: a whole AVX-512 vector per load; from 32 MiB on, blocks start on a 2 MiB boundary, where
    # the kernel can back them with transparent huge pages (far fewer page faults on first touch).
    for floats, alignment in [(3, 64), (1000, 64), ((32 << 20) // 4, 2 << 20), (11_000_000, 2 << 20)]:
        t = gt.empty((floats,), device="cpu")
        assert t.__array_interface__["data"][0] % alignment == 0, (floats, alignment)


@pytest.mark.parametrize("bad", [None, "abc", 3, [1.0]])
def test_from_dlpack_rejects_what_is_not_dlpack(bad):
    with pytest.raises(TypeError, match=r"^from_dlpack: x must support DLPack \(have __dlpack__\) or be a DLPack "
                                        r"capsule, got \w+$"):
        gt.from_dlpack(bad)


def test_wrongly_typed_arguments_of_tensor_methods_are_one_line_errors():
    t = gt.tensor(np.arange(6, dtype=np.float32), device="cpu")
    for name in ("copy", "non_blocking"):
        with pytest.raises(TypeError, match=f"^to: {name} must be a bool, got str$"):
            t.to("cpu", **{name: "yes"})
    with pytest.raises(TypeError, match=r"^__dlpack__: max_version must be a pair of ints .*got 'x'$"):
        t.__dlpack__(max_version="x")
    with pytest.raises(TypeError, match=r"^__dlpack__: max_version must be a pair of ints .*got \(1, 2, 3\)$"):
        t.__dlpack__(max_version=(1, 2, 3))
    with pytest.raises(TypeError, match=r"^__dlpack__: dl_device must be a pair of ints .*got \(1, 1180591620717411303424\)$"):
        t.__dlpack__(dl_device=(1, 2**70))
    with pytest.raises(TypeError, match=r"^__dlpack__: stream must be None or an int, got str$"):
        t.__dlpack__(stream="s")
    with pytest.raises(TypeError, match=r"^__dlpack__: copy must be None or a bool, got str$"):
        t.__dlpack__(copy="no")
    with pytest.raises(TypeError, match=r"^dtype: expected one of float32, .* got int$"):
        gt.tensor([1.0], dtype=5, device="cpu")


@pytest.mark.parametrize("make", [gt.zeros, gt.empty])
def test_shapes_are_integers(make):
    for bad in [(2.5,), 2.5, (2, 3.0), (True, 2), True, "23", (np.float32(2),), None, ((2,),)]:
        with pytest.raises(TypeError, match=f"^{make.__name__}: shape must be an int or a tuple of ints, got "):
            make(bad, device="cpu")
    for bad in [(2, -1), -3]:
        with pytest.raises(ValueError, match=f"^{make.__name__}: shape: extents must be >= 0, got "):
            make(bad, device="cpu")
    with pytest.raises(ValueError, match=f"^{make.__name__}: shape: extents must be below 2\\*\\*63"):
        make((2**63, 0), device="cpu")
    assert make((np.int64(2), 3), device="cpu").shape == (2, 3)
    assert make(np.array([4, 1]), device="cpu").shape == (4, 1)
    assert make([], device="cpu").shape == ()


def test_reshape_takes_integer_shapes():
    t = gt.tensor(np.arange(6, dtype=np.float32), device="cpu")
    np.testing.assert_array_equal(t.reshape((2, 3)).numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(t.reshape([3, np.int32(2)]).numpy(), np.arange(6).reshape(3, 2))
    for bad in [(2.0, 3), (True, 6), "6"]:
        with pytest.raises(TypeError, match="^reshape: shape must be an int or a tuple of ints, got "):
            t.reshape(bad)
    with pytest.raises(ValueError, match=r"^reshape: shape: extents must be >= 0, got \(-2, -3\)"):
        t.reshape((-2, -3))
    with pytest.raises(ValueError, match=r"reshape: cannot view shape \(6,\) as \(4,\)"):
        t.reshape(4)
