"""depthwise_conv2d and its two gradients against the float64 reference on every backend: random
geometries (odd sizes, batch 1..3, channels 1..67, depth_multiplier 1..3, kernels 1x1..5x5, strides 1..3 or
dilation 2..3, both paddings, bias and fused activations), finite differences of the CPU op, NaN and Inf
propagation, bitwise reproducible filter gradients, empty batches and argument errors."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import assert_sums_close, normal
from conftest import assert_close
from special_values import assert_matches, sprinkle
from test_ops_finite_differences import _check_weighted_op_grads

OPS = gputrain.ops


def _geometry(rng, big_channels):
    """(x shape, kernel shape, strides, padding, dilation): strides > 1 or dilation > 1, never both (Keras
    refuses the pair). Inputs at least the dilated kernel, so that "valid" fits; a few cells more."""
    n = int(rng.integers(1, 4))
    c = int(rng.choice([17, 32, 67] if big_channels else [1, 2, 3, 5, 8]))
    m = int(rng.integers(1, 4))
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    if rng.random() < 0.5:
        strides, dilation = tuple(int(v) for v in rng.integers(1, 4, size=2)), (1, 1)
    else:
        strides, dilation = (1, 1), tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = str(rng.choice(["valid", "same"]))
    extra = 3 if big_channels else 7  # the emulator runs every thread on the CPU: keep big cases small
    h = (kh - 1) * dilation[0] + 1 + int(rng.integers(0, extra + 1))
    w = (kw - 1) * dilation[1] + 1 + int(rng.integers(0, extra + 1))
    return (n, h, w, c), (kh, kw, c, m), strides, padding, dilation


def _check_all(device, rng, x, kernel, bias, strides, padding, dilation, activation=None):
    """Forward (with bias and activation), backward data and backward filter against the reference."""
    window = dict(strides=strides, padding=padding, dilation_rate=dilation)
    y = OPS.depthwise_conv2d(x, kernel, bias, **window, device=device, activation=activation)
    pre = ref.depthwise_conv2d(x, kernel, bias, strides, padding, dilation)
    expected = {None: pre, "relu": ref.relu(pre), "sigmoid": ref.sigmoid(pre), "swish": ref.swish(pre)}[activation]
    assert_close(y, expected)
    dy = normal(rng, y.shape)
    dx = OPS.depthwise_conv2d_backward_data(dy, kernel, x.shape, **window, device=device)
    dk, db = OPS.depthwise_conv2d_backward_filter(dy, x, kernel.shape[:2], **window, device=device)
    rdx, rdk, rdb = ref.depthwise_conv2d_grad(dy, x, kernel, strides, padding, dilation)
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("case", range(24))
def test_depthwise_random_geometries(device, rng, case):
    x_shape, k_shape, strides, padding, dilation = _geometry(rng, big_channels=case % 4 == 3)
    x, kernel = normal(rng, x_shape), normal(rng, k_shape, 0.5)
    bias = normal(rng, (k_shape[2] * k_shape[3],)) if case % 2 else None
    activation = "relu" if case % 3 == 1 else None
    _check_all(device, rng, x, kernel, bias, strides, padding, dilation, activation)


@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", [
    ((2, 14, 14, 24), (3, 3, 24, 1), (2, 2), "same", (1, 1)),    # MobileNetV2's strided block, small
    ((1, 9, 8, 32), (3, 3, 32, 1), (1, 1), "same", (1, 1)),      # and its stride-1 block
    ((2, 9, 7, 67), (5, 5, 67, 3), (1, 1), "valid", (2, 1)),     # odd channels, multiplier 3, dilated rows
    ((3, 11, 10, 5), (3, 2, 5, 2), (1, 1), "same", (3, 3)),      # dilated "same": extents 7 and 4
    ((1, 10, 11, 4), (1, 1, 4, 2), (3, 2), "valid", (1, 1)),     # 1x1, stride larger than the kernel
    ((2, 10, 11, 3), (2, 3, 3, 1), (3, 3), "same", (1, 1)),      # strides > kernel: pixels no tap reads
    ((2, 2, 3, 6), (5, 5, 6, 2), (1, 1), "same", (1, 1)),        # window larger than the input
    ((1, 3, 2, 2), (3, 2, 2, 1), (1, 1), "same", (2, 3)),        # dilated window larger than the input
    ((2, 1, 1, 3), (3, 3, 3, 2), (2, 2), "same", (1, 1)),        # a single pixel
])
def test_depthwise_chosen_geometries(device, rng, x_shape, k_shape, strides, padding, dilation):
    x, kernel, bias = normal(rng, x_shape), normal(rng, k_shape, 0.5), normal(rng, (k_shape[2] * k_shape[3],))
    _check_all(device, rng, x, kernel, bias, strides, padding, dilation)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "swish"])
def test_depthwise_fused_activation(device, rng, activation):
    x, kernel, bias = normal(rng, (2, 7, 8, 6)), normal(rng, (3, 3, 6, 2)), normal(rng, (12,))
    _check_all(device, rng, x, kernel, bias, (2, 1), "same", (1, 1), activation)


def test_depthwise_many_pixels_for_the_filter_reduction(device, rng):
    # 2·40·36 = 2,880 output pixels: the GPU's filter gradient reduces them in many row bands, and the
    # CPU's in many chunks, each added in a fixed order.
    x, kernel = normal(rng, (2, 40, 36, 8)), normal(rng, (3, 3, 8, 2), 0.5)
    _check_all(device, rng, x, kernel, normal(rng, (16,)), (1, 1), "same", (1, 1))


def test_depthwise_dilation_far_beyond_the_input(device, rng):
    # "same" padding of a kernel dilated by 2**40: every tap of every output reads padding, which is
    # 2**39 cells on each side, so no index fits 32 bits (the GPU's 64-bit kernels) and none may overflow.
    x, kernel, bias = normal(rng, (2, 3, 4, 2)), normal(rng, (2, 1, 2, 3)), normal(rng, (6,))
    window = dict(strides=1, padding="same", dilation_rate=(2**40, 1))
    y = OPS.depthwise_conv2d(x, kernel, bias, **window, device=device)
    np.testing.assert_array_equal(y, np.broadcast_to(bias, (2, 3, 4, 6)))
    dy = normal(rng, y.shape)
    np.testing.assert_array_equal(OPS.depthwise_conv2d_backward_data(dy, kernel, x.shape, **window, device=device),
                                  np.zeros_like(x))
    dk, db = OPS.depthwise_conv2d_backward_filter(dy, x, (2, 1), **window, device=device)
    np.testing.assert_array_equal(dk, np.zeros((2, 1, 2, 3), np.float32))  # both taps only meet padding
    assert_sums_close(db, dy.astype(np.float64).sum(axis=(0, 1, 2)), np.abs(dy).sum(axis=(0, 1, 2)))


def test_depthwise_filter_gradient_is_bitwise_reproducible(device, rng):
    x, dy = normal(rng, (3, 20, 18, 8)), normal(rng, (3, 20, 18, 16))
    window = dict(strides=1, padding="same", dilation_rate=1)
    first = OPS.depthwise_conv2d_backward_filter(dy, x, (3, 3), **window, device=device)
    second = OPS.depthwise_conv2d_backward_filter(dy, x, (3, 3), **window, device=device)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("strides,padding,dilation", [((1, 1), "valid", (1, 1)), ((2, 1), "same", (1, 1)),
                                                      ((1, 1), "same", (2, 2)), ((1, 1), "valid", (1, 2))])
def test_depthwise_gradients_match_finite_differences(rng, strides, padding, dilation):
    # Of the CPU op itself: the backward is judged against the forward it belongs to.
    x, kernel, bias = normal(rng, (2, 7, 6, 2)), normal(rng, (3, 2, 2, 2)), normal(rng, (4,))
    window = dict(strides=strides, padding=padding, dilation_rate=dilation)

    def forward(x, kernel, bias):
        return OPS.depthwise_conv2d(x, kernel, bias, **window, device="cpu")

    r = normal(rng, forward(x, kernel, bias).shape)
    dx = OPS.depthwise_conv2d_backward_data(r, kernel, x.shape, **window, device="cpu")
    dk, db = OPS.depthwise_conv2d_backward_filter(r, x, kernel.shape[:2], **window, device="cpu")
    _check_weighted_op_grads(forward, (dx, dk, db), r, x, kernel, bias)


# The float64 references meet Inf − Inf and NaN on purpose here.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("activation", [None, "relu"])
def test_depthwise_propagates_nan_and_inf(device, rng, activation):
    # Specials in x, the kernel and dy reach exactly the outputs and gradients they feed, taps over
    # padding included: they multiply zeros, and 0·Inf is NaN, as in the reference.
    x, kernel, bias = normal(rng, (2, 9, 8, 3)), normal(rng, (3, 3, 3, 2)), normal(rng, (6,))
    x[0, 4, 4, 1] = np.nan
    x[1, 0, 7, 2] = np.inf
    x[1, 5, 2, 0] = -np.inf
    kernel[0, 2, 1, 1] = np.inf
    window = dict(strides=1, padding="same", dilation_rate=(1, 2))
    y = OPS.depthwise_conv2d(x, kernel, bias, **window, device=device, activation=activation)
    expected = ref.depthwise_conv2d(x, kernel, bias, (1, 1), "same", (1, 2))
    assert_matches(y, ref.relu(expected) if activation == "relu" else expected)
    dy = sprinkle(rng, normal(rng, y.shape), 0.02)
    dx = OPS.depthwise_conv2d_backward_data(dy, kernel, x.shape, **window, device=device)
    dk, db = OPS.depthwise_conv2d_backward_filter(dy, x, (3, 3), **window, device=device)
    for got, want, name in zip((dx, dk, db), ref.depthwise_conv2d_grad(dy, x, kernel, (1, 1), "same", (1, 2)),
                               ("dx", "dkernel", "dbias")):
        assert_matches(got, want, what=name)


def test_depthwise_tensors_stay_on_device(device, rng):
    x, kernel, bias = normal(rng, (2, 7, 6, 3)), normal(rng, (3, 3, 3, 2)), normal(rng, (6,))
    tx, tk, tb = (gputrain.tensor(a, device=device) for a in (x, kernel, bias))
    y = OPS.depthwise_conv2d(tx, tk, tb, strides=2, padding="SAME")
    assert isinstance(y, gputrain.Tensor) and y.device == tx.device
    assert_close(y.numpy(), ref.depthwise_conv2d(x, kernel, bias, (2, 2), "same"))
    ones = gputrain.tensor(np.ones(y.shape, np.float32), device=device)
    dx = OPS.depthwise_conv2d_backward_data(ones, tk, x.shape, strides=2, padding="same")
    dk, db = OPS.depthwise_conv2d_backward_filter(ones, tx, 3, strides=2, padding="same")
    assert all(isinstance(t, gputrain.Tensor) for t in (dx, dk, db))
    assert_close(db.numpy(), np.full(6, y.shape[0] * y.shape[1] * y.shape[2], np.float64))


def test_depthwise_empty_batch(device):
    x, kernel = np.zeros((0, 5, 5, 2), np.float32), np.ones((3, 3, 2, 2), np.float32)
    y = OPS.depthwise_conv2d(x, kernel, device=device)
    assert y.shape == (0, 3, 3, 4)
    assert OPS.depthwise_conv2d_backward_data(y, kernel, x.shape, device=device).shape == x.shape
    dk, db = OPS.depthwise_conv2d_backward_filter(y, x, 3, device=device)
    assert dk.shape == (3, 3, 2, 2) and db.shape == (4,) and not dk.any() and not db.any()


def test_depthwise_errors_name_arguments_and_shapes():
    x, k = np.zeros((1, 5, 5, 3), np.float32), np.zeros((3, 3, 3, 2), np.float32)
    cpu = dict(device="cpu")
    with pytest.raises(ValueError, match=r"kernel \(3, 3, 4, 2\) expects 4 input channels but x \(1, 5, 5, 3\) has 3"):
        OPS.depthwise_conv2d(x, np.zeros((3, 3, 4, 2), np.float32), **cpu)
    with pytest.raises(ValueError, match=r"kernel: expected rank 4 \(height, width, channels, depth_multiplier\)"):
        OPS.depthwise_conv2d(x, np.zeros((3, 3, 3), np.float32), **cpu)
    with pytest.raises(ValueError, match=r"x: expected rank 4"):
        OPS.depthwise_conv2d(np.zeros((5, 5, 3), np.float32), k, **cpu)
    with pytest.raises(ValueError, match=r"bias: expected shape \(6,\)"):
        OPS.depthwise_conv2d(x, k, np.zeros(3, np.float32), **cpu)
    with pytest.raises(ValueError, match=r"strides > 1 together with dilation_rate > 1 are not supported"):
        OPS.depthwise_conv2d(x, k, strides=(2, 1), dilation_rate=(1, 2), padding="same", **cpu)
    with pytest.raises(ValueError, match=r"strides \(1, 2\) and dilation_rate \(2, 2\)"):
        OPS.depthwise_conv2d_backward_data(np.zeros((1, 5, 3, 6), np.float32), k, x.shape, strides=(1, 2),
                                           dilation_rate=2, padding="same", **cpu)
    with pytest.raises(ValueError, match=r"dilation_rate: expected positive integers, got \(0, 1\)"):
        OPS.depthwise_conv2d(x, k, dilation_rate=(0, 1), **cpu)
    with pytest.raises(ValueError, match=r"x \(1, 5, 5, 3\) is smaller than the dilated kernel window \(7, 3\)"):
        OPS.depthwise_conv2d(x, k, dilation_rate=(3, 1), **cpu)
    with pytest.raises(ValueError, match=r"padding: expected 'valid' or 'same', got 'full'"):
        OPS.depthwise_conv2d(x, k, padding="full", **cpu)
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 3, 3, 6\)"):
        OPS.depthwise_conv2d_backward_data(np.zeros((1, 3, 3, 3), np.float32), k, x.shape, **cpu)
    with pytest.raises(ValueError, match=r"kernel \(3, 3, 3, 2\) expects 3 input channels but x \(1, 5, 5, 4\)"):
        OPS.depthwise_conv2d_backward_data(np.zeros((1, 3, 3, 6), np.float32), k, (1, 5, 5, 4), **cpu)
    with pytest.raises(TypeError, match=r"^depthwise_conv2d_backward_data: input_shape must be 4 ints"):
        OPS.depthwise_conv2d_backward_data(np.zeros((1, 3, 3, 6), np.float32), k, (5, 5, 3), **cpu)
    with pytest.raises(ValueError, match=r"dy \(1, 3, 3, 4\): its channels must be a positive multiple of x"):
        OPS.depthwise_conv2d_backward_filter(np.zeros((1, 3, 3, 4), np.float32), x, 3, **cpu)
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 2, 6\)"):
        OPS.depthwise_conv2d_backward_filter(np.zeros((1, 3, 3, 6), np.float32), x, 4, **cpu)
    with pytest.raises(ValueError, match=r"kernel_size: expected positive integers, got \(0, 3\)"):
        OPS.depthwise_conv2d_backward_filter(np.zeros((1, 3, 3, 6), np.float32), x, (0, 3), **cpu)
    with pytest.raises(TypeError, match=r"kernel: expected float32, got float64"):
        OPS.depthwise_conv2d(x, np.zeros((3, 3, 3, 2)), **cpu)
    with pytest.raises(TypeError, match=r"^depthwise_conv2d: dilation_rate must be an int or a pair of ints"):
        OPS.depthwise_conv2d(x, k, dilation_rate=1.5, **cpu)
    with pytest.raises(ValueError, match=r"dilation_rate: a kernel of 3 taps dilated by .* spans more than 2\*\*62"):
        OPS.depthwise_conv2d(x, k, dilation_rate=(2**62, 1), padding="same", **cpu)
