"""max/avg/global-average pooling and their gradients against the float64 reference on every backend."""
import json
import os
import subprocess
import sys

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
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=7)
    forward, backward = OPS[kind]
    x = normal(rng, (n, h, w, c))
    if case % 3 == 0:  # few distinct values: ties inside windows, the first maximum must win
        x = rng.integers(-2, 3, size=x.shape).astype(np.float32)
    y = forward(x, pool, strides, padding, device=device)
    assert_close(y, ref.pool2d(x, kind, pool, strides, padding))
    dy = normal(rng, y.shape)
    dx = backward(dy, x, pool, strides, padding, device=device)
    assert_close(dx, ref.pool2d_grad(dy, x, kind, pool, strides, padding))


@pytest.mark.parametrize("case", range(10))
def test_max_pool_argmax_saved_by_the_forward(device, rng, case):
    """return_argmax gives each window's first maximum (window-local, row-major), and the backward fed
    with it equals the one that finds it again in x. Channels in fours: the GPU's 4-lane kernels."""
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=7,
                                                     channels=(4, 8, 12) if case % 2 else (1, 3, 5))
    x = normal(rng, (n, h, w, c))
    if case % 3 == 0:
        x = rng.integers(-2, 3, size=x.shape).astype(np.float32)
    y, argmax = gputrain.ops.max_pool2d(x, pool, strides, padding, device=device, return_argmax=True)
    assert argmax.dtype == np.int32 and argmax.shape == y.shape
    np.testing.assert_array_equal(argmax, ref.max_pool2d_argmax(x, pool, strides, padding))
    assert_close(y, ref.pool2d(x, "max", pool, strides, padding))
    dy = normal(rng, y.shape)
    saved = gputrain.ops.max_pool2d_grad(dy, x, pool, strides, padding, device=device, argmax=argmax)
    found = gputrain.ops.max_pool2d_grad(dy, x, pool, strides, padding, device=device)
    np.testing.assert_array_equal(saved, found)
    assert_close(saved, ref.pool2d_grad(dy, x, "max", pool, strides, padding))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", range(6))
def test_pool2d_channels_in_fours(device, rng, kind, case):
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=7, channels=(4, 8, 16))
    forward, backward = OPS[kind]
    x = normal(rng, (n, h, w, c))
    y = forward(x, pool, strides, padding, device=device)
    assert_close(y, ref.pool2d(x, kind, pool, strides, padding))
    dy = normal(rng, y.shape)
    assert_close(backward(dy, x, pool, strides, padding, device=device),
                 ref.pool2d_grad(dy, x, kind, pool, strides, padding))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("size", range(1, 8))
def test_pool2d_every_window_extent_from_1_to_7(device, rng, kind, size):
    """Each window extent 1..7 along each axis, on random shapes (the other extent, strides 1..3,
    padding, channels in fours or not, input size): the random-shape tests above reach the larger
    windows only by chance. Max pooling gets ties in one of the two windows."""
    forward, backward = OPS[kind]
    for axis in (0, 1):
        pool = [int(rng.integers(1, 8))] * 2
        pool[axis] = size
        n, _, _, c, _, strides, padding = window_case(rng, channels=(1, 3, 4, 8))
        h, w = (int(rng.integers(p, p + 8)) for p in pool)
        x = normal(rng, (n, h, w, c))
        if kind == "max" and axis == 1:
            x = rng.integers(-2, 3, size=x.shape).astype(np.float32)
        y = forward(x, pool, strides, padding, device=device)
        assert_close(y, ref.pool2d(x, kind, pool, strides, padding))
        dy = normal(rng, y.shape)
        assert_close(backward(dy, x, pool, strides, padding, device=device),
                     ref.pool2d_grad(dy, x, kind, pool, strides, padding))
        if kind == "max":
            _, argmax = forward(x, pool, strides, padding, device=device, return_argmax=True)
            np.testing.assert_array_equal(argmax, ref.max_pool2d_argmax(x, pool, strides, padding))


# "same" padding of an input smaller than the window, along one axis or both: the padding then exceeds
# the input, and some windows hold no more than the whole input, or only part of it, or a single
# row/column; (1, 1) with window (3, 2) and strides (3, 2): one window over one real cell. An odd total
# padding (window 4 on 2x3, for one) puts its extra row/column at the bottom/right.
SMALLER_THAN_WINDOW = [((2, 3), (5, 5), (1, 1)), ((2, 3), (5, 5), (2, 2)), ((2, 3), (4, 4), (1, 1)),
                       ((1, 1), (7, 7), (1, 1)), ((1, 1), (3, 2), (3, 2)), ((3, 2), (4, 6), (2, 1)),
                       ((2, 6), (7, 3), (1, 3)), ((4, 1), (6, 2), (3, 3))]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("channels", [3, 8])
@pytest.mark.parametrize("hw,pool,strides", SMALLER_THAN_WINDOW)
def test_pool2d_same_padding_with_input_smaller_than_window(device, rng, kind, channels, hw, pool, strides):
    forward, backward = OPS[kind]
    x = normal(rng, (2,) + hw + (channels,))
    y = forward(x, pool, strides, "same", device=device)
    assert y.shape == (2, -(-hw[0] // strides[0]), -(-hw[1] // strides[1]), channels)
    assert_close(y, ref.pool2d(x, kind, pool, strides, "same"))
    dy = normal(rng, y.shape)
    expected_dx = ref.pool2d_grad(dy, x, kind, pool, strides, "same")
    assert_close(backward(dy, x, pool, strides, "same", device=device), expected_dx)
    if kind == "max":
        _, argmax = forward(x, pool, strides, "same", device=device, return_argmax=True)
        np.testing.assert_array_equal(argmax, ref.max_pool2d_argmax(x, pool, strides, "same"))
        assert_close(backward(dy, x, pool, strides, "same", device=device, argmax=argmax), expected_dx)


def _tensor_on(t, device):
    """t's values, after checking that it is a gputrain.Tensor on `device` (Tensors in, Tensors out)."""
    assert isinstance(t, gputrain.Tensor), f"expected a gputrain.Tensor, got {type(t).__name__}"
    assert t.device == device, f"result on {t.device}, inputs on {device}"
    return t.numpy()


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("channels", [3, 4])
def test_pool2d_tensors_in_tensors_out_on_their_device(device, rng, kind, channels):
    forward, backward = OPS[kind]
    pool, strides = (3, 2), (2, 1)
    x = normal(rng, (2, 7, 6, channels))
    tx = gputrain.tensor(x, device=device)
    y = forward(tx, pool, strides, "same")
    assert_close(_tensor_on(y, device), ref.pool2d(x, kind, pool, strides, "same"))
    dy = normal(rng, y.shape)
    tdy = gputrain.tensor(dy, device=device)
    expected_dx = ref.pool2d_grad(dy, x, kind, pool, strides, "same")
    assert_close(_tensor_on(backward(tdy, tx, pool, strides, "same"), device), expected_dx)
    if kind == "max":
        y2, argmax = forward(tx, pool, strides, "same", return_argmax=True)
        assert_close(_tensor_on(y2, device), ref.pool2d(x, kind, pool, strides, "same"))
        assert argmax.dtype == "int32"
        np.testing.assert_array_equal(_tensor_on(argmax, device), ref.max_pool2d_argmax(x, pool, strides, "same"))
        assert_close(_tensor_on(backward(tdy, tx, pool, strides, "same", argmax=argmax), device), expected_dx)


def test_global_avg_pool2d_tensors_in_tensors_out_on_their_device(device, rng):
    x = normal(rng, (3, 5, 4, 6))
    tx = gputrain.tensor(x, device=device)
    y = gputrain.ops.global_avg_pool2d(tx)
    assert_close(_tensor_on(y, device), ref.global_avg_pool2d(x))
    dy = normal(rng, y.shape)
    dx = gputrain.ops.global_avg_pool2d_grad(gputrain.tensor(dy, device=device), tx)
    assert_close(_tensor_on(dx, device), ref.global_avg_pool2d_grad(dy, x))


def _pooled(x, dy, pool, strides, padding, device):
    y, argmax = gputrain.ops.max_pool2d(x, pool, strides, padding, device=device, return_argmax=True)
    return [y, argmax, gputrain.ops.max_pool2d_grad(dy, x, pool, strides, padding, device=device),
            gputrain.ops.avg_pool2d(x, pool, strides, padding, device=device),
            gputrain.ops.avg_pool2d_grad(dy, x, pool, strides, padding, device=device)]


# Importing conftest registers the GPU emulator in place of CUDA when the test run does.
_SIMPLE_CHILD = """
import json, sys
import numpy as np
import conftest
from test_ops_pool import _pooled
saved, case = np.load(sys.argv[1]), json.loads(sys.argv[2])
np.savez(sys.argv[3], *_pooled(saved["x"], saved["dy"], *case))
"""


@pytest.mark.parametrize("channels", [(4, 8), (1, 3, 5)])
def test_simple_pool_kernels_compute_the_same(device, rng, tmp_path, channels):
    """GPUTRAIN_POOL_KERNEL=simple selects the reference kernels (64-bit indices, one channel per
    thread, which also serve tensors past 2^31 elements): the same results to the bit. The GPU module
    reads the variable once per process, so the simple kernels run in a child process."""
    if device == "cpu":
        pytest.skip("the CPU has one set of pooling kernels")
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=7, channels=channels)
    x = rng.integers(-2, 3, size=(n, h, w, c)).astype(np.float32)
    dy = normal(rng, ref.pool2d(x, "max", pool, strides, padding).shape)
    fast = _pooled(x, dy, pool, strides, padding, device)
    np.savez(tmp_path / "inputs.npz", x=x, dy=dy)
    here = os.path.dirname(os.path.abspath(__file__))
    python_path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, "-c", _SIMPLE_CHILD, str(tmp_path / "inputs.npz"),
                             json.dumps([pool, strides, padding, device]), str(tmp_path / "simple.npz")],
                            capture_output=True, text=True, timeout=300, cwd=here,
                            env={**os.environ, "GPUTRAIN_POOL_KERNEL": "simple", "PYTHONPATH": python_path})
    assert result.returncode == 0, result.stderr[-3000:]
    simple = np.load(tmp_path / "simple.npz")
    for i, want in enumerate(fast):
        np.testing.assert_array_equal(simple[f"arr_{i}"], want)


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
    dy = np.zeros((1, 2, 2, 2), np.float32)
    with pytest.raises(TypeError, match=r"argmax: expected int32, got int64"):
        gputrain.ops.max_pool2d_grad(dy, x, device="cpu", argmax=np.zeros((1, 2, 2, 2), np.int64))
    with pytest.raises(ValueError, match=r"argmax: expected shape \(1, 2, 2, 2\)"):
        gputrain.ops.max_pool2d_grad(dy, x, device="cpu", argmax=np.zeros((1, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match=r"argmax: only max pooling has one"):
        gputrain._core.pool2d_grad(dy, x, "avg", [2, 2], [2, 2], "valid", "cpu", np.zeros((1, 2, 2, 2), np.int32))
    with pytest.raises(ValueError, match=r"argmax: only max pooling has one"):
        gputrain._core.pool2d(x, "avg", [2, 2], [2, 2], "valid", "cpu", True)


# ---- explicit per-side padding and count_include_pad ----------------------------------------------

def ref_pool_padded(x, kind, pool, strides, pads, count_include_pad=False):
    """Pooling over x padded by pads = ((top, bottom), (left, right)), as plain float64 loops: padding
    cells are −∞ for max (they never win) and zeros for the average, which divides by the window's real
    cells or, with count_include_pad, by all of them."""
    x = np.asarray(x, np.float64)
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = pool, strides
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            rows = range(max(r0, 0), min(r0 + kh, h))
            cols = range(max(c0, 0), min(c0 + kw, w))
            cells = x[:, rows.start:rows.stop, cols.start:cols.stop, :]
            if kind == "max":
                y[:, i, j, :] = cells.max(axis=(1, 2))  # np.max: a NaN wins
            else:
                divisor = kh * kw if count_include_pad else len(rows) * len(cols)
                y[:, i, j, :] = cells.sum(axis=(1, 2)) / divisor
    return y


def ref_pool_padded_grad(dy, x, kind, pool, strides, pads, count_include_pad=False):
    """dx of ref_pool_padded: max sends each window's dy to its first (row-major) real maximum or NaN,
    the average spreads dy/divisor over the real cells."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    (top, _), (left, _) = pads
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = pool, strides
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            r0, c0 = i * sh - top, j * sw - left
            rows = range(max(r0, 0), min(r0 + kh, h))
            cols = range(max(c0, 0), min(c0 + kw, w))
            if kind == "avg":
                divisor = kh * kw if count_include_pad else len(rows) * len(cols)
                dx[:, rows.start:rows.stop, cols.start:cols.stop, :] += dy[:, i, j, None, None, :] / divisor
                continue
            cells = x[:, rows.start:rows.stop, cols.start:cols.stop, :].reshape(n, -1, c)
            first = np.argmax(np.where(np.isnan(cells), np.inf, cells), axis=1)
            for b in range(n):
                for ch in range(c):
                    k = first[b, ch]
                    dx[b, rows.start + k // len(cols), cols.start + k % len(cols), ch] += dy[b, i, j, ch]
    return dx


def _padded_case(rng, channels):
    n, c = int(rng.choice([1, 2])), int(rng.choice(channels))
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
    pads = tuple(tuple(int(v) for v in rng.integers(0, k, size=2)) for k in (kh, kw))
    h, w = int(rng.integers(max(1, kh - 2), kh + 7)), int(rng.integers(max(1, kw - 2), kw + 7))
    h, w = max(h, kh - sum(pads[0])), max(w, kw - sum(pads[1]))
    return (n, h, w, c), (kh, kw), (sh, sw), pads


@pytest.mark.parametrize("kind,count_include_pad", [("max", False), ("avg", False), ("avg", True)])
@pytest.mark.parametrize("case", range(10))
def test_pool2d_explicit_padding_random_shapes(device, rng, kind, count_include_pad, case):
    """Odd shapes, windows 1..5, strides 1..3, each side's padding 0..window − 1; channels in fours on
    odd cases (the GPU's 4-lane kernels)."""
    shape, pool, strides, pads = _padded_case(rng, (4, 8) if case % 2 else (1, 3, 5))
    x = normal(rng, shape)
    extra = dict(count_include_pad=count_include_pad) if kind == "avg" else {}
    forward, backward = OPS[kind]
    y = forward(x, pool, strides, pads, device=device, **extra)
    assert_close(y, ref_pool_padded(x, kind, pool, strides, pads, count_include_pad))
    dy = normal(rng, y.shape)
    assert_close(backward(dy, x, pool, strides, pads, device=device, **extra),
                 ref_pool_padded_grad(dy, x, kind, pool, strides, pads, count_include_pad))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_explicit_padding_agrees_with_the_named_rules(device, rng, kind):
    """Zero cells are "valid"; TensorFlow's "same" cells are "same" (to the bit); p and (ph, pw) are the
    nested pairs they stand for."""
    x = normal(rng, (2, 9, 8, 3))
    forward, backward = OPS[kind]
    np.testing.assert_array_equal(forward(x, (3, 2), (2, 2), ((0, 0), (0, 0)), device=device),
                                  forward(x, (3, 2), (2, 2), "valid", device=device))
    _, top, bottom = ref.same_padding(9, 3, 2)
    _, left, right = ref.same_padding(8, 2, 2)
    same = ((top, bottom), (left, right))
    y = forward(x, (3, 2), (2, 2), "same", device=device)
    np.testing.assert_array_equal(forward(x, (3, 2), (2, 2), same, device=device), y)
    dy = normal(rng, y.shape)
    np.testing.assert_array_equal(backward(dy, x, (3, 2), (2, 2), same, device=device),
                                  backward(dy, x, (3, 2), (2, 2), "same", device=device))
    # conv2d's other forms, PyTorch's: (ph, pw) pads ph rows above and below, pw columns left and right.
    np.testing.assert_array_equal(forward(x, 3, 1, (1, 2), device=device),
                                  forward(x, 3, 1, ((1, 1), (2, 2)), device=device))
    np.testing.assert_array_equal(forward(x, 3, 1, 1, device=device), forward(x, 3, 1, ((1, 1), (1, 1)), device=device))


def test_avg_pool_count_include_pad_by_hand(device):
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    # "same" with 2×2 windows, stride 2: windows {1,2,4,5}, {3,6}, {7,8}, {9}, each divided by 4.
    y = gputrain.ops.avg_pool2d(x, 2, strides=2, padding="same", count_include_pad=True, device=device)
    np.testing.assert_allclose(y.reshape(2, 2), [[3.0, 2.25], [3.75, 2.25]], rtol=1e-6)
    # One cell of padding all round, 2×2 windows, stride 2: {1}, {2,3}, {4,7}, {5,6,8,9}.
    y = gputrain.ops.avg_pool2d(x, 2, strides=2, padding=((1, 0), (1, 0)), count_include_pad=True, device=device)
    np.testing.assert_allclose(y.reshape(2, 2), [[0.25, 1.25], [2.75, 7.0]], rtol=1e-6)
    y = gputrain.ops.avg_pool2d(x, 2, strides=2, padding=((1, 0), (1, 0)), device=device)  # the real cells
    np.testing.assert_allclose(y.reshape(2, 2), [[1.0, 2.5], [5.5, 7.0]], rtol=1e-6)
    dx = gputrain.ops.avg_pool2d_grad(np.ones((1, 2, 2, 1), np.float32), x, 2, 2, ((1, 0), (1, 0)), device=device,
                                      count_include_pad=True)
    np.testing.assert_allclose(dx, np.full(x.shape, 0.25), rtol=1e-6)


def test_max_pool_padding_never_wins(device):
    """Negative values beside padding: the maximum is a real cell, never a padded zero."""
    x = -np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1)
    y = gputrain.ops.max_pool2d(x, 2, strides=1, padding=((1, 1), (1, 1)), device=device)
    np.testing.assert_array_equal(y.reshape(3, 3), [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]])
    dx = gputrain.ops.max_pool2d_grad(np.ones((1, 3, 3, 1), np.float32), x, 2, 1, ((1, 1), (1, 1)), device=device)
    np.testing.assert_array_equal(dx.reshape(2, 2), [[4, 2], [2, 1]])


@pytest.mark.parametrize("kind,count_include_pad", [("max", False), ("avg", True)])
def test_pool2d_explicit_padding_with_nan(device, rng, kind, count_include_pad):
    x = normal(rng, (1, 5, 6, 2))
    x[0, 0, 0, 0] = x[0, 4, 3, 1] = np.nan
    extra = dict(count_include_pad=count_include_pad) if kind == "avg" else {}
    pads = ((1, 2), (2, 1))
    y = OPS[kind][0](x, 3, 2, pads, device=device, **extra)
    want = ref_pool_padded(x, kind, (3, 3), (2, 2), pads, count_include_pad)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    assert np.isnan(want).any() and not np.isnan(want).all()
    assert_close(y[~np.isnan(want)], want[~np.isnan(want)])


@pytest.mark.parametrize("kind,count_include_pad", [("max", False), ("avg", False), ("avg", True)])
def test_pool2d_explicit_padding_grad_matches_finite_differences(rng, kind, count_include_pad):
    """Linear (max: while no window's maximum changes, so the values are spaced well apart): LINEAR_TOL of
    test_ops_finite_differences.py holds."""
    from test_ops_finite_differences import LINEAR_TOL, _as_one_batch, _distinct_values, _numeric_grad
    x = _distinct_values(rng, (1, 5, 4, 2))
    pads, extra = ((1, 2), (0, 1)), (dict(count_include_pad=count_include_pad) if kind == "avg" else {})
    forward, backward = OPS[kind]
    y = forward(x, 3, (2, 1), pads, device="cpu", **extra)
    r = normal(rng, y.shape)
    numeric = _numeric_grad(_as_one_batch(lambda v: forward(v, 3, (2, 1), pads, device="cpu", **extra), r), x)
    assert_close(backward(r, x, 3, (2, 1), pads, device="cpu", **extra), numeric, LINEAR_TOL)


def test_pool2d_explicit_padding_tensors_in_tensors_out(device, rng):
    x = normal(rng, (2, 4, 5, 4))
    y = gputrain.ops.avg_pool2d(gputrain.tensor(x, device=device), 2, 1, ((1, 1), (0, 1)), count_include_pad=True)
    assert isinstance(y, gputrain.Tensor) and y.device == device
    assert_close(y.numpy(), ref_pool_padded(x, "avg", (2, 2), (1, 1), ((1, 1), (0, 1)), True))


def test_pool2d_explicit_padding_errors():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"^padding: each side must be smaller than the pool window \(2, 3\) so "
                                         r"that every window holds a real cell, got \(\(0, 2\), \(1, 1\)\)$"):
        gputrain.ops.max_pool2d(x, (2, 3), padding=((0, 2), (1, 1)), device="cpu")
    with pytest.raises(ValueError, match=r"^padding: expected non-negative cells, got \(left, right\) \(-1, 0\)$"):
        gputrain.ops.avg_pool2d(x, 2, padding=((0, 0), (-1, 0)), device="cpu")
    with pytest.raises(ValueError, match=r"^x \(1, 2, 2, 1\) padded by \(top, bottom\) \(1, 0\) is smaller than the "
                                         r"pool window \(4\)$"):
        gputrain.ops.avg_pool2d(np.zeros((1, 2, 2, 1), np.float32), (4, 2), padding=((1, 0), (1, 1)), device="cpu")
    for bad in [((1, 1), (1,)), ((1.0, 1), (1, 1)), ((1, 1), (1, 1), (1, 1)), 1.5]:
        with pytest.raises(TypeError, match=r"^max_pool2d_grad: padding must be 'valid', 'same', an int, \(pad_h, "
                                            r"pad_w\) or \(\(top, bottom\), \(left, right\)\), got "):
            gputrain.ops.max_pool2d_grad(np.zeros((1, 2, 2, 2), np.float32), x, padding=bad, device="cpu")
    with pytest.raises(TypeError, match=r"^avg_pool2d: count_include_pad must be a bool, got 1$"):
        gputrain.ops.avg_pool2d(x, 2, count_include_pad=1, device="cpu")
    with pytest.raises(ValueError, match=r"^count_include_pad: only average pooling has it$"):
        gputrain._core.pool2d(x, "max", [2, 2], [2, 2], "valid", "cpu", False, True)
