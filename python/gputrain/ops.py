"""Functional operations. NumPy arrays in, NumPy out, computed on `device=` (default: the default
device); gputrain Tensors in, Tensors out on the tensors' device (`device=` is then ignored).
Validation happens in the C++ dispatch."""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device


def _as_array(x, name: str):
    # Python scalars and lists become float32; arrays and Tensors keep their dtype so that a wrong one
    # is reported by dispatch instead of converted silently.
    if isinstance(x, (np.ndarray, _core.Tensor)):
        return x
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of float32, got {type(x).__name__}") from exc


def _device(device, *args) -> str:
    # Tensors decide the device themselves (dispatch reads it from them; the name returned here is then
    # not used); resolving the default would load GPU backends needlessly. A device named beside them
    # must be theirs.
    tensor = next((a for a in args if isinstance(a, _core.Tensor)), None)
    if tensor is None:
        return resolve_device(device)
    if device is not None and resolve_device(device) != tensor.device:
        raise ValueError(f"device: {device!r} was asked for, but the tensors are on {tensor.device}; "
                         f"leave device out, or move them with .to({device!r})")
    return "cpu"


def add(a, b, device: str | None = None):
    """Element-wise a + b of two float32 arrays of the same shape."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    return _core.add(a, b, _device(device, a, b))


# ---- argument helpers -------------------------------------------------------------------------------

def _pair(value, name: str) -> list[int]:
    """An int or a pair of ints (Keras accepts both) as [h, w]; dispatch checks they are positive."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [int(value), int(value)]
    if isinstance(value, str):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}") from None
    if len(items) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {tuple(items)!r}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {tuple(items)!r}")
    return [int(v) for v in items]


def _padding(padding) -> str:
    if not isinstance(padding, str):
        raise TypeError(f"padding: expected 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _optional(x, name: str):
    return None if x is None else _as_array(x, name)


def _labels(labels):
    """Integer class labels as int32. An int32 Tensor is used where it is; another integer Tensor is
    converted through the host (the kernels read int32)."""
    if isinstance(labels, _core.Tensor):
        if labels.dtype == "int32" or labels.dtype not in ("int64", "uint8"):
            return labels  # dispatch names a wrong dtype
        return _core.tensor_from_numpy(_labels(labels.numpy()), labels.device)
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class indices, got dtype {array.dtype}")
    if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
        raise ValueError("labels: values do not fit int32")
    return np.ascontiguousarray(array, dtype=np.int32)


def _real(value, name: str) -> float:
    """A hyper-parameter given as a Python or NumPy number (dispatch checks its range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    return float(value)


def _seed(seed) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed: expected 0 <= seed < 2**64, got {seed}")
    return int(seed)


def _loss(loss):
    return loss[()] if isinstance(loss, np.ndarray) else loss  # a NumPy float32 scalar in NumPy mode


# ---- matrix multiply, dense, convolution ------------------------------------------------------------

def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, device: str | None = None):
    """op(a) @ op(b) for 2-D float32 arrays, op = transpose where asked."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    return _core.matmul(a, b, bool(transpose_a), bool(transpose_b), _device(device, a, b))


def dense(x, kernel, bias=None, device: str | None = None, activation: str | None = None):
    """activation(x (..., in) @ kernel (in, out) + bias (out,)): Keras's Dense. activation None (or
    "linear"), "relu" or "sigmoid" is applied in the same pass that writes y. The gradient of a fused
    activation comes from its output: relu_grad(dy, y) (y is <= 0, or NaN, exactly where the input was) or
    sigmoid_grad(dy, y), then dense_grad."""
    x, kernel, bias = _as_array(x, "x"), _as_array(kernel, "kernel"), _optional(bias, "bias")
    return _core.dense(x, kernel, bias, _device(device, x, kernel, bias), activation)


def dense_grad(dy, x, kernel, device: str | None = None):
    """(dx, dkernel, dbias) of dense for the output gradient dy."""
    dy, x, kernel = _as_array(dy, "dy"), _as_array(x, "x"), _as_array(kernel, "kernel")
    return _core.dense_grad(dy, x, kernel, _device(device, dy, x, kernel))


def conv2d(x, kernel, bias=None, strides=(1, 1), padding: str = "valid", device: str | None = None,
           activation: str | None = None):
    """2-D convolution of NHWC x with an HWIO kernel (kh, kw, in, out), plus bias (out,), then
    activation (None/"linear", "relu", "sigmoid") fused into the same pass, as in dense."""
    x, kernel, bias = _as_array(x, "x"), _as_array(kernel, "kernel"), _optional(bias, "bias")
    return _core.conv2d(x, kernel, bias, _pair(strides, "strides"), _padding(padding),
                        _device(device, x, kernel, bias), activation)


def conv2d_grad(dy, x, kernel, strides=(1, 1), padding: str = "valid", device: str | None = None):
    """(dx, dkernel, dbias) of conv2d for the output gradient dy."""
    dy, x, kernel = _as_array(dy, "dy"), _as_array(x, "x"), _as_array(kernel, "kernel")
    return _core.conv2d_grad(dy, x, kernel, _pair(strides, "strides"), _padding(padding),
                             _device(device, dy, x, kernel))


# ---- pooling ----------------------------------------------------------------------------------------

def _pool(kind, x, pool_size, strides, padding, device, return_argmax=False):
    x = _as_array(x, "x")
    pool = _pair(pool_size, "pool_size")
    return _core.pool2d(x, kind, pool, pool if strides is None else _pair(strides, "strides"),
                        _padding(padding), _device(device, x), return_argmax)


def _pool_grad(kind, dy, x, pool_size, strides, padding, device, argmax=None):
    dy, x = _as_array(dy, "dy"), _as_array(x, "x")
    pool = _pair(pool_size, "pool_size")
    return _core.pool2d_grad(dy, x, kind, pool, pool if strides is None else _pair(strides, "strides"),
                             _padding(padding), _device(device, dy, x, argmax), argmax)


def max_pool2d(x, pool_size=(2, 2), strides=None, padding: str = "valid", device: str | None = None,
               return_argmax: bool = False):
    """Max pooling of NHWC x; strides default to pool_size (Keras). With return_argmax, (y, argmax):
    argmax (int32, y's shape) holds where each window's first maximum lies inside its window
    (row-major, i·pool_w + j); given to max_pool2d_grad, it spares the backward a second pass over x."""
    return _pool("max", x, pool_size, strides, padding, device, bool(return_argmax))


def max_pool2d_grad(dy, x, pool_size=(2, 2), strides=None, padding: str = "valid",
                    device: str | None = None, argmax=None):
    """dx of max pooling: each window's gradient goes to its first maximum (found again in x, or read
    from `argmax`, the forward's for this x)."""
    return _pool_grad("max", dy, x, pool_size, strides, padding, device, argmax)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding: str = "valid", device: str | None = None):
    """Average pooling of NHWC x; with "same" each window divides by its number of real cells."""
    return _pool("avg", x, pool_size, strides, padding, device)


def avg_pool2d_grad(dy, x, pool_size=(2, 2), strides=None, padding: str = "valid",
                    device: str | None = None):
    return _pool_grad("avg", dy, x, pool_size, strides, padding, device)


def global_avg_pool2d(x, device: str | None = None):
    """Mean over height and width: (N, H, W, C) → (N, C)."""
    x = _as_array(x, "x")
    return _core.global_avg_pool2d(x, _device(device, x))


def global_avg_pool2d_grad(dy, x, device: str | None = None):
    dy, x = _as_array(dy, "dy"), _as_array(x, "x")
    return _core.global_avg_pool2d_grad(dy, x, _device(device, dy, x))


# ---- activations and dropout ------------------------------------------------------------------------

def relu(x, device: str | None = None):
    x = _as_array(x, "x")
    return _core.relu(x, _device(device, x))


def relu_grad(dy, x, device: str | None = None):
    """0 where the forward input x <= 0, else dy (PyTorch's rule: a NaN x passes dy on)."""
    dy, x = _as_array(dy, "dy"), _as_array(x, "x")
    return _core.relu_grad(dy, x, _device(device, dy, x))


def sigmoid(x, device: str | None = None):
    x = _as_array(x, "x")
    return _core.sigmoid(x, _device(device, x))


def sigmoid_grad(dy, y, device: str | None = None):
    """dy·y·(1 − y), from the forward output y."""
    dy, y = _as_array(dy, "dy"), _as_array(y, "y")
    return _core.sigmoid_grad(dy, y, _device(device, dy, y))


def softmax(x, device: str | None = None):
    """Softmax over the last axis."""
    x = _as_array(x, "x")
    return _core.softmax(x, _device(device, x))


def softmax_grad(dy, y, device: str | None = None):
    """y·(dy − Σ dy·y) over the last axis, from the forward output y."""
    dy, y = _as_array(dy, "dy"), _as_array(y, "y")
    return _core.softmax_grad(dy, y, _device(device, dy, y))


def dropout(x, rate: float, seed: int, device: str | None = None):
    """(y, mask): each element kept with probability 1 − rate and scaled by 1/(1 − rate); mask is uint8
    (1 = kept). The mask is a function of (seed, element index) only: the same on every backend.
    y = x·mask/(1 − rate), a product: a dropped NaN or Inf gives NaN."""
    x = _as_array(x, "x")
    return _core.dropout(x, _real(rate, "rate"), _seed(seed), _device(device, x))


def dropout_grad(dy, mask, rate: float, device: str | None = None):
    dy = _as_array(dy, "dy")
    return _core.dropout_grad(dy, mask, _real(rate, "rate"), _device(device, dy, mask))


# ---- losses -----------------------------------------------------------------------------------------

def softmax_cross_entropy(labels, logits, device: str | None = None):
    """(loss, dlogits): sparse categorical cross-entropy from logits (batch, classes) and integer labels
    (batch,), mean over the batch."""
    labels, logits = _labels(labels), _as_array(logits, "logits")
    loss, grad = _core.softmax_cross_entropy(labels, logits, _device(device, labels, logits))
    return _loss(loss), grad


def binary_cross_entropy(target, output, from_logits: bool = False, device: str | None = None):
    """(loss, doutput): Keras's binary cross-entropy, mean over all elements; `output` is logits when
    from_logits, else probabilities, clipped to [1e-7, 1 − 1e-7] as Keras 3 does (no epsilon inside
    the logs; the gradient is zero where the clip acted)."""
    target, output = _as_array(target, "target"), _as_array(output, "output")
    loss, grad = _core.binary_cross_entropy(target, output, bool(from_logits),
                                            _device(device, target, output))
    return _loss(loss), grad


# ---- batch normalisation ----------------------------------------------------------------------------

def batch_norm(x, gamma=None, beta=None, moving_mean=None, moving_var=None, training: bool = False,
               momentum: float = 0.99, epsilon: float = 1e-3, device: str | None = None):
    """(y, mean, var): normalisation over the last axis. Training uses the batch's mean and variance
    (returned) and updates moving_mean/moving_var in place when given; inference uses (and returns
    copies of) moving_mean/moving_var. gamma/beta None mean 1/0."""
    x, gamma, beta = _as_array(x, "x"), _optional(gamma, "gamma"), _optional(beta, "beta")
    return _core.batch_norm(x, gamma, beta, moving_mean, moving_var, bool(training), _real(momentum, "momentum"),
                            _real(epsilon, "epsilon"), _device(device, x, gamma, beta, moving_mean, moving_var))


def batch_norm_grad(dy, x, gamma, mean, var, epsilon: float = 1e-3, device: str | None = None):
    """(dx, dgamma, dbeta) of training-mode batch_norm, given the batch mean and var it returned."""
    dy, x, gamma = _as_array(dy, "dy"), _as_array(x, "x"), _optional(gamma, "gamma")
    mean, var = _as_array(mean, "mean"), _as_array(var, "var")
    return _core.batch_norm_grad(dy, x, gamma, mean, var, _real(epsilon, "epsilon"),
                                 _device(device, dy, x, gamma, mean, var))


# ---- optimizer updates (in place) -------------------------------------------------------------------

def sgd_update(param, grad, velocity=None, learning_rate: float = 0.01, momentum: float = 0.0,
               nesterov: bool = False, device: str | None = None):
    """Keras SGD step, in place on param (and velocity, needed when momentum > 0)."""
    grad = _as_array(grad, "grad")
    _core.sgd_update(param, grad, velocity, _real(learning_rate, "learning_rate"), _real(momentum, "momentum"), bool(nesterov),
                     _device(device, param, grad, velocity))


def adam_update(param, grad, m, v, step: int, learning_rate: float = 0.001, beta_1: float = 0.9,
                beta_2: float = 0.999, epsilon: float = 1e-7, device: str | None = None):
    """Keras Adam step number `step` (1 for the first), in place on param, m and v."""
    grad = _as_array(grad, "grad")
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
        raise TypeError(f"step: expected an int, got {type(step).__name__}")
    _core.adam_update(param, grad, m, v, int(step), _real(learning_rate, "learning_rate"), _real(beta_1, "beta_1"), _real(beta_2, "beta_2"),
                      _real(epsilon, "epsilon"), _device(device, param, grad, m, v))


def rmsprop_update(param, grad, velocity, learning_rate: float = 0.001, rho: float = 0.9,
                   momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                   momentum_buffer=None, average_grad=None, device: str | None = None):
    """Keras RMSprop step, in place on param and velocity (and momentum_buffer when momentum > 0,
    average_grad when centered)."""
    grad = _as_array(grad, "grad")
    _core.rmsprop_update(param, grad, velocity, momentum_buffer, average_grad, _real(learning_rate, "learning_rate"),
                         _real(rho, "rho"), _real(momentum, "momentum"), _real(epsilon, "epsilon"), bool(centered),
                         _device(device, param, grad, velocity, momentum_buffer, average_grad))
