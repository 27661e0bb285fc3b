"""The element-wise add: the end-to-end path Python → dispatch → backend → device memory."""
import numpy as np
import pytest

import gputrain
from conftest import assert_close


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (1, 1, 1), (2, 3, 4, 5), (0,), (4, 0, 3)])
def test_add_matches_float64_reference(device, rng, shape):
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    got = gputrain.ops.add(a, b, device=device)
    assert got.dtype == np.float32
    assert_close(got, a.astype(np.float64) + b.astype(np.float64), tol=1e-6)


def test_add_large_covers_every_element(device, rng):
    # More elements than one launch of 65535 blocks x 256 threads covers: the grid-stride tail.
    n = 65535 * 256 + 12345
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    got = gputrain.ops.add(a, b, device=device)
    np.testing.assert_array_equal(got, a + b)  # one float32 rounding: bit-exact with NumPy


def test_add_non_contiguous_inputs(device, rng):
    a = rng.standard_normal((6, 9)).astype(np.float32).T  # Fortran order
    b = rng.standard_normal((9, 12)).astype(np.float32)[:, ::2]  # strided
    got = gputrain.ops.add(a, b, device=device)
    np.testing.assert_array_equal(got, a + b)


def test_add_accepts_lists():
    np.testing.assert_array_equal(gputrain.ops.add([1.5, 2.0], [0.25, -1.0], device="cpu"),
                                  np.array([1.75, 1.0], np.float32))


def test_add_rejects_wrong_dtype_naming_argument():
    a = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=r"b: expected float32, got float64"):
        gputrain.ops.add(a, np.ones(3), device="cpu")
    with pytest.raises(TypeError, match=r"a: expected float32, got int32"):
        gputrain.ops.add(np.ones(3, np.int32), a, device="cpu")


def test_add_rejects_shape_mismatch_naming_both_shapes():
    with pytest.raises(ValueError, match=r"a \(2, 3\) and b \(3, 2\)"):
        gputrain.ops.add(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), device="cpu")


@pytest.mark.parametrize("name", ["xpu", "cuda:", "cuda:-1", "cuda:x", "cpu:1", "", "hip:1234567"])
def test_bad_device_names_raise_value_error(name):
    with pytest.raises(ValueError, match="device"):
        gputrain.ops.add(np.ones(2, np.float32), np.ones(2, np.float32), device=name)


def test_device_must_be_a_string():
    with pytest.raises(TypeError, match="device"):
        gputrain.ops.add(np.ones(2, np.float32), np.ones(2, np.float32), device=0)
