"""Float64 NumPy references for the nn ops, written from the definitions (NHWC, HWIO, TensorFlow's
padding rule) with plain loops and einsum, independent of gputrain's code. Backward references are checked against finite differences of
the forward references (tests/test_reference.py) before our kernels are judged against them."""
from __future__ import annotations

import math

import numpy as np


# ---- padding (TensorFlow's rule) --------------------------------------------------------------------

def same_padding(size: int, window: int, stride: int) -> tuple[int, int, int]:
    """(output, pad_before, pad_after) for "same": output ceil(size/stride), odd cell after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def geometry(h, w, kh, kw, strides, padding):
    """(oh, ow, pad_top, pad_left, pad_bottom, pad_right)."""
    sh, sw = strides
    if padding == "valid":
        return (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0, 0, 0
    oh, top, bottom = same_padding(h, kh, sh)
    ow, left, right = same_padding(w, kw, sw)
    return oh, ow, top, left, bottom, right


def _padded(x, top, left, bottom, right, value=0.0):
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


# ---- convolution ------------------------------------------------------------------------------------

def conv_geometry(h, w, kh, kw, strides, padding):
    """geometry() for a convolution's window, padding also explicit cells ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        return geometry(h, w, kh, kw, strides, padding)
    (top, bottom), (left, right) = padding
    return ((h + top + bottom - kh) // strides[0] + 1, (w + left + right - kw) // strides[1] + 1,
            top, left, bottom, right)


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """Keras's Conv2D: y[n, oh, ow, k] = Σ x[n, oh·sh − top + i·dh, ow·sw − left + j·dw, c]·kernel[i, j, c, k],
    the padding TensorFlow's for the dilated extent (kh − 1)·dh + 1 (likewise for w), or explicit cells
    ((top, bottom), (left, right)). With groups, output channels [q·k/g, (q+1)·k/g) read only input
    channels [q·c/g, (q+1)·c/g), through kernel (kh, kw, c/g, k)."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    n, h, w, c = x.shape
    kh, kw, cg, k = kernel.shape
    assert cg * groups == c and k % groups == 0
    kg = k // groups
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, top, left, bottom, right = conv_geometry(h, w, (kh - 1) * dh + 1, (kw - 1) * dw + 1, strides, padding)
    xp = _padded(x, top, left, bottom, right)
    y = np.zeros((n, oh, ow, k))
    for q in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw,
                           q * cg:(q + 1) * cg]
                y[..., q * kg:(q + 1) * kg] += np.einsum("nhwc,ck->nhwk", patch, kernel[i, j, :, q * kg:(q + 1) * kg])
    if bias is not None:
        y += np.asarray(bias, np.float64)
    return y


def conv2d_grad(dy, x, kernel, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    dy, x, kernel = (np.asarray(a, np.float64) for a in (dy, x, kernel))
    n, h, w, c = x.shape
    kh, kw, cg, k = kernel.shape
    kg = k // groups
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, top, left, bottom, right = conv_geometry(h, w, (kh - 1) * dh + 1, (kw - 1) * dw + 1, strides, padding)
    xp = _padded(x, top, left, bottom, right)
    dxp = np.zeros_like(xp)
    dk = np.zeros_like(kernel)
    for q in range(groups):
        cs, ks = slice(q * cg, (q + 1) * cg), slice(q * kg, (q + 1) * kg)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
                cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                dxp[:, rows, cols, cs] += np.einsum("nhwk,ck->nhwc", dy[..., ks], kernel[i, j, :, ks])
                dk[i, j, :, ks] = np.einsum("nhwc,nhwk->ck", xp[:, rows, cols, cs], dy[..., ks])
    dx = dxp[:, top:top + h, left:left + w, :]
    return dx, dk, dy.sum(axis=(0, 1, 2))


# ---- depthwise convolution --------------------------------------------------------------------------

def _depthwise_taps(x, kernel, strides, padding, dilation):
    """The padded x and, for each tap (i, j), the slices of it that the tap reads for every output."""
    n, h, w, c = x.shape
    kh, kw = kernel.shape[:2]
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, top, left, bottom, right = geometry(h, w, (kh - 1) * dh + 1, (kw - 1) * dw + 1, strides, padding)
    taps = [(i, j, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))
            for i in range(kh) for j in range(kw)]
    return _padded(x, top, left, bottom, right), taps, (oh, ow, top, left)


def depthwise_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Keras's DepthwiseConv2D: kernel (kh, kw, c, m), output channel ch·m + k = Σ over taps of
    x[.., ch] · kernel[i, j, ch, k], taps `dilation` apart, "same" padding for the dilated extent."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    n, c, m = x.shape[0], x.shape[3], kernel.shape[3]
    xp, taps, (oh, ow, _, _) = _depthwise_taps(x, kernel, strides, padding, dilation)
    y = np.zeros((n, oh, ow, c, m))
    for i, j, rows, cols in taps:
        y += xp[:, rows, cols, :, None] * kernel[i, j]
    y = y.reshape(n, oh, ow, c * m)
    return y if bias is None else y + np.asarray(bias, np.float64)


def depthwise_conv2d_grad(dy, x, kernel, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """(dx, dkernel, dbias) of depthwise_conv2d."""
    dy, x, kernel = (np.asarray(a, np.float64) for a in (dy, x, kernel))
    n, h, w, c = x.shape
    m = kernel.shape[3]
    xp, taps, (oh, ow, top, left) = _depthwise_taps(x, kernel, strides, padding, dilation)
    dy5 = dy.reshape(n, oh, ow, c, m)
    dxp, dk = np.zeros_like(xp), np.zeros_like(kernel)
    for i, j, rows, cols in taps:
        dxp[:, rows, cols, :] += (dy5 * kernel[i, j]).sum(axis=-1)
        dk[i, j] = np.einsum("nhwc,nhwcm->cm", xp[:, rows, cols, :], dy5)
    return dxp[:, top:top + h, left:left + w, :], dk, dy.sum(axis=(0, 1, 2))


# ---- pooling ----------------------------------------------------------------------------------------

def _windows(h, w, pool, strides, padding):
    """Yields (oh, ow, rows, cols, r0, c0): each window's real rows and columns (padding cells excluded)
    and its top-left corner, which may lie in the padding."""
    ph, pw = pool
    sh, sw = strides
    oh_n, ow_n, top, left, _, _ = geometry(h, w, ph, pw, strides, padding)
    for oh in range(oh_n):
        r0 = oh * sh - top
        for ow in range(ow_n):
            c0 = ow * sw - left
            yield oh, ow, range(max(r0, 0), min(r0 + ph, h)), range(max(c0, 0), min(c0 + pw, w)), r0, c0


def pool2d(x, kind, pool=(2, 2), strides=None, padding="valid"):
    x = np.asarray(x, np.float64)
    strides = strides or pool
    n, h, w, c = x.shape
    oh_n, ow_n, *_ = geometry(h, w, pool[0], pool[1], strides, padding)
    y = np.zeros((n, oh_n, ow_n, c))
    for oh, ow, rows, cols, _, _ in _windows(h, w, pool, strides, padding):
        cells = x[:, rows.start:rows.stop, cols.start:cols.stop, :]
        y[:, oh, ow, :] = cells.max(axis=(1, 2)) if kind == "max" else cells.mean(axis=(1, 2))
    return y


def max_pool2d_argmax(x, pool=(2, 2), strides=None, padding="valid"):
    """Where each window's first maximum lies inside its window, row-major (i·pool_w + j): a row-major
    scan with a strict '>', so the first of equal maxima wins; a window holding NaN points at its first
    NaN, as np.argmax does (its maximum is NaN, as np.max's)."""
    x = np.asarray(x, np.float64)
    strides = strides or pool
    n, h, w, c = x.shape
    oh_n, ow_n, *_ = geometry(h, w, pool[0], pool[1], strides, padding)
    argmax = np.full((n, oh_n, ow_n, c), -1, np.int64)
    for oh, ow, rows, cols, r0, c0 in _windows(h, w, pool, strides, padding):
        for b in range(n):
            for ch in range(c):
                best = -math.inf
                for r in rows:
                    for q in cols:
                        v = x[b, r, q, ch]
                        if argmax[b, oh, ow, ch] < 0 or v > best or (math.isnan(v) and not math.isnan(best)):
                            best, argmax[b, oh, ow, ch] = x[b, r, q, ch], (r - r0) * pool[1] + (q - c0)
    return argmax


def pool2d_grad(dy, x, kind, pool=(2, 2), strides=None, padding="valid"):
    dy, x = np.asarray(dy, np.float64), np.asarray(x, np.float64)
    strides = strides or pool
    dx = np.zeros_like(x)
    argmax = max_pool2d_argmax(x, pool, strides, padding) if kind == "max" else None
    for oh, ow, rows, cols, r0, c0 in _windows(x.shape[1], x.shape[2], pool, strides, padding):
        if kind == "avg":
            dx[:, rows.start:rows.stop, cols.start:cols.stop, :] += (
                dy[:, oh, ow, None, None, :] / (len(rows) * len(cols)))
            continue
        for b in range(x.shape[0]):
            for ch in range(x.shape[3]):
                i, j = divmod(int(argmax[b, oh, ow, ch]), pool[1])
                dx[b, r0 + i, c0 + j, ch] += dy[b, oh, ow, ch]
    return dx


def global_avg_pool2d(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def global_avg_pool2d_grad(dy, x):
    n, h, w, c = np.shape(x)
    return np.broadcast_to(np.asarray(dy, np.float64)[:, None, None, :] / (h * w), (n, h, w, c)).copy()


# ---- dense ------------------------------------------------------------------------------------------

def dense(x, kernel, bias=None):
    y = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    return y if bias is None else y + np.asarray(bias, np.float64)


def dense_grad(dy, x, kernel):
    dy, x, kernel = (np.asarray(a, np.float64) for a in (dy, x, kernel))
    x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    return dy @ kernel.T, x2.T @ dy2, dy2.sum(axis=0)


# ---- activations ------------------------------------------------------------------------------------

def relu(x):
    return np.maximum(np.asarray(x, np.float64), 0.0)


def relu_grad(dy, x):
    """PyTorch's rule (threshold_backward): dy except where x <= 0, so a NaN x passes dy on."""
    return np.where(np.asarray(x) <= 0, 0.0, np.asarray(dy, np.float64))


def sigmoid(x):
    x = np.asarray(x, np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1+e^-x) without overflow


def sigmoid_grad(dy, y):
    y = np.asarray(y, np.float64)
    return np.asarray(dy, np.float64) * y * (1.0 - y)


def swish(x):
    x = np.asarray(x, np.float64)
    return x * sigmoid(x)


def swish_grad(dy, x):
    x = np.asarray(x, np.float64)
    s = sigmoid(x)
    return np.asarray(dy, np.float64) * s * (1.0 + x * (1.0 - s))


# Keras 3's activations with their default arguments (keras.activations.<name>), written from their
# definitions. Where a derivative is chosen by a comparison, a NaN passes dy on (relu's rule, above).

def relu6(x):
    return np.minimum(np.maximum(np.asarray(x, np.float64), 0.0), 6.0)  # both keep NaN


def relu6_grad(dy, t):
    """PyTorch's hardtanh_backward: 0 where t <= 0 or t >= 6, else dy; t is relu6's input or output."""
    t = np.asarray(t, np.float64)
    return np.where((t <= 0) | (t >= 6), 0.0, np.asarray(dy, np.float64))


def elu(x):
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))  # alpha = 1; expm1 never sees a large x


def elu_grad(dy, y):
    """exp(x) = y + 1 below 0, 1 above: from the output."""
    y = np.asarray(y, np.float64)
    dy = np.asarray(dy, np.float64)
    return np.where(y <= 0, dy * (y + 1.0), dy)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    x = np.asarray(x, np.float64)
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def selu_grad(dy, x):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    return np.where(x <= 0, dy * SELU_SCALE * SELU_ALPHA * np.exp(np.minimum(x, 0.0)), dy * SELU_SCALE)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _normal_cdf(x):
    return 0.5 * _erfc(-x / math.sqrt(2.0))  # = (1 + erf(x/√2))/2, without cancelling for x << 0


def gelu(x):
    """Keras's default, approximate=False: x·Φ(x) = 0.5·x·(1 + erf(x/√2))."""
    x = np.asarray(x, np.float64)
    return x * _normal_cdf(x)


def gelu_grad(dy, x):
    x = np.asarray(x, np.float64)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return np.asarray(dy, np.float64) * (_normal_cdf(x) + x * pdf)


def tanh(x):
    return np.tanh(np.asarray(x, np.float64))


def tanh_grad(dy, y):
    y = np.asarray(y, np.float64)
    return np.asarray(dy, np.float64) * (1.0 - y * y)


def softplus(x):
    return np.logaddexp(np.asarray(x, np.float64), 0.0)  # log(e^x + e^0) without overflow


def softplus_grad(dy, x):
    return np.asarray(dy, np.float64) * sigmoid(x)


def softsign(x):
    x = np.asarray(x, np.float64)
    return x / (1.0 + np.abs(x))


def softsign_grad(dy, x):
    x = np.asarray(x, np.float64)
    return np.asarray(dy, np.float64) / (1.0 + np.abs(x)) ** 2


def hard_sigmoid(x):
    """Keras 3: 0 for x <= -3, 1 for x >= 3, x/6 + 1/2 between (np.clip keeps NaN)."""
    return np.clip(np.asarray(x, np.float64) / 6.0 + 0.5, 0.0, 1.0)


def hard_sigmoid_grad(dy, y):
    """1/6 where the output is strictly between 0 and 1 (x in (-3, 3)), else 0."""
    y = np.asarray(y, np.float64)
    return np.where((y <= 0) | (y >= 1), 0.0, np.asarray(dy, np.float64) / 6.0)


LEAKY_RELU_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope


def leaky_relu(x):
    x = np.asarray(x, np.float64)
    return np.where(x >= 0, x, LEAKY_RELU_SLOPE * x)


def leaky_relu_grad(dy, t):
    """The slope where t <= 0 (at 0 too, as TensorFlow and PyTorch), else dy; t is the input or output."""
    dy = np.asarray(dy, np.float64)
    return np.where(np.asarray(t, np.float64) <= 0, LEAKY_RELU_SLOPE * dy, dy)


def softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_grad(dy, y):
    dy, y = np.asarray(dy, np.float64), np.asarray(y, np.float64)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


# ---- dropout ----------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def dropout(x, mask, rate):
    """x·mask/(1 − rate): a product, so a dropped NaN or Inf gives NaN (PyTorch's formula too)."""
    return np.asarray(x, np.float64) * np.asarray(mask, np.float64) / (1.0 - rate)


def dropout_mask(size: int, rate: float, seed: int) -> np.ndarray:
    """The documented mask: keep index i when the top 24 bits of
    splitmix64(seed ^ splitmix64(i)) are >= rate·2^24 rounded half away from zero."""
    threshold = math.floor(rate * (1 << 24) + 0.5)
    return np.array([(_splitmix64(seed ^ _splitmix64(i)) >> 40) >= threshold for i in range(size)],
                    dtype=np.uint8)


# ---- losses -----------------------------------------------------------------------------------------

def softmax_cross_entropy(labels, logits, class_weight=None, ignore_index=None, reduction="mean"):
    """PyTorch's cross_entropy: row i weighs w_i = class_weight[labels[i]] (1 without weights, 0 when
    labels[i] == ignore_index: no loss, no gradient); "mean" is Σ w_i·l_i / Σ w_i, "none" each w_i·l_i
    with row i's gradient that of its own loss."""
    z = np.asarray(logits, np.float64)
    labels = np.asarray(labels)
    rows = z.shape[0]
    kept = np.ones(rows, bool) if ignore_index is None else labels != ignore_index
    index = np.where(kept, labels, 0)  # an ignored row's label need not be a class
    w = np.ones(rows) if class_weight is None else np.asarray(class_weight, np.float64)[index]
    w = np.where(kept, w, 0.0)
    m = z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    row_loss = np.where(kept, w * (log_sum - z[np.arange(rows), index]), 0.0)
    grad = softmax(z)
    grad[np.arange(rows), index] -= 1.0
    grad = np.where(kept[:, None], w[:, None] * grad, 0.0)
    if reduction == "none":
        return row_loss, grad
    if reduction == "sum":
        return row_loss.sum(), grad
    with np.errstate(invalid="ignore", divide="ignore"):
        return row_loss.sum() / w.sum(), grad / w.sum()


BCE_EPSILON = 1e-7


def binary_cross_entropy(target, output, from_logits):
    t, o = np.asarray(target, np.float64), np.asarray(output, np.float64)
    n = o.size
    if from_logits:
        loss = np.mean(np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o))))
        return loss, (sigmoid(o) - t) / n
    # Keras 3: clip to [eps, 1 − eps], no epsilon inside the logs. The bounds are float32 numbers, as in
    # Keras on float32 outputs: 1 − 1e-7 is 1 − 1.19e-7 there (the float32 spacing below 1 is 6e-8).
    lo, hi = float(np.float32(BCE_EPSILON)), float(np.float32(1 - BCE_EPSILON))
    p = np.clip(o, lo, hi)
    loss = np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))
    grad = -(t / p - (1 - t) / (1 - p)) / n
    return loss, np.where((o < lo) | (o > hi), 0.0, grad)


# ---- batch normalisation ----------------------------------------------------------------------------

def batch_norm(x, gamma, beta, mean, var, epsilon):
    x = np.asarray(x, np.float64)
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64)
    b = 0.0 if beta is None else np.asarray(beta, np.float64)
    return (x - mean) / np.sqrt(np.asarray(var, np.float64) + epsilon) * g + b


def batch_statistics(x):
    x2 = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
    return x2.mean(axis=0), x2.var(axis=0)  # biased variance, as Keras normalises with


def batch_norm_train(x, gamma, beta, epsilon):
    mean, var = batch_statistics(x)
    return batch_norm(x, gamma, beta, mean, var, epsilon)


def batch_norm_grad(dy, x, gamma, epsilon):
    dy = np.asarray(dy, np.float64).reshape(-1, np.shape(x)[-1])
    x2 = np.asarray(x, np.float64).reshape(dy.shape)
    m = x2.shape[0]
    mean, var = batch_statistics(x2)
    inv = 1.0 / np.sqrt(var + epsilon)
    xhat = (x2 - mean) * inv
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64)
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    dx = g * inv / m * (m * dy - dbeta - xhat * dgamma)
    return dx.reshape(np.shape(x)), dgamma, dbeta


# ---- optimizers (Keras 3 formulas) ------------------------------------------------------------------

def sgd(param, grad, velocity, lr, momentum, nesterov):
    p, g = np.asarray(param, np.float64), np.asarray(grad, np.float64)
    if momentum == 0:
        return p - lr * g, velocity
    v = momentum * np.asarray(velocity, np.float64) - lr * g
    return (p + momentum * v - lr * g if nesterov else p + v), v


def adam(param, grad, m, v, step, lr, beta_1, beta_2, epsilon):
    p, g = np.asarray(param, np.float64), np.asarray(grad, np.float64)
    m = np.asarray(m, np.float64) + (g - m) * (1 - beta_1)
    v = np.asarray(v, np.float64) + (g * g - v) * (1 - beta_2)
    alpha = lr * math.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    return p - alpha * m / (np.sqrt(v) + epsilon), m, v


def rmsprop(param, grad, velocity, momentum_buffer, average_grad, lr, rho, momentum, epsilon, centered):
    p, g = np.asarray(param, np.float64), np.asarray(grad, np.float64)
    velocity = rho * np.asarray(velocity, np.float64) + (1 - rho) * g * g
    if centered:
        average_grad = rho * np.asarray(average_grad, np.float64) + (1 - rho) * g
        denominator = velocity - average_grad ** 2 + epsilon
    else:
        denominator = velocity + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        momentum_buffer = momentum * np.asarray(momentum_buffer, np.float64) + increment
        return p - momentum_buffer, velocity, momentum_buffer, average_grad
    return p - increment, velocity, momentum_buffer, average_grad


# ---- finite differences -----------------------------------------------------------------------------

def numeric_grad(f, x, dy, h=1e-6):
    """d(Σ f(x)·dy)/dx by central differences in float64 (for tiny shapes)."""
    x = np.array(x, np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = np.sum(f(x) * dy)
        flat[i] = old - h
        down = np.sum(f(x) * dy)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad
