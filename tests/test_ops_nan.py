"""NaN and ±Inf through every op, on every backend, as NumPy's formulas in tests/reference.py give them: a
NaN input never becomes 0 or -inf, and an infinity becomes what float arithmetic makes of it.

Forward rules (NumPy's):
- relu(x) = np.maximum(x, 0), also where dense and conv2d fuse it: NaN stays NaN.
- max pooling = np.max over the window: a window holding NaN gives NaN; its argmax is the window's first
  NaN (np.argmax), else its first maximum. A window of -inf gives -inf, argmax its first cell.
- dropout = x·mask/(1 − rate): a product, so a dropped NaN or Inf gives NaN (PyTorch's formula too).
- Everything else (sigmoid, softmax, pooling averages, batch_norm, losses, optimizers, GEMMs) is its
  formula in float arithmetic: a NaN reaches every output it feeds, Inf − Inf and 0·Inf give NaN.
- Accuracy in a training step counts np.argmax's pick: the first maximum, or the first NaN.

Backward rules:
- relu_grad follows PyTorch's threshold_backward: dx = 0 where x <= 0, else dy. A NaN x passes dy on
  (TensorFlow's ReluGrad would give 0 there and hide the gradient); a NaN dy where x <= 0 gives 0 (a
  select, not a product). The same holds when relu_grad is given relu's output, as dense/conv2d do.
- max_pool2d_grad sends each window's gradient to its argmax: to the first NaN of a window holding one.
- Every other gradient is its formula: products and sums, so NaN propagates as NumPy's would;
  dropout_grad = dy·mask/(1 − rate) gives NaN for a NaN dy at a dropped element, as PyTorch's does; the
  binary cross-entropy gradient is 0 where Keras's clip acted and NaN where the probability is NaN.
"""
import numpy as np
import pytest

import gputrain as gt
import reference as ref
from cases import normal, window_case
from kernel_choice import simple_kernels_ran_elsewhere
from special_values import assert_matches, sprinkle

NAN, INF = np.nan, np.inf

# The float64 references meet Inf − Inf and NaN on purpose here.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def _kernels(device, variant, request) -> bool:
    """Selects the GPU pooling kernels to test: 'fast' (the default) or 'simple' (the reference ones,
    chosen once per process, so such a case runs in a child process). True when it ran there."""
    if variant == "simple" and device == "cpu":
        pytest.skip("the CPU has one set of pooling kernels")
    return simple_kernels_ran_elsewhere(request, variant)


# ---- activations ------------------------------------------------------------------------------------

def test_relu_keeps_nan_and_infinities(device, rng):
    x = sprinkle(rng, normal(rng, (3, 37)))
    np.testing.assert_array_equal(gt.ops.relu(x, device=device), np.maximum(x, 0))
    x = np.array([NAN, -INF, INF, -1.0, -0.0, 0.0, 2.0], np.float32)
    np.testing.assert_array_equal(gt.ops.relu(x, device=device), [NAN, 0, INF, 0, 0, 0, 2])


def test_relu_grad_is_pytorchs_threshold_backward(device, rng):
    x = np.array([NAN, NAN, -1.0, 0.0, 2.0, -INF, INF, 3.0], np.float32)
    dy = np.array([5.0, NAN, NAN, NAN, 7.0, 1.0, 1.0, INF], np.float32)
    np.testing.assert_array_equal(gt.ops.relu_grad(dy, x, device=device), [5, NAN, 0, 0, 7, 0, 1, INF])
    x, dy = sprinkle(rng, normal(rng, (4, 29))), sprinkle(rng, normal(rng, (4, 29)))
    assert_matches(gt.ops.relu_grad(dy, x, device=device), ref.relu_grad(dy, x))


def test_sigmoid_of_specials(device, rng):
    x = np.array([NAN, -INF, INF], np.float32)
    np.testing.assert_array_equal(gt.ops.sigmoid(x, device=device), [NAN, 0, 1])
    x = sprinkle(rng, normal(rng, (5, 11), 4.0))
    assert_matches(gt.ops.sigmoid(x, device=device), ref.sigmoid(x))
    y, dy = sprinkle(rng, rng.uniform(0, 1, (5, 11)).astype(np.float32)), sprinkle(rng, normal(rng, (5, 11)))
    assert_matches(gt.ops.sigmoid_grad(dy, y, device=device), ref.sigmoid_grad(dy, y))


@pytest.mark.parametrize("special", [NAN, INF, -INF])
def test_softmax_rows_with_a_special(device, rng, special):
    # Row 0 holds the special once, row 1 twice, row 2 is finite (a block reduction on the GPU must not
    # let one row's NaN reach another's).
    x = normal(rng, (3, 300), 3.0)
    x[0, 17] = special
    x[1, [0, 299]] = special
    y = gt.ops.softmax(x, device=device)
    assert_matches(y, ref.softmax(x))
    assert not np.isnan(y[2]).any()
    dy = sprinkle(rng, normal(rng, x.shape), 0.01)
    y_ok = ref.softmax(normal(rng, x.shape)).astype(np.float32)
    assert_matches(gt.ops.softmax_grad(dy, y_ok, device=device), ref.softmax_grad(dy, y_ok))


# ---- the fused relu of dense and conv2d -------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "sigmoid", None])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (19, 5, 33), (70, 40, 65)])  # whole tiles and their edges
def test_dense_with_specials(device, rng, activation, m, k, n):
    x = normal(rng, (m, k))
    x[rng.integers(m), rng.integers(k)] = NAN
    kernel, bias = normal(rng, (k, n)), normal(rng, (n,))
    kernel[rng.integers(k), rng.integers(n)] = INF
    bias[rng.integers(n)] = -INF
    expected = ref.dense(x, kernel, bias)
    if activation == "relu":
        expected = ref.relu(expected)
    elif activation == "sigmoid":
        expected = ref.sigmoid(expected)
    assert_matches(gt.ops.dense(x, kernel, bias, device=device, activation=activation), expected)


def test_dense_relu_keeps_a_nan_of_every_tile(device, rng):
    # One NaN input row per output row block: each block's full-vector store must keep it.
    x = np.abs(normal(rng, (64, 8)))
    x[::3, 2] = NAN
    kernel = -np.abs(normal(rng, (8, 48)))  # every finite output is negative: relu gives 0
    got = gt.ops.dense(x, kernel, device=device, activation="relu")
    assert_matches(got, ref.relu(ref.dense(x, kernel)))
    assert np.isnan(got[::3]).all() and (got[1::3] == 0).all()


@pytest.mark.parametrize("activation", ["relu", None])
def test_conv2d_with_specials(device, rng, activation):
    x, kernel, bias = normal(rng, (2, 9, 8, 3)), normal(rng, (3, 3, 3, 5)), normal(rng, (5,))
    x[0, 4, 4, 1] = NAN
    x[1, 0, 7, 2] = INF
    y = gt.ops.conv2d(x, kernel, bias, padding="same", device=device, activation=activation)
    expected = ref.conv2d(x, kernel, bias, (1, 1), "same")
    assert_matches(y, ref.relu(expected) if activation == "relu" else expected)
    dy = sprinkle(rng, normal(rng, y.shape), 0.02)
    got = gt.ops.conv2d_grad(dy, x, kernel, padding="same", device=device)
    for g, r, name in zip(got, ref.conv2d_grad(dy, x, kernel, (1, 1), "same"), ("dx", "dkernel", "dbias")):
        assert_matches(g, r, what=name)


def test_matmul_and_dense_grad_with_specials(device, rng):
    a, b = normal(rng, (9, 13)), normal(rng, (13, 6))
    a[2, 5], b[7, 1] = NAN, -INF
    assert_matches(gt.ops.matmul(a, b, device=device), a.astype(np.float64) @ b)
    dy = normal(rng, (9, 6))
    dy[4, 3] = NAN
    for g, r, name in zip(gt.ops.dense_grad(dy, a, b, device=device), ref.dense_grad(dy, a, b),
                          ("dx", "dkernel", "dbias")):
        assert_matches(g, r, what=name)


# ---- pooling ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["fast", "simple"])
def test_max_pool_windows_of_nan_and_of_minus_inf(device, request, variant):
    if _kernels(device, variant, request):
        return
    # Windows (2x2, stride 2): all NaN; all -inf; NaN beside numbers (second and fourth cells); numbers.
    x = np.array([[NAN, NAN, -INF, -INF, 1.0, NAN, 1.0, 3.0],
                  [NAN, NAN, -INF, -INF, 9.0, NAN, 3.0, 2.0]], np.float32).reshape(1, 2, 8, 1)
    y, argmax = gt.ops.max_pool2d(x, 2, device=device, return_argmax=True)
    np.testing.assert_array_equal(y.reshape(-1), [NAN, -INF, NAN, 3.0])
    np.testing.assert_array_equal(argmax.reshape(-1), [0, 0, 1, 1])
    dy = np.array([1.0, 2.0, 4.0, 8.0], np.float32).reshape(1, 1, 4, 1)
    dx = gt.ops.max_pool2d_grad(dy, x, 2, device=device)
    np.testing.assert_array_equal(dx.reshape(2, 8), [[1, 0, 2, 0, 0, 4, 0, 8], [0, 0, 0, 0, 0, 0, 0, 0]])


@pytest.mark.parametrize("variant", ["fast", "simple"])
@pytest.mark.parametrize("channels", [(1, 3, 5), (4, 8)])  # one channel a thread, or four (GPU)
@pytest.mark.parametrize("case", range(4))
def test_max_pool_with_specials_random_windows(device, rng, request, variant, channels, case):
    if _kernels(device, variant, request):
        return
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=6, channels=channels)
    x = sprinkle(rng, rng.integers(-3, 4, size=(n, h, w, c)).astype(np.float32), 0.15)
    y, argmax = gt.ops.max_pool2d(x, pool, strides, padding, device=device, return_argmax=True)
    assert_matches(y, ref.pool2d(x, "max", pool, strides, padding), what="y")
    np.testing.assert_array_equal(argmax, ref.max_pool2d_argmax(x, pool, strides, padding))
    assert_matches(gt.ops.max_pool2d(x, pool, strides, padding, device=device), y, what="y without argmax")
    dy = normal(rng, y.shape)
    expected = ref.pool2d_grad(dy, x, "max", pool, strides, padding)
    assert_matches(gt.ops.max_pool2d_grad(dy, x, pool, strides, padding, device=device), expected)
    assert_matches(gt.ops.max_pool2d_grad(dy, x, pool, strides, padding, device=device, argmax=argmax), expected)


@pytest.mark.parametrize("variant", ["fast", "simple"])
@pytest.mark.parametrize("case", range(3))
def test_avg_pool_with_specials(device, rng, request, variant, case):
    if _kernels(device, variant, request):
        return
    n, h, w, c, pool, strides, padding = window_case(rng, max_extra=6, channels=(1, 4))
    x = sprinkle(rng, normal(rng, (n, h, w, c)), 0.1)
    y = gt.ops.avg_pool2d(x, pool, strides, padding, device=device)
    assert_matches(y, ref.pool2d(x, "avg", pool, strides, padding))
    dy = sprinkle(rng, normal(rng, y.shape), 0.1)
    assert_matches(gt.ops.avg_pool2d_grad(dy, x, pool, strides, padding, device=device),
                   ref.pool2d_grad(dy, x, "avg", pool, strides, padding))


def test_global_avg_pool_with_specials(device, rng):
    x = normal(rng, (3, 4, 5, 6))
    x[0, 1, 2, 3], x[1, 0, 0, 0], x[1, 3, 4, 0], x[2, 2, 2, 5] = NAN, INF, -INF, INF
    y = gt.ops.global_avg_pool2d(x, device=device)
    assert_matches(y, ref.global_avg_pool2d(x))
    assert np.isnan(y[1, 0]) and y[2, 5] == INF and np.isnan(y[0, 3])
    dy = normal(rng, y.shape)
    dy[2, 1] = NAN
    assert_matches(gt.ops.global_avg_pool2d_grad(dy, x, device=device), ref.global_avg_pool2d_grad(dy, x))


# ---- dropout ----------------------------------------------------------------------------------------

def test_dropout_is_a_product_even_for_dropped_specials(device, rng):
    x = sprinkle(rng, normal(rng, (7, 33)), 0.3)
    y, mask = gt.ops.dropout(x, 0.5, 12345, device=device)
    assert 0 < mask.sum() < mask.size
    assert_matches(y, ref.dropout(x, mask, 0.5))
    assert np.isnan(y[(mask == 0) & np.isnan(x)]).all() and np.isnan(y[(mask == 0) & np.isinf(x)]).all()
    dy = sprinkle(rng, normal(rng, x.shape), 0.3)
    assert_matches(gt.ops.dropout_grad(dy, mask, 0.5, device=device), ref.dropout(dy, mask, 0.5))


# ---- losses -----------------------------------------------------------------------------------------

def test_softmax_cross_entropy_with_specials(device, rng):
    logits = normal(rng, (4, 7), 2.0)
    labels = np.array([1, 2, 3, 4])
    logits[0, 5] = -INF  # not the label: an impossible class, the loss stays finite
    finite_loss, finite_grad = gt.ops.softmax_cross_entropy(labels, logits, device=device)
    loss, grad = ref.softmax_cross_entropy(labels, logits)
    assert np.isfinite(finite_loss)
    assert_matches(finite_loss, loss)
    assert_matches(finite_grad, grad)
    logits[2, 0] = NAN
    logits[3, 6] = INF
    got_loss, got_grad = gt.ops.softmax_cross_entropy(labels, logits, device=device)
    loss, grad = ref.softmax_cross_entropy(labels, logits)
    assert np.isnan(got_loss) and np.isnan(loss)
    assert_matches(got_grad, grad)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_cross_entropy_with_specials(device, rng, from_logits):
    target = rng.integers(0, 2, (5, 8)).astype(np.float32)
    output = normal(rng, (5, 8)) if from_logits else rng.uniform(0.01, 0.99, (5, 8)).astype(np.float32)
    output[1, 2] = NAN
    loss, grad = gt.ops.binary_cross_entropy(target, output, from_logits=from_logits, device=device)
    ref_loss, ref_grad = ref.binary_cross_entropy(target, output, from_logits)
    assert np.isnan(loss) and np.isnan(ref_loss)
    assert_matches(grad, ref_grad)
    assert np.isnan(grad[1, 2]) and np.isfinite(np.delete(grad.reshape(-1), 10)).all()
    output[1, 2] = 0.5
    target[3, 3] = NAN
    loss, grad = gt.ops.binary_cross_entropy(target, output, from_logits=from_logits, device=device)
    ref_loss, ref_grad = ref.binary_cross_entropy(target, output, from_logits)
    assert np.isnan(loss) and np.isnan(ref_loss)
    assert_matches(grad, ref_grad)


# ---- batch normalisation and optimizers -------------------------------------------------------------

def test_batch_norm_with_specials(device, rng):
    x = normal(rng, (6, 5), 2.0)
    x[2, 1], x[4, 3] = NAN, INF  # channel 1: NaN statistics; channel 3: Inf − Inf in the variance
    gamma, beta = normal(rng, (5,)), normal(rng, (5,))
    moving_mean, moving_var = np.zeros(5, np.float32), np.ones(5, np.float32)
    y, mean, var = gt.ops.batch_norm(x, gamma, beta, moving_mean, moving_var, training=True,
                                     momentum=0.9, epsilon=1e-3, device=device)
    ref_mean, ref_var = ref.batch_statistics(x)
    assert_matches(mean, ref_mean, what="mean")
    assert_matches(var, ref_var, what="var")
    assert_matches(y, ref.batch_norm(x, gamma, beta, ref_mean, ref_var, 1e-3), what="y")
    assert_matches(moving_mean, 0.1 * ref_mean, what="moving_mean")
    assert_matches(moving_var, 0.9 + 0.1 * ref_var, what="moving_var")
    assert np.isfinite(y[:, [0, 2, 4]]).all()
    dy = normal(rng, x.shape)
    dy[0, 0] = NAN
    got = gt.ops.batch_norm_grad(dy, x, gamma, mean, var, epsilon=1e-3, device=device)
    for g, r, name in zip(got, ref.batch_norm_grad(dy, x, gamma, 1e-3), ("dx", "dgamma", "dbeta")):
        assert_matches(g, r, what=name)


def test_optimizers_with_special_gradients(device, rng):
    shape = (3, 9)
    grad = sprinkle(rng, normal(rng, shape), 0.2)
    param, velocity = normal(rng, shape), normal(rng, shape)
    expected, expected_velocity = ref.sgd(param, grad, velocity, np.float32(0.1), np.float32(0.9), True)
    gt.ops.sgd_update(param, grad, velocity, learning_rate=0.1, momentum=0.9, nesterov=True, device=device)
    assert_matches(param, expected, what="sgd param")
    assert_matches(velocity, expected_velocity, what="sgd velocity")
    param, m, v = normal(rng, shape), normal(rng, shape), np.abs(normal(rng, shape))
    expected, expected_m, expected_v = ref.adam(param, grad, m, v, 3, 0.01, np.float32(0.9), np.float32(0.999), 1e-7)
    gt.ops.adam_update(param, grad, m, v, 3, learning_rate=0.01, device=device)
    for got, want, name in ((param, expected, "adam param"), (m, expected_m, "m"), (v, expected_v, "v")):
        assert_matches(got, want, 1e-4, what=name)
    param, velocity = normal(rng, shape), np.abs(normal(rng, shape))
    expected, expected_velocity, _, _ = ref.rmsprop(param, grad, velocity, None, None, 0.01, np.float32(0.9),
                                                    0.0, 1e-7, False)
    gt.ops.rmsprop_update(param, grad, velocity, learning_rate=0.01, device=device)
    assert_matches(param, expected, 1e-4, what="rmsprop param")
    assert_matches(velocity, expected_velocity, what="rmsprop velocity")


# ---- a training step's accuracy ---------------------------------------------------------------------

def test_training_step_accuracy_counts_numpys_argmax(device):
    """Sparse categorical accuracy picks np.argmax of each output row: the first NaN where a row has one."""
    outputs = np.array([[1.0, NAN, 5.0], [NAN, 2.0, 3.0], [0.0, 4.0, NAN], [2.0, 1.0, 0.0]], np.float32)
    labels = np.array([1, 0, 2, 0], np.int32)  # np.argmax hits all four; skipping NaN would hit two
    assert list(np.argmax(outputs, axis=1)) == [1, 0, 2, 0]
    plan = gt._core._TrainPlan(device, 4, [3], graphs=False)
    plan.add_activation("linear")  # the outputs are the inputs (a dense layer would spread each NaN)
    plan.add_loss("sparse_categorical", False)
    plan.set_optimizer("sgd", {}, [[], [], []])
    plan.step(gt.tensor(outputs, device=device), gt.tensor(labels, device=device), 1, 0.0)
    loss_sum, hits, _ = plan.metrics()  # one loss term, then the (absent) penalties
    assert np.isnan(loss_sum)
    assert hits == 4


def test_losses_of_empty_batches_are_nan(device):
    """The mean over no element is 0/0, NaN, as np.mean (and Keras, PyTorch) give it, not 0."""
    loss, grad = gt.ops.softmax_cross_entropy(np.zeros(0, np.int32), np.zeros((0, 3), np.float32), device=device)
    assert np.isnan(loss) and grad.shape == (0, 3)
    for from_logits in (False, True):
        loss, grad = gt.ops.binary_cross_entropy(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32),
                                                 from_logits=from_logits, device=device)
        assert np.isnan(loss) and grad.shape == (0, 2)
