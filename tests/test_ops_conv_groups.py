"""Grouped convolution (Keras's and PyTorch's groups) and explicit per-side padding of gputrain.ops.conv2d and
conv2d_grad against the float64 reference on every backend: random shapes (groups 2..4, odd channel counts
per group, kernels 1..5, strides 1..3, dilation, "valid", "same" and explicit cells), shapes that take each
kernel path (pointwise, strided data gradient, vector loads, the CPU's data gradient as a convolution,
one channel per group), the grouped reference's own gradient against finite differences, and the argument
errors, which name the argument."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import assert_sums_close, normal
from conftest import assert_close


def _check(device, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1, rng=None,
           ref_padding=None):
    """Forward and the three gradients against the reference; ref_padding: padding as the reference takes it."""
    ref_padding = padding if ref_padding is None else ref_padding
    y = gputrain.ops.conv2d(x, kernel, bias, strides=strides, padding=padding, dilation_rate=dilation, groups=groups,
                            device=device)
    assert_close(y, ref.conv2d(x, kernel, bias, strides, ref_padding, dilation, groups))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                                          groups=groups, device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, strides, ref_padding, dilation, groups)
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


def _random_padding(rng, kh, kw):
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return "valid"
    if kind == 1:
        return "same"
    return tuple(tuple(int(v) for v in rng.integers(0, k + 1, size=2)) for k in (kh, kw))


@pytest.mark.parametrize("case", range(16))
def test_grouped_conv2d_random_shapes(device, rng, case):
    groups = int(rng.integers(2, 5))
    cg, kg = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2, 3, 4]))
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    dilation = (1, 1)
    if rng.random() < 0.3:
        strides = (1, 1)
        dilation = tuple(int(v) for v in rng.integers(1, 4, size=2))
    else:
        strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = _random_padding(rng, kh, kw)
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    n = int(rng.choice([1, 2, 3]))
    h, w = eh + int(rng.integers(0, 7)), ew + int(rng.integers(0, 7))
    x = normal(rng, (n, h, w, groups * cg))
    kernel = normal(rng, (kh, kw, cg, groups * kg))
    _check(device, x, kernel, normal(rng, (groups * kg,)), strides, padding, dilation, groups, rng)


@pytest.mark.parametrize("shape,kernel_shape,strides,padding,dilation,groups", [
    ((2, 7, 9, 12), (1, 1, 4, 9), (1, 1), "valid", (1, 1), 3),     # pointwise: GEMMs on strided views of x
    ((2, 9, 8, 16), (3, 3, 4, 8), (1, 1), "same", (1, 1), 4),      # 4 channels a group: vector loads
    ((1, 11, 10, 8), (3, 3, 4, 12), (2, 2), "same", (1, 1), 2),    # strided data gradient, per stride class
    ((2, 10, 9, 6), (3, 2, 1, 6), (2, 1), "valid", (1, 1), 6),     # one channel a group (depthwise-like)
    ((1, 9, 9, 6), (3, 3, 2, 9), (1, 1), "same", (2, 2), 3),       # dilated
    ((2, 8, 7, 40), (3, 3, 20, 6), (1, 1), "same", (1, 1), 2),     # CPU: data gradient as a convolution
    ((1, 8, 8, 64), (3, 3, 32, 64), (1, 1), "same", (1, 1), 2),    # wider groups: several GEMM tiles
])
def test_grouped_conv2d_kernel_paths(device, rng, shape, kernel_shape, strides, padding, dilation, groups):
    x, kernel = normal(rng, shape), normal(rng, kernel_shape, 0.3)
    _check(device, x, kernel, normal(rng, (kernel_shape[3],)), strides, padding, dilation, groups, rng)


def test_grouped_conv2d_is_the_concatenation_of_separate_convolutions(rng):
    # Independent of the reference: each group through the plain (groups=1) op, on its channel slices.
    x, kernel = normal(rng, (2, 7, 6, 6)), normal(rng, (3, 2, 2, 9))
    y = gputrain.ops.conv2d(x, kernel, strides=(2, 1), padding="same", groups=3)
    parts = [gputrain.ops.conv2d(x[..., 2 * q:2 * q + 2], kernel[..., 3 * q:3 * q + 3], strides=(2, 1),
                                 padding="same") for q in range(3)]
    np.testing.assert_allclose(y, np.concatenate(parts, axis=-1), rtol=1e-6, atol=1e-6)


def test_grouped_reference_gradient_equals_finite_differences(rng):
    """The grouped reference gradient (which the tests above judge the kernels by) against central
    differences of the reference forward, in float64."""
    x = rng.standard_normal((1, 5, 4, 4))
    kernel = rng.standard_normal((2, 3, 2, 6))
    dy = rng.standard_normal(ref.conv2d(x, kernel, None, (2, 1), ((1, 0), (2, 1)), groups=2).shape)
    dx, dk, _ = ref.conv2d_grad(dy, x, kernel, (2, 1), ((1, 0), (2, 1)), groups=2)

    def loss(xv, kv):
        return float(np.sum(ref.conv2d(xv, kv, None, (2, 1), ((1, 0), (2, 1)), groups=2) * dy))

    eps = 1e-6
    for array, grad, other in ((x, dx, "x"), (kernel, dk, "kernel")):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            plus = loss(x, kernel)
            array[index] = saved - eps
            minus = loss(x, kernel)
            array[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric) < 1e-7, other
    # Cross-group entries of the kernel would be wrong: group 1's outputs depend on x's channels 2..3 only.
    assert np.all(dx[..., :2] == ref.conv2d_grad(np.concatenate([dy[..., :3], 0 * dy[..., 3:]], -1), x, kernel,
                                                 (2, 1), ((1, 0), (2, 1)), groups=2)[0][..., :2])


# ---- explicit padding -----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,ref_padding", [
    (((1, 2), (0, 3)), ((1, 2), (0, 3))),   # uneven on every side
    ((2, 1), ((2, 2), (1, 1))),              # PyTorch's padding=(2, 1)
    (1, ((1, 1), (1, 1))),                   # PyTorch's padding=1
    (((0, 0), (0, 0)), "valid"),             # zero cells are "valid"
    (((4, 5), (3, 6)), ((4, 5), (3, 6))),    # more padding than the kernel spans: outputs over zeros alone
])
def test_conv2d_explicit_padding(device, rng, padding, ref_padding):
    x, kernel = normal(rng, (2, 6, 7, 3)), normal(rng, (3, 2, 3, 4))
    _check(device, x, kernel, normal(rng, (4,)), (2, 1), padding, (1, 1), 1, rng, ref_padding)
    _check(device, x, kernel, None, (1, 1), padding, (1, 1), 1, rng, ref_padding)


def test_pytorch_symmetric_padding_maps_to_same_for_odd_kernels(rng):
    # Stride 1 and an odd kernel: PyTorch's padding=k//2 is TensorFlow's "same", exactly.
    x, kernel = normal(rng, (1, 8, 9, 4)), normal(rng, (5, 3, 2, 6))
    same = gputrain.ops.conv2d(x, kernel, padding="same", groups=2)
    explicit = gputrain.ops.conv2d(x, kernel, padding=(2, 1), groups=2)
    np.testing.assert_array_equal(explicit, same)


def test_conv2d_explicit_padding_with_dilation(device, rng):
    x, kernel = normal(rng, (1, 7, 6, 4)), normal(rng, (3, 2, 2, 4))
    _check(device, x, kernel, None, (1, 1), ((3, 1), (0, 2)), (2, 3), 2, rng)


# ---- argument errors --------------------------------------------------------------------------------------

def test_conv2d_group_errors_name_groups(rng):
    x = normal(rng, (1, 5, 5, 6))
    for op in (lambda k, g: gputrain.ops.conv2d(x, k, groups=g),
               lambda k, g: gputrain.ops.conv2d_grad(normal(rng, (1, 3, 3, k.shape[3])), x, k, groups=g)):
        with pytest.raises(ValueError, match=r"groups: the number of groups must be a positive integer, got 0"):
            op(normal(rng, (3, 3, 6, 4)), 0)
        with pytest.raises(ValueError, match=r"groups: .* got -2"):
            op(normal(rng, (3, 3, 6, 4)), -2)
        with pytest.raises(ValueError, match=r"groups: the number of filters must be divisible by the number of "
                                             r"groups, got groups=2 and 5 filters"):
            op(normal(rng, (3, 3, 3, 5)), 2)
        with pytest.raises(ValueError, match=r"groups: the number of input channels must be divisible by the "
                                             r"number of groups, got groups=4 and x \(1, 5, 5, 6\)"):
            op(normal(rng, (3, 3, 1, 4)), 4)
        with pytest.raises(ValueError, match=r"kernel \(3, 3, 2, 4\) expects 2 input channels per group but x "
                                             r"\(1, 5, 5, 6\) has 6 in 2 groups of 3"):
            op(normal(rng, (3, 3, 2, 4)), 2)
        with pytest.raises(TypeError, match=r"groups"):
            op(normal(rng, (3, 3, 3, 4)), 2.0)
        with pytest.raises(TypeError, match=r"groups"):
            op(normal(rng, (3, 3, 3, 4)), "2")


def test_conv2d_explicit_padding_errors_name_padding(rng):
    x, kernel = normal(rng, (1, 5, 5, 2)), normal(rng, (3, 3, 2, 2))
    with pytest.raises(ValueError, match=r"padding: expected non-negative cells, got \(top, bottom\) \(-1, 0\)"):
        gputrain.ops.conv2d(x, kernel, padding=((-1, 0), (0, 0)))
    with pytest.raises(ValueError, match=r"padding: expected non-negative cells, got \(left, right\) \(0, -2\)"):
        gputrain.ops.conv2d_grad(normal(rng, (1, 3, 3, 2)), x, kernel, padding=((0, 0), (0, -2)))
    with pytest.raises(ValueError, match=r"padding: .* past 2\*\*62 cells"):
        gputrain.ops.conv2d(x, kernel, padding=((2 ** 62, 0), (0, 0)))
    for bad in (((1, 2, 3), (0, 0)), (1, 2, 3), ((1.0, 2), (0, 0)), ("a", "b"), None, 1.5):
        with pytest.raises(TypeError, match=r"padding"):
            gputrain.ops.conv2d(x, kernel, padding=bad)
    with pytest.raises(ValueError, match=r"padding: expected 'valid' or 'same', got 'full'"):
        gputrain.ops.conv2d(x, kernel, padding="full")
    # A window larger than the padded input.
    with pytest.raises(ValueError, match=r"x \(1, 2, 5, 2\) padded by \(top, bottom\) \(0, 0\) is smaller than the "
                                         r"kernel window \(3\)"):
        gputrain.ops.conv2d(normal(rng, (1, 2, 5, 2)), kernel, padding=((0, 0), (1, 1)))
    y = gputrain.ops.conv2d(normal(rng, (1, 2, 5, 2)), kernel, padding=((0, 1), (1, 1)))
    assert y.shape == (1, 1, 5, 2)


def test_conv2d_far_explicit_padding(device, rng):
    # 2**40 cells of padding with strides as large: one output, whose window rows read x's first rows and
    # whose columns all fall on padding. Coordinates past 2**31 take the GPU's 64-bit loaders.
    x, kernel, bias = normal(rng, (1, 5, 5, 4)), normal(rng, (3, 3, 2, 6)), normal(rng, (6,))
    far = ((0, 2 ** 40), (2 ** 40, 0))
    y = gputrain.ops.conv2d(x, kernel, bias, strides=2 ** 41, padding=far, groups=2, device=device)
    np.testing.assert_array_equal(y, np.broadcast_to(bias, (1, 1, 1, 6)))
    dx, dk, db = gputrain.ops.conv2d_grad(np.ones((1, 1, 1, 6), np.float32), x, kernel, strides=2 ** 41,
                                          padding=far, groups=2, device=device)
    assert not dx.any() and not dk.any()
    np.testing.assert_array_equal(db, np.ones(6))
    # Padding far below the image instead: the one window reads x's top-left corner.
    low = ((2, 2 ** 40), (0, 2 ** 40))
    y = gputrain.ops.conv2d(x, kernel, strides=2 ** 41, padding=low, groups=2, device=device)
    assert_close(y, ref.conv2d(x, kernel, None, (1, 1), ((2, 0), (0, 0)), groups=2)[:, :1, :1])
