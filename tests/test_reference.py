"""The float64 references' backward passes agree with finite differences of their forward passes, so
that judging our kernels against them means something. CPU-only: no gputrain code runs here."""
import numpy as np
import pytest

import reference as ref
from cases import window_case
from conftest import assert_close


@pytest.mark.parametrize("case", range(6))
def test_conv2d_grad_reference_matches_finite_differences(rng, case):
    n, h, w, c, (kh, kw), strides, padding = window_case(rng, max_window=3, channels=(1, 2), max_extra=3)
    k = int(rng.integers(1, 3))
    x = rng.standard_normal((n, h, w, c))
    kernel = rng.standard_normal((kh, kw, c, k))
    bias = rng.standard_normal(k)
    dy = rng.standard_normal(ref.conv2d(x, kernel, bias, strides, padding).shape)
    dx, dk, db = ref.conv2d_grad(dy, x, kernel, strides, padding)
    assert_close(dx, ref.numeric_grad(lambda v: ref.conv2d(v, kernel, bias, strides, padding), x, dy), 1e-7)
    assert_close(dk, ref.numeric_grad(lambda v: ref.conv2d(x, v, bias, strides, padding), kernel, dy), 1e-7)
    assert_close(db, ref.numeric_grad(lambda v: ref.conv2d(x, kernel, v, strides, padding), bias, dy), 1e-7)


@pytest.mark.parametrize("case", range(4))
def test_dilated_conv2d_grad_reference_matches_finite_differences(rng, case):
    n, h, w, c, (kh, kw), _, padding = window_case(rng, max_window=3, channels=(1, 2), max_extra=3)
    dilation = (int(rng.integers(1, 4)), int(rng.integers(2, 4)))  # stride 1: Keras allows no other
    h, w = h + (kh - 1) * (dilation[0] - 1), w + (kw - 1) * (dilation[1] - 1)
    k = int(rng.integers(1, 3))
    x, kernel, bias = rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c, k)), rng.standard_normal(k)
    args = ((1, 1), padding, dilation)
    dy = rng.standard_normal(ref.conv2d(x, kernel, bias, *args).shape)
    dx, dk, db = ref.conv2d_grad(dy, x, kernel, *args)
    assert_close(dx, ref.numeric_grad(lambda v: ref.conv2d(v, kernel, bias, *args), x, dy), 1e-7)
    assert_close(dk, ref.numeric_grad(lambda v: ref.conv2d(x, v, bias, *args), kernel, dy), 1e-7)
    assert_close(db, ref.numeric_grad(lambda v: ref.conv2d(x, kernel, v, *args), bias, dy), 1e-7)


@pytest.mark.parametrize("case", range(4))
def test_dilated_conv2d_reference_is_conv2d_with_zeros_between_taps(rng, case):
    # A kernel dilated by d is the undilated kernel of extent (k − 1)·d + 1 with zeros between its taps:
    # the dilated reference agrees with the plain one written that way, padding included.
    n, h, w, c, (kh, kw), _, padding = window_case(rng, max_window=3, channels=(1, 3), max_extra=3)
    dh, dw = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    h, w = h + (kh - 1) * (dh - 1), w + (kw - 1) * (dw - 1)
    x, kernel = rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c, 2))
    spread = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1, c, 2))
    spread[::dh, ::dw] = kernel
    assert_close(ref.conv2d(x, kernel, None, (1, 1), padding, (dh, dw)),
                 ref.conv2d(x, spread, None, (1, 1), padding), 1e-12)
    dy = rng.standard_normal(ref.conv2d(x, spread, None, (1, 1), padding).shape)
    dx, dk, _ = ref.conv2d_grad(dy, x, kernel, (1, 1), padding, (dh, dw))
    sdx, sdk, _ = ref.conv2d_grad(dy, x, spread, (1, 1), padding)
    assert_close(dx, sdx, 1e-12)
    assert_close(dk, sdk[::dh, ::dw], 1e-12)


@pytest.mark.parametrize("case", range(6))
def test_depthwise_conv2d_grad_reference_matches_finite_differences(rng, case):
    n, h, w, c, (kh, kw), strides, padding = window_case(rng, max_window=3, channels=(1, 2), max_extra=3)
    m = int(rng.integers(1, 3))
    dilation = (1, 1)
    if case % 2:  # dilated taps, stride 1 (Keras allows no other combination)
        strides, dilation = (1, 1), (int(rng.integers(1, 3)), 2)
        h, w = h + (kh - 1) * (dilation[0] - 1), w + (kw - 1) * (dilation[1] - 1)
    x = rng.standard_normal((n, h, w, c))
    kernel = rng.standard_normal((kh, kw, c, m))
    bias = rng.standard_normal(c * m)
    args = (strides, padding, dilation)
    dy = rng.standard_normal(ref.depthwise_conv2d(x, kernel, bias, *args).shape)
    dx, dk, db = ref.depthwise_conv2d_grad(dy, x, kernel, *args)
    assert_close(dx, ref.numeric_grad(lambda v: ref.depthwise_conv2d(v, kernel, bias, *args), x, dy), 1e-7)
    assert_close(dk, ref.numeric_grad(lambda v: ref.depthwise_conv2d(x, v, bias, *args), kernel, dy), 1e-7)
    assert_close(db, ref.numeric_grad(lambda v: ref.depthwise_conv2d(x, kernel, v, *args), bias, dy), 1e-7)


@pytest.mark.parametrize("case", range(4))
def test_depthwise_reference_is_conv2d_with_a_block_diagonal_kernel(rng, case):
    # Without dilation, a depthwise convolution is the full convolution whose kernel connects input
    # channel ch only to outputs ch·m .. ch·m + m − 1: two references written differently agree.
    n, h, w, c, (kh, kw), strides, padding = window_case(rng, max_window=4, channels=(1, 2, 3), max_extra=4)
    m = int(rng.integers(1, 4))
    x, kernel = rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c, m))
    full = np.zeros((kh, kw, c, c * m))
    for ch in range(c):
        full[:, :, ch, ch * m:(ch + 1) * m] = kernel[:, :, ch, :]
    assert_close(ref.depthwise_conv2d(x, kernel, None, strides, padding),
                 ref.conv2d(x, full, None, strides, padding), 1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", range(4))
def test_pool2d_grad_reference_matches_finite_differences(rng, kind, case):
    n, h, w, c, pool, strides, padding = window_case(rng, max_window=3, channels=(1, 2), max_extra=3)
    # Distinct values keep every window's maximum away from a tie, where max is not differentiable.
    x = rng.permutation(n * h * w * c).reshape(n, h, w, c) * 0.1
    dy = rng.standard_normal(ref.pool2d(x, kind, pool, strides, padding).shape)
    got = ref.pool2d_grad(dy, x, kind, pool, strides, padding)
    assert_close(got, ref.numeric_grad(lambda v: ref.pool2d(v, kind, pool, strides, padding), x, dy), 1e-7)


def test_max_pool_grad_reference_sends_ties_to_the_first_maximum():
    x = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    dx = ref.pool2d_grad(np.ones((1, 1, 1, 1)), x, "max", (2, 2))
    np.testing.assert_array_equal(dx.reshape(2, 2), [[0.0, 1.0], [0.0, 0.0]])


def test_dense_and_global_pool_grad_references_match_finite_differences(rng):
    x, kernel, bias = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    dy = rng.standard_normal((3, 2))
    dx, dk, db = ref.dense_grad(dy, x, kernel)
    assert_close(dx, ref.numeric_grad(lambda v: ref.dense(v, kernel, bias), x, dy), 1e-7)
    assert_close(dk, ref.numeric_grad(lambda v: ref.dense(x, v, bias), kernel, dy), 1e-7)
    assert_close(db, ref.numeric_grad(lambda v: ref.dense(x, kernel, v), bias, dy), 1e-7)
    x4 = rng.standard_normal((2, 3, 2, 3))
    dy2 = rng.standard_normal((2, 3))
    assert_close(ref.global_avg_pool2d_grad(dy2, x4), ref.numeric_grad(ref.global_avg_pool2d, x4, dy2), 1e-7)


def test_activation_grad_references_match_finite_differences(rng):
    x = rng.standard_normal((3, 5))
    x[np.abs(x) < 1e-3] = 0.5  # relu is not differentiable at 0
    dy = rng.standard_normal((3, 5))
    assert_close(ref.relu_grad(dy, x), ref.numeric_grad(ref.relu, x, dy), 1e-7)
    assert_close(ref.sigmoid_grad(dy, ref.sigmoid(x)), ref.numeric_grad(ref.sigmoid, x, dy), 1e-7)
    assert_close(ref.softmax_grad(dy, ref.softmax(x)), ref.numeric_grad(ref.softmax, x, dy), 1e-7)


def test_loss_grad_references_match_finite_differences(rng):
    logits = rng.standard_normal((4, 5))
    labels = rng.integers(0, 5, size=4)
    _, grad = ref.softmax_cross_entropy(labels, logits)
    assert_close(grad, ref.numeric_grad(lambda v: ref.softmax_cross_entropy(labels, v)[0], logits, 1.0), 1e-7)
    target = rng.random((3, 4))
    z = rng.standard_normal((3, 4))
    _, grad = ref.binary_cross_entropy(target, z, True)
    assert_close(grad, ref.numeric_grad(lambda v: ref.binary_cross_entropy(target, v, True)[0], z, 1.0), 1e-7)
    p = rng.uniform(0.05, 0.95, (3, 4))
    _, grad = ref.binary_cross_entropy(target, p, False)
    assert_close(grad, ref.numeric_grad(lambda v: ref.binary_cross_entropy(target, v, False)[0], p, 1.0), 1e-7)


def test_batch_norm_grad_reference_matches_finite_differences(rng):
    x = rng.standard_normal((5, 3)) * 2 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    dy = rng.standard_normal((5, 3))
    dx, dgamma, dbeta = ref.batch_norm_grad(dy, x, gamma, 1e-3)
    assert_close(dx, ref.numeric_grad(lambda v: ref.batch_norm_train(v, gamma, beta, 1e-3), x, dy), 1e-6)
    assert_close(dgamma, ref.numeric_grad(lambda v: ref.batch_norm_train(x, v, beta, 1e-3), gamma, dy), 1e-7)
    assert_close(dbeta, ref.numeric_grad(lambda v: ref.batch_norm_train(x, gamma, v, 1e-3), beta, dy), 1e-7)


def test_same_padding_matches_tensorflow_examples():
    # TensorFlow's documented examples: 5 wide, window 3, stride 2 -> 3 outputs, one cell each side;
    # 4 wide, window 2, stride 2 -> 2 outputs, no padding; 6 wide, window 4, stride 1 -> pad 1 before, 2 after.
    assert ref.same_padding(5, 3, 2) == (3, 1, 1)
    assert ref.same_padding(4, 2, 2) == (2, 0, 0)
    assert ref.same_padding(6, 4, 1) == (6, 1, 2)
