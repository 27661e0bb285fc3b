"""conv2d and conv2d_grad against the float64 reference on every backend: random shapes (odd sizes,
N=1, C=1, kernels 1..7, strides 1..3, both paddings), plus shapes that exercise the GEMM blocking."""
import numpy as np
import pytest

import gputrain
from gputrain import _testing
import reference as ref
from cases import assert_sums_close, normal, window_case
from conftest import assert_close


def _conv_case(rng):
    n, h, w, c, (kh, kw), strides, padding = window_case(rng)
    k = int(rng.choice([1, 2, 3, 8]))
    x = normal(rng, (n, h, w, c))
    kernel = normal(rng, (kh, kw, c, k))
    bias = normal(rng, (k,))
    return x, kernel, bias, strides, padding


@pytest.mark.parametrize("case", range(16))
def test_conv2d_forward_and_grad_random_shapes(device, rng, case):
    x, kernel, bias, strides, padding = _conv_case(rng)
    y = gputrain.ops.conv2d(x, kernel, bias, strides=strides, padding=padding, device=device)
    assert_close(y, ref.conv2d(x, kernel, bias, strides, padding))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, strides=strides, padding=padding, device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, strides, padding)
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("shape,kernel_shape,strides,padding", [
    ((2, 17, 19, 16), (3, 3, 16, 24), (1, 1), "same"),     # many GEMM row blocks
    ((1, 9, 11, 40), (3, 3, 40, 33), (2, 1), "valid"),     # depth 360 > one packed K block
    ((3, 8, 8, 37), (1, 1, 37, 70), (1, 1), "valid"),      # pointwise: the GEMM on x itself
    ((2, 23, 21, 3), (7, 7, 3, 64), (2, 2), "same"),       # ResNet's first layer, small
    ((1, 6, 6, 130), (2, 2, 130, 5), (2, 2), "same"),      # wide input channels, narrow output
    ((2, 12, 11, 20), (3, 2, 20, 6), (1, 1), "valid"),     # CPU: data gradient as a convolution of dy
    ((2, 13, 10, 24), (4, 3, 24, 5), (1, 1), "same"),      # ... with uneven "same" padding (even kh)
    ((1, 6, 5, 64), (3, 3, 64, 256), (1, 1), "same"),      # CPU: B (576 x 256) in narrowed column blocks
])
def test_conv2d_medium_shapes(device, rng, shape, kernel_shape, strides, padding):
    x, kernel = normal(rng, shape), normal(rng, kernel_shape, 0.2)
    y = gputrain.ops.conv2d(x, kernel, strides=strides, padding=padding, device=device)
    assert_close(y, ref.conv2d(x, kernel, None, strides, padding))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, strides=strides, padding=padding, device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, strides, padding)
    # dkernel sums over every output pixel (up to 3·12·11 = 396 here) and dx over kh·kw·out ≤ 3136
    # terms in float32: the relative error by norm grows like √(length)·2⁻²⁴, still far below 1e-5.
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


def _check_same_padded_conv(device, rng, x, kernel):
    """Forward and all three gradients of a stride-1 "same" convolution against the reference."""
    y = gputrain.ops.conv2d(x, kernel, padding="same", device=device)
    assert_close(y, ref.conv2d(x, kernel, None, (1, 1), "same"))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, padding="same", device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, (1, 1), "same")
    assert_close(dx, rdx)
    assert_close(dk, rdk)  # sums of many products: float32 error ~ √n·2⁻²⁴, ≈ 1e-5 at worst for 18,432
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


def test_conv2d_many_output_pixels(device, rng):
    # 18,432 output pixels x 128 channels: the GPU's big tiles forward, and a deep (split-K) reduction
    # over every pixel for the kernel gradient.
    _check_same_padded_conv(device, rng, normal(rng, (2, 96, 96, 8)), normal(rng, (3, 3, 8, 128), 0.2))


def test_conv2d_many_channels_both_ways(device, rng):
    # 3,200 pixels x 72 channels in and out: on a GPU of up to 25 multiprocessors both the forward and
    # the data gradient are wide enough for the big tiles (narrower products take smaller tiles).
    _check_same_padded_conv(device, rng, normal(rng, (2, 40, 40, 72)), normal(rng, (3, 3, 72, 72), 0.1))


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_conv2d_fused_activation(device, rng, activation):
    x, kernel, bias = normal(rng, (2, 9, 10, 30)), normal(rng, (3, 3, 30, 12), 0.2), normal(rng, (12,))
    y = gputrain.ops.conv2d(x, kernel, bias, strides=2, padding="same", device=device, activation=activation)
    pre = ref.conv2d(x, kernel, bias, (2, 2), "same")
    assert_close(y, ref.relu(pre) if activation == "relu" else ref.sigmoid(pre))


@pytest.mark.parametrize("kernel_size,strides,padding", [((1, 1), (2, 2), "valid"), ((2, 1), (3, 2), "same"),
                                                         ((3, 3), (2, 3), "same"), ((5, 4), (3, 3), "valid")])
def test_conv2d_grad_strided_including_taps_that_skip_pixels(device, rng, kernel_size, strides, padding):
    # A stride larger than the kernel leaves input pixels that no window touches (their dx is 0); the
    # GPU computes dx per class of pixel position mod stride, some of which then have no tap at all.
    x = normal(rng, (2, 10, 11, 4))
    kernel = normal(rng, kernel_size + (4, 8))
    y = gputrain.ops.conv2d(x, kernel, strides=strides, padding=padding, device=device)
    dy = normal(rng, y.shape)
    dx, dk, _ = gputrain.ops.conv2d_grad(dy, x, kernel, strides=strides, padding=padding, device=device)
    rdx, rdk, _ = ref.conv2d_grad(dy, x, kernel, strides, padding)
    assert_close(dx, rdx)
    assert_close(dk, rdk)


# "same" padding of an input smaller than the kernel window, along one axis or both: the padding exceeds
# the input, so some taps of every output pixel read only padding, and a stride can leave a single output
# (1, 1) whose window covers the whole input. dkernel then has taps that see no input at all (zero).
# An odd total padding (window 4 on 2x3, for one) puts its extra row/column at the bottom/right.
@pytest.mark.parametrize("hw,kernel_size,strides", [((2, 3), (5, 5), (1, 1)), ((2, 3), (5, 5), (2, 2)),
                                                    ((2, 3), (4, 4), (1, 1)), ((1, 1), (7, 7), (1, 1)),
                                                    ((1, 1), (3, 2), (3, 2)), ((3, 2), (4, 6), (2, 1)),
                                                    ((2, 6), (7, 3), (1, 3)), ((4, 1), (6, 2), (3, 3))])
@pytest.mark.parametrize("channels_in,channels_out", [(1, 2), (3, 8), (16, 5)])
def test_conv2d_same_padding_with_input_smaller_than_window(device, rng, hw, kernel_size, strides,
                                                            channels_in, channels_out):
    x = normal(rng, (2,) + hw + (channels_in,))
    kernel = normal(rng, kernel_size + (channels_in, channels_out))
    bias = normal(rng, (channels_out,))
    y = gputrain.ops.conv2d(x, kernel, bias, strides=strides, padding="same", device=device)
    assert y.shape == (2, -(-hw[0] // strides[0]), -(-hw[1] // strides[1]), channels_out)
    assert_close(y, ref.conv2d(x, kernel, bias, strides, "same"))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, strides=strides, padding="same", device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, strides, "same")
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


def test_conv2d_cpu_image_blocks_agree_with_one_block(rng):
    # The CPU's strided data gradient goes through a bounded number of images' columns at a time; a tiny
    # budget forces one image per block.
    x, kernel = normal(rng, (3, 9, 8, 5)), normal(rng, (3, 2, 5, 4))
    dy = normal(rng, (3, 5, 4, 4))
    previous = _testing.set_cpu_conv_column_budget(1)
    try:
        y = gputrain.ops.conv2d(x, kernel, strides=(2, 2), padding="same", device="cpu")
        dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, strides=2, padding="same", device="cpu")
    finally:
        _testing.set_cpu_conv_column_budget(previous)
    assert_close(y, ref.conv2d(x, kernel, None, (2, 2), "same"))
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, (2, 2), "same")
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))


def test_conv2d_integer_strides_and_tensors_stay_on_device(device, rng):
    x, kernel, bias = normal(rng, (2, 7, 6, 3)), normal(rng, (3, 3, 3, 4)), normal(rng, (4,))
    tx, tk, tb = (gputrain.tensor(a, device=device) for a in (x, kernel, bias))
    y = gputrain.ops.conv2d(tx, tk, tb, strides=2, padding="SAME")
    assert isinstance(y, gputrain.Tensor) and y.device == gputrain.tensor(x, device=device).device
    assert_close(y.numpy(), ref.conv2d(x, kernel, bias, (2, 2), "same"))
    dx, dk, db = gputrain.ops.conv2d_grad(gputrain.tensor(np.ones(y.shape, np.float32), device=device),
                                          tx, tk, strides=2, padding="same")
    assert all(isinstance(t, gputrain.Tensor) for t in (dx, dk, db))
    assert_close(db.numpy(), np.full(4, y.shape[0] * y.shape[1] * y.shape[2], np.float64))


def test_conv2d_errors_name_arguments_and_shapes():
    x = np.zeros((1, 5, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"kernel \(3, 3, 4, 2\) expects 4 input channels but x \(1, 5, 5, 3\) has 3"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 4, 2), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"x: expected rank 4"):
        gputrain.ops.conv2d(np.zeros((5, 5, 3), np.float32), np.zeros((3, 3, 3, 2), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"bias: expected shape \(2,\)"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2), np.float32), np.zeros(3, np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"strides: expected positive integers, got \(0, 1\)"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2), np.float32), strides=(0, 1), device="cpu")
    with pytest.raises(ValueError, match=r"padding: expected 'valid' or 'same', got 'full'"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2), np.float32), padding="full", device="cpu")
    with pytest.raises(ValueError, match=r"x \(1, 5, 5, 3\) is smaller than the kernel window \(6, 1\)"):
        gputrain.ops.conv2d(x, np.zeros((6, 1, 3, 2), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 3, 3, 2\)"):
        gputrain.ops.conv2d_grad(np.zeros((1, 5, 5, 2), np.float32), x, np.zeros((3, 3, 3, 2), np.float32),
                                 device="cpu")
    with pytest.raises(TypeError, match=r"kernel: expected float32, got float64"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2)), device="cpu")
    with pytest.raises(TypeError, match=r"strides"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2), np.float32), strides=1.5, device="cpu")
    with pytest.raises(ValueError, match=r"strides"):
        gputrain.ops.conv2d(x, np.zeros((3, 3, 3, 2), np.float32), strides=(1, 1, 1), device="cpu")


def test_conv2d_empty_batch(device):
    y = gputrain.ops.conv2d(np.zeros((0, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32),
                            device=device)
    assert y.shape == (0, 3, 3, 4)
    dx, dk, db = gputrain.ops.conv2d_grad(y, np.zeros((0, 5, 5, 2), np.float32),
                                          np.ones((3, 3, 2, 4), np.float32), device=device)
    assert dx.shape == (0, 5, 5, 2) and not dk.any() and not db.any()


def test_results_are_bitwise_reproducible(device, rng):
    # No atomics anywhere: split-K slices, bias sums and losses are reduced in a fixed order, so two
    # runs on the same backend agree bit for bit.
    x, kernel = normal(rng, (3, 40, 36, 8)), normal(rng, (3, 3, 8, 16))
    dy = normal(rng, (3, 40, 36, 16))
    first = gputrain.ops.conv2d_grad(dy, x, kernel, padding="same", device=device)
    second = gputrain.ops.conv2d_grad(dy, x, kernel, padding="same", device=device)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    logits, labels = normal(rng, (300, 10)), rng.integers(0, 10, 300)
    loss_a, _ = gputrain.ops.softmax_cross_entropy(labels, logits, device=device)
    loss_b, _ = gputrain.ops.softmax_cross_entropy(labels, logits, device=device)
    assert loss_a == loss_b


# ---- dilated (atrous) convolution ---------------------------------------------------------------------
# Kernel taps dilation_rate apart: the window spans (k − 1)·d + 1 cells, which "valid" and "same" count
# with. Keras allows dilation only with stride 1.

def _check_dilated(device, rng, x_shape, kernel_shape, dilation, padding, bias=True, activation=None, scale=1.0):
    x, kernel = normal(rng, x_shape), normal(rng, kernel_shape, scale)
    b = normal(rng, kernel_shape[-1:]) if bias else None
    y = gputrain.ops.conv2d(x, kernel, b, padding=padding, dilation_rate=dilation, device=device,
                            activation=activation)
    pre = ref.conv2d(x, kernel, b, (1, 1), padding, dilation)
    assert_close(y, ref.relu(pre) if activation == "relu" else pre)
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, padding=padding, dilation_rate=dilation, device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, kernel, (1, 1), padding, dilation)
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))
    return y


@pytest.mark.parametrize("case", range(12))
def test_conv2d_dilated_random_shapes(device, rng, case):
    # Dilation 2, 3 and asymmetric ones, odd sizes, channels 1..6 (not multiples of 4), batch 1..3, with
    # and without bias, relu fused into the store on some.
    dilation = [(2, 2), (3, 3), (1, 2), (2, 1), (3, 2), (2, 3)][case % 6]
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    n, c, k = int(rng.integers(1, 4)), int(rng.choice([1, 2, 3, 5, 6])), int(rng.choice([1, 2, 3, 7]))
    padding = ["valid", "same"][case % 2]
    h = (kh - 1) * dilation[0] + 1 + int(rng.integers(0, 6))
    w = (kw - 1) * dilation[1] + 1 + int(rng.integers(0, 6))
    _check_dilated(device, rng, (n, h, w, c), (kh, kw, c, k), dilation, padding, bias=case % 3 != 0,
                   activation="relu" if case % 4 == 1 else None)


@pytest.mark.parametrize("x_shape,kernel_shape,dilation,padding", [
    ((2, 11, 13, 16), (3, 3, 16, 24), (2, 2), "same"),   # channels multiple of 4: the GPU's vector loads
    ((1, 10, 9, 8), (3, 3, 8, 12), (3, 3), "valid"),     # CPU: each tap's 8 channels read in place
    ((2, 12, 10, 20), (3, 2, 20, 6), (2, 1), "same"),    # CPU: dilated rows only, kernel rows in place;
                                                         # dx as a convolution of dy (c >= 16)
    ((2, 9, 14, 24), (2, 3, 24, 5), (1, 3), "same"),     # dilated columns with that dx path
    ((1, 6, 6, 130), (2, 2, 130, 5), (2, 2), "same"),    # depth 520 in several K blocks
    ((3, 7, 8, 3), (3, 3, 3, 64), (2, 2), "same"),       # a first layer: 3 channels, taps gathered
])
def test_conv2d_dilated_medium_shapes(device, rng, x_shape, kernel_shape, dilation, padding):
    _check_dilated(device, rng, x_shape, kernel_shape, dilation, padding, scale=0.2)


@pytest.mark.parametrize("hw,kernel_size,dilation", [((2, 3), (3, 3), (2, 2)), ((1, 1), (2, 3), (3, 2)),
                                                     ((4, 3), (3, 2), (3, 3)), ((5, 2), (2, 2), (1, 4))])
def test_conv2d_dilated_same_padding_wider_than_input(device, rng, hw, kernel_size, dilation):
    # The dilated window is larger than the input: most taps of every output read padding, some kernel
    # taps see no input at all (their gradient is 0).
    _check_dilated(device, rng, (2,) + hw + (3,), kernel_size + (3, 4), dilation, "same")


def test_conv2d_dilated_taps_read_exactly_their_cells(device):
    # One NaN in x reaches exactly the outputs one of whose dilated taps lands on it, and no other: the
    # taps are placed right (a tap one cell off would mark other outputs), and NaN propagates.
    x = np.zeros((1, 9, 10, 1), np.float32)
    x[0, 4, 6, 0] = np.nan
    kernel = np.ones((2, 3, 1, 1), np.float32)
    y = gputrain.ops.conv2d(x, kernel, padding="valid", dilation_rate=(3, 2), device=device)
    assert y.shape == (1, 6, 6, 1)
    expected = np.zeros((6, 6), bool)
    for i in range(2):
        for j in range(3):
            oh, ow = 4 - 3 * i, 6 - 2 * j
            if 0 <= oh < 6 and 0 <= ow < 6:
                expected[oh, ow] = True
    np.testing.assert_array_equal(np.isnan(y[0, :, :, 0]), expected)
    assert not np.any(y[0, :, :, 0][~expected])


def test_conv2d_dilation_one_is_the_undilated_convolution(device, rng):
    # dilation_rate 1, given as an int or a pair, is the very same computation as before it existed.
    x, kernel, bias = normal(rng, (2, 9, 8, 5)), normal(rng, (3, 3, 5, 6)), normal(rng, (6,))
    plain = gputrain.ops.conv2d(x, kernel, bias, strides=(2, 1), padding="same", device=device)
    for d in (1, (1, 1)):
        np.testing.assert_array_equal(
            gputrain.ops.conv2d(x, kernel, bias, strides=(2, 1), padding="same", dilation_rate=d, device=device),
            plain)
    dy = normal(rng, plain.shape)
    for a, b in zip(gputrain.ops.conv2d_grad(dy, x, kernel, strides=(2, 1), padding="same", device=device),
                    gputrain.ops.conv2d_grad(dy, x, kernel, strides=(2, 1), padding="same", dilation_rate=1,
                                             device=device)):
        np.testing.assert_array_equal(a, b)


def test_conv2d_dilated_cpu_image_blocks_agree_with_one_block(rng):
    # The CPU's column path of the data gradient (few channels) with dilation, one image per block.
    x, kernel = normal(rng, (3, 9, 8, 5)), normal(rng, (3, 2, 5, 4))
    dy = normal(rng, (3, 9, 8, 4))
    previous = _testing.set_cpu_conv_column_budget(1)
    try:
        dx, dk, _ = gputrain.ops.conv2d_grad(dy, x, kernel, padding="same", dilation_rate=(2, 3), device="cpu")
    finally:
        _testing.set_cpu_conv_column_budget(previous)
    rdx, rdk, _ = ref.conv2d_grad(dy, x, kernel, (1, 1), "same", (2, 3))
    assert_close(dx, rdx)
    assert_close(dk, rdk)


def test_conv2d_dilation_errors_name_arguments():
    x, kernel = np.zeros((1, 7, 7, 3), np.float32), np.zeros((3, 3, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"strides \(2, 1\) and dilation_rate \(1, 2\): strides > 1 together "
                                         r"with dilation_rate > 1 are not supported"):
        gputrain.ops.conv2d(x, kernel, strides=(2, 1), dilation_rate=(1, 2), device="cpu")
    with pytest.raises(ValueError, match=r"strides \(2, 2\) and dilation_rate \(2, 2\)"):
        gputrain.ops.conv2d_grad(np.zeros((1, 4, 4, 2), np.float32), x, kernel, strides=2, dilation_rate=2,
                                 device="cpu")
    with pytest.raises(ValueError, match=r"dilation_rate: expected positive integers, got \(0, 1\)"):
        gputrain.ops.conv2d(x, kernel, dilation_rate=(0, 1), device="cpu")
    with pytest.raises(ValueError, match=r"dilation_rate: expected positive integers, got \(-1, -1\)"):
        gputrain.ops.conv2d_grad(np.zeros((1, 5, 5, 2), np.float32), x, kernel, dilation_rate=-1, device="cpu")
    # A 3x3 kernel dilated by 4 spans 9 cells: more than the 7 of x under "valid" ("same" pads instead).
    with pytest.raises(ValueError, match=r"x \(1, 7, 7, 3\) is smaller than the dilated kernel window \(9, 9\) "
                                         r"with padding 'valid'"):
        gputrain.ops.conv2d(x, kernel, dilation_rate=4, device="cpu")
    assert gputrain.ops.conv2d(x, kernel, padding="same", dilation_rate=4, device="cpu").shape == (1, 7, 7, 2)
    with pytest.raises(ValueError, match=r"dilated kernel window \(3, 9\)"):
        gputrain.ops.conv2d(x, kernel, dilation_rate=(1, 4), device="cpu")
    with pytest.raises(TypeError, match=r"dilation_rate"):
        gputrain.ops.conv2d(x, kernel, dilation_rate=1.5, device="cpu")
    with pytest.raises(ValueError, match=r"dilation_rate"):
        gputrain.ops.conv2d(x, kernel, dilation_rate=(1, 2, 3), device="cpu")
    with pytest.raises(ValueError, match=r"dilation_rate: a kernel of 3 taps dilated by .* spans more than 2\*\*62"):
        gputrain.ops.conv2d(x, kernel, padding="same", dilation_rate=(1, 2**62), device="cpu")


@pytest.mark.parametrize("dilation", [(2**30, 2**30), (1, 2**31 + 5)])
def test_conv2d_dilated_past_32_bit_coordinates(device, rng, dilation):
    # Taps so far apart that the padded coordinates pass 2^31: the GPU takes its 64-bit loaders (which
    # tensors this small reach no other way). With "same" padding for that extent, only the kernel's
    # middle row (column) of taps reads the image along a hugely dilated axis: the op is the convolution
    # by that slice of the kernel, and every other tap's gradient is 0.
    x, kernel, bias = normal(rng, (2, 3, 4, 5)), normal(rng, (3, 3, 5, 4)), normal(rng, (4,))
    taps = tuple(slice(1, 2) if d > 1 else slice(None) for d in dilation)
    part = kernel[taps]
    y = gputrain.ops.conv2d(x, kernel, bias, padding="same", dilation_rate=dilation, device=device)
    assert_close(y, ref.conv2d(x, part, bias, (1, 1), "same"))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.conv2d_grad(dy, x, kernel, padding="same", dilation_rate=dilation, device=device)
    rdx, rdk, rdb = ref.conv2d_grad(dy, x, part, (1, 1), "same")
    assert_close(dx, rdx)
    assert_close(dk[taps], rdk)
    rest = np.ones((3, 3), bool)
    rest[taps] = False
    assert not dk[rest].any()
    assert_sums_close(db, rdb, np.abs(dy).sum(axis=(0, 1, 2)))
