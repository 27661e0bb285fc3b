"""max/avg/global-average pooling and their gradients against the float64 reference on every backend."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import normal, window_case
from conftest import assert_close

OPS = {"max": (gputrain.ops.max_pool2d, gputrain.ops.max_pool2d_grad),
       "avg": (gputrain.ops.avg_pool2d, gputrain.ops.avg_pool2d_grad)}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", range(12))
def test_pool2d_forward_and_grad_random_shapes(device, rng, kind, case):
    n, h, w, c, pool, strides, padding = window_case(rng, max_window=4, max_extra=7)
    forward, backward = OPS[kind]
    x = normal(rng, (n, h, w, c))
    if case % 3 == 0:  # few distinct values: ties inside windows, the first maximum must win
        x = rng.integers(-2, 3, size=x.shape).astype(np.float32)
    y = forward(x, pool, strides, padding, device=device)
    assert_close(y, ref.pool2d(x, kind, pool, strides, padding))
    dy = normal(rng, y.shape)
    dx = backward(dy, x, pool, strides, padding, device=device)
    assert_close(dx, ref.pool2d_grad(dy, x, kind, pool, strides, padding))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_default_strides_are_the_pool_size(device, rng, kind):
    x = normal(rng, (2, 9, 7, 4))
    forward, _ = OPS[kind]
    assert_close(forward(x, 3, device=device), ref.pool2d(x, kind, (3, 3), (3, 3)))


def test_max_pool_grad_goes_to_the_first_maximum(device):
    x = np.array([[1.0, 3.0], [3.0, 2.0]], np.float32).reshape(1, 2, 2, 1)
    dx = gputrain.ops.max_pool2d_grad(np.full((1, 1, 1, 1), 5.0, np.float32), x, device=device)
    np.testing.assert_array_equal(dx.reshape(2, 2), [[0.0, 5.0], [0.0, 0.0]])


def test_avg_pool_same_divides_by_real_cells(device):
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y = gputrain.ops.avg_pool2d(x, 2, strides=2, padding="same", device=device)
    # Windows: {1,2,4,5}, {3,6}, {7,8}, {9}: the padded cells are not counted.
    np.testing.assert_allclose(y.reshape(2, 2), [[3.0, 4.5], [7.5, 9.0]], rtol=1e-6)


def test_pool_resnet_like_shape(device, rng):
    x = normal(rng, (2, 16, 16, 8))
    y = gputrain.ops.max_pool2d(x, 3, 2, "same", device=device)
    assert_close(y, ref.pool2d(x, "max", (3, 3), (2, 2), "same"))
    dy = normal(rng, y.shape)
    assert_close(gputrain.ops.max_pool2d_grad(dy, x, 3, 2, "same", device=device),
                 ref.pool2d_grad(dy, x, "max", (3, 3), (2, 2), "same"))


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 7, 64)])
def test_global_avg_pool2d(device, rng, shape):
    x = normal(rng, shape)
    y = gputrain.ops.global_avg_pool2d(x, device=device)
    assert_close(y, ref.global_avg_pool2d(x))
    dy = normal(rng, y.shape)
    assert_close(gputrain.ops.global_avg_pool2d_grad(dy, x, device=device), ref.global_avg_pool2d_grad(dy, x))


def test_pool_errors_name_arguments():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"pool_size: expected positive integers, got \(0, 2\)"):
        gputrain.ops.max_pool2d(x, (0, 2), device="cpu")
    with pytest.raises(ValueError, match=r"strides: expected positive integers"):
        gputrain.ops.avg_pool2d(x, 2, strides=(1, -1), device="cpu")
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 2, 2\)"):
        gputrain.ops.max_pool2d_grad(np.zeros((1, 3, 3, 2), np.float32), x, device="cpu")
    with pytest.raises(ValueError, match=r"pool window \(5, 5\)"):
        gputrain.ops.max_pool2d(x, 5, device="cpu")
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2\)"):
        gputrain.ops.global_avg_pool2d_grad(np.zeros((1, 3), np.float32), x, device="cpu")
