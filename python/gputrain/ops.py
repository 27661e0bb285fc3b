"""Functional operations. NumPy arrays in, NumPy out, computed on `device=` (default: the default
device); gputrain Tensors in, Tensors out on the tensors' device (`device=` is then ignored).
Argument types are checked here, each message naming the op and the argument; values (shapes, ranges,
the dtypes of arrays) are validated once, in the C++ dispatch."""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device


_INT64_MAX = 2**63 - 1


def _describe(value) -> str:
    """A value as an error message shows it: short reprs in full, anything else by its type."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, tuple, list)):
        text = repr(value)
        return text if len(text) <= 40 else f"{type(value).__name__} {text[:37]}..."
    return type(value).__name__


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _Args:
    """Type checks of one op's arguments, done here so that every message names the op and the argument
    (the binding would report a wrongly typed value as a list of its signatures, or convert it: None
    into NaN, "2" into 2.0). Values (ranges, shapes, dtypes of arrays) are checked once, in dispatch."""

    def __init__(self, op: str):
        self.op = op

    def error(self, name: str, expected: str, value) -> TypeError:
        return TypeError(f"{self.op}: {name} must be {expected}, got {_describe(value)}")

    def array(self, x, name: str):
        """An array or Tensor as it is (dispatch names a wrong dtype); a Python or NumPy number or a
        (nested) list or tuple of them as float32."""
        if isinstance(x, (np.ndarray, _core.Tensor)):
            return x
        if not (isinstance(x, (int, float, np.number, list, tuple)) and not isinstance(x, (bool, np.bool_))):
            raise self.error(name, "an array or gputrain.Tensor", x)
        try:
            values = np.asarray(x)
        except ValueError as exc:  # a ragged list
            raise ValueError(f"{self.op}: {name}: the list is not rectangular ({exc})") from None
        if values.dtype.kind not in "iuf":
            raise TypeError(f"{self.op}: {name} must be an array or gputrain.Tensor, got a {type(x).__name__} "
                            f"of {values.dtype} elements; expected numbers")
        with np.errstate(over="ignore"):
            converted = values.astype(np.float32)
        if values.dtype.kind == "f" and (np.isinf(converted) & np.isfinite(values)).any():
            raise ValueError(f"{self.op}: {name} holds values beyond float32's range (±3.4e38)")
        return converted

    def optional(self, x, name: str):
        return None if x is None else self.array(x, name)

    def tensor(self, x, name: str, optional: bool = False):
        """An array or Tensor that is used where it is (updated in place, or read as its own dtype):
        never converted here."""
        if x is None and optional:
            return None
        if not isinstance(x, (np.ndarray, _core.Tensor)):
            raise self.error(name, "a NumPy array or gputrain.Tensor" + (" (or None)" if optional else ""), x)
        return x

    def flag(self, value, name: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise self.error(name, "a bool", value)
        return bool(value)

    def real(self, value, name: str) -> float:
        """A hyper-parameter given as a Python or NumPy number (dispatch checks its range)."""
        if not (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))):
            raise self.error(name, "a number", value)
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{self.op}: {name} is too large for a float: {value}") from None

    def integer(self, value, name: str, low: int, high: int) -> int:
        """An int that the binding's integer type holds (dispatch checks the range that makes sense)."""
        if not _is_int(value):
            raise self.error(name, "an int", value)
        if not low <= int(value) <= high:
            raise ValueError(f"{self.op}: {name} must be in [{low}, {high}], got {value}")
        return int(value)

    def pair(self, value, name: str) -> list[int]:
        """An int or a pair of ints (Keras accepts both) as [h, w]; dispatch checks they are positive."""
        if _is_int(value):
            items = [value, value]
        else:
            try:
                items = [] if isinstance(value, (str, bytes)) else list(value)
            except TypeError:
                items = []
            if not items:
                raise self.error(name, "an int or a pair of ints", value)
            if len(items) != 2:
                raise ValueError(f"{self.op}: {name} must be an int or a pair of ints, got {tuple(items)!r}")
            if not all(_is_int(v) for v in items):
                raise self.error(name, "an int or a pair of ints", tuple(items))
        if not all(-_INT64_MAX - 1 <= int(v) <= _INT64_MAX for v in items):
            raise ValueError(f"{self.op}: {name} must fit a 64-bit integer, got {tuple(int(v) for v in items)}")
        return [int(v) for v in items]

    def padding(self, padding) -> str:
        if not isinstance(padding, str):
            raise self.error("padding", "'valid' or 'same'", padding)
        return padding.lower()

    def conv_padding(self, padding):
        """A convolution's or pooling's padding: "valid"/"same", or explicit cells as [top, bottom, left, right] from
        ((top, bottom), (left, right)), (ph, pw) (PyTorch's: ph rows above and below, pw columns left and
        right) or one int p for all four sides. Dispatch checks the cells are non-negative."""
        if isinstance(padding, str):
            return padding.lower()
        expected = "'valid', 'same', an int, (pad_h, pad_w) or ((top, bottom), (left, right))"
        if _is_int(padding):
            cells = [padding] * 4
        else:
            try:
                items = [] if isinstance(padding, bytes) else list(padding)
            except TypeError:
                raise self.error("padding", expected, padding) from None
            if len(items) != 2:
                raise self.error("padding", expected, padding)
            if all(_is_int(v) for v in items):
                cells = [items[0], items[0], items[1], items[1]]
            else:
                cells = []
                for side in items:
                    try:
                        pair = [] if isinstance(side, (str, bytes)) else list(side)
                    except TypeError:
                        pair = []
                    if len(pair) != 2 or not all(_is_int(v) for v in pair):
                        raise self.error("padding", expected, padding)
                    cells += pair
        if not all(-_INT64_MAX - 1 <= int(v) <= _INT64_MAX for v in cells):
            raise ValueError(f"{self.op}: padding must hold 64-bit integers, got {padding!r}")
        return [int(v) for v in cells]

    def activation(self, activation):
        if activation is not None and not isinstance(activation, str):
            raise self.error("activation", "None, 'linear' or one of " + ", ".join(map(repr, _core.activation_names())),
                             activation)
        return activation

    def labels(self, labels):
        """Integer class labels as int32. An int32 Tensor is used where it is; another integer Tensor is
        converted through the host (the kernels read int32)."""
        if isinstance(labels, _core.Tensor):
            if labels.dtype == "int32" or labels.dtype not in ("int64", "uint8"):
                return labels  # dispatch names a wrong dtype
            return _core.tensor_from_numpy(self.labels(labels.numpy()), labels.device)
        if not isinstance(labels, (np.ndarray, list, tuple, int, np.integer)) or isinstance(labels, (bool, np.bool_)):
            raise self.error("labels", "an array or gputrain.Tensor of integer class indices", labels)
        try:
            array = np.asarray(labels)
        except ValueError as exc:
            raise ValueError(f"{self.op}: labels: the list is not rectangular ({exc})") from None
        if array.dtype.kind not in "iu":
            raise TypeError(f"{self.op}: labels must be integer class indices, got dtype {array.dtype}")
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            raise ValueError(f"{self.op}: labels: values do not fit int32")
        return np.ascontiguousarray(array, dtype=np.int32)


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
    args = _Args("add")
    a, b = args.array(a, "a"), args.array(b, "b")
    return _core.add(a, b, _device(device, a, b))


def _loss(loss):
    # A reduced loss is a NumPy float32 scalar in NumPy mode; a per-row one stays an array.
    return loss[()] if isinstance(loss, np.ndarray) and loss.ndim == 0 else loss


# ---- matrix multiply, dense, convolution ------------------------------------------------------------

def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, device: str | None = None):
    """op(a) @ op(b) for float32 a (..., m, k) and b (..., k, n), op transposing the last two axes where
    asked; the batch axes (...) broadcast as np.matmul's do. Both need at least rank 2 (np.matmul's 1-D
    operands are not taken: reshape them to (1, k) or (k, 1))."""
    args = _Args("matmul")
    a, b = args.array(a, "a"), args.array(b, "b")
    return _core.matmul(a, b, args.flag(transpose_a, "transpose_a"), args.flag(transpose_b, "transpose_b"),
                        _device(device, a, b))


def matmul_grad(dy, a, b, transpose_a: bool = False, transpose_b: bool = False, device: str | None = None):
    """(da, db) of matmul for the output gradient dy, each of its operand's shape: d op(a) = dy @ op(b)ᵀ
    and d op(b) = op(a)ᵀ @ dy, summed over the batch axes along which that operand was broadcast."""
    args = _Args("matmul_grad")
    dy, a, b = args.array(dy, "dy"), args.array(a, "a"), args.array(b, "b")
    return _core.matmul_grad(dy, a, b, args.flag(transpose_a, "transpose_a"), args.flag(transpose_b, "transpose_b"),
                             _device(device, dy, a, b))


def dense(x, kernel, bias=None, device: str | None = None, activation: str | None = None):
    """activation(x (..., in) @ kernel (in, out) + bias (out,)): Keras's Dense. activation None (or
    "linear") or an element-wise activation of gt.ops (relu, sigmoid, gelu, ...) is applied in the same
    pass that writes y. The gradient of a fused activation whose derivative reads its output comes from y:
    relu_grad(dy, y) (y is <= 0, or NaN, exactly where the input was), sigmoid_grad(dy, y), tanh_grad...;
    one that reads its input (swish, gelu, ...) needs the pre-activation, dense without it. Then
    dense_grad."""
    args = _Args("dense")
    x, kernel, bias = args.array(x, "x"), args.array(kernel, "kernel"), args.optional(bias, "bias")
    return _core.dense(x, kernel, bias, _device(device, x, kernel, bias), args.activation(activation))


def dense_grad(dy, x, kernel, device: str | None = None):
    """(dx, dkernel, dbias) of dense for the output gradient dy."""
    args = _Args("dense_grad")
    dy, x, kernel = args.array(dy, "dy"), args.array(x, "x"), args.array(kernel, "kernel")
    return _core.dense_grad(dy, x, kernel, _device(device, dy, x, kernel))


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", device: str | None = None,
           activation: str | None = None, dilation_rate=(1, 1), groups: int = 1):
    """2-D convolution of NHWC x with an HWIO kernel (kh, kw, in/groups, out), plus bias (out,), then
    activation (None/"linear" or an element-wise activation of gt.ops) fused into the same pass, as in
    dense. Kernel taps dilation_rate apart (Keras's atrous convolution: "valid" and "same" count with the
    dilated extent (k − 1)·dilation + 1); strides > 1 together with dilation_rate > 1 is a ValueError, as
    in Keras. padding: "valid", "same" (TensorFlow's rule), or explicit zeros ((top, bottom), (left,
    right)), (ph, pw) or p (PyTorch's padding=(ph, pw) is ((ph, ph), (pw, pw))). groups: Keras's (and
    PyTorch's) grouped convolution, in and out channels split into groups convolved separately."""
    args = _Args("conv2d")
    x, kernel, bias = args.array(x, "x"), args.array(kernel, "kernel"), args.optional(bias, "bias")
    return _core.conv2d(x, kernel, bias, args.pair(strides, "strides"), args.conv_padding(padding),
                        args.pair(dilation_rate, "dilation_rate"), _device(device, x, kernel, bias),
                        args.activation(activation), _groups(args, groups))


def conv2d_grad(dy, x, kernel, strides=(1, 1), padding="valid", device: str | None = None,
                dilation_rate=(1, 1), groups: int = 1):
    """(dx, dkernel, dbias) of conv2d for the output gradient dy (same strides, padding, dilation_rate
    and groups as the forward)."""
    args = _Args("conv2d_grad")
    dy, x, kernel = args.array(dy, "dy"), args.array(x, "x"), args.array(kernel, "kernel")
    return _core.conv2d_grad(dy, x, kernel, args.pair(strides, "strides"), args.conv_padding(padding),
                             args.pair(dilation_rate, "dilation_rate"), _device(device, dy, x, kernel),
                             _groups(args, groups))


def _groups(args: _Args, groups) -> int:
    # Any 64-bit int passes here; dispatch checks it (positive, dividing the channels) as Keras does.
    return args.integer(groups, "groups", -_INT64_MAX - 1, _INT64_MAX)


# ---- depthwise convolution --------------------------------------------------------------------------

def depthwise_conv2d(x, kernel, bias=None, strides=(1, 1), padding: str = "valid", dilation_rate=(1, 1),
                     device: str | None = None, activation: str | None = None):
    """Keras's DepthwiseConv2D on NHWC x (n, h, w, c): each channel ch convolved with its own
    depth_multiplier filters of kernel (kh, kw, c, depth_multiplier) into output channels
    ch·depth_multiplier + m, kernel taps dilation_rate apart ("same" pads by TensorFlow's rule for the
    dilated extent (k − 1)·dilation + 1), plus bias (c·depth_multiplier,), then activation fused as in
    conv2d. strides > 1 together with dilation_rate > 1 is a ValueError, as in Keras."""
    args = _Args("depthwise_conv2d")
    x, kernel, bias = args.array(x, "x"), args.array(kernel, "kernel"), args.optional(bias, "bias")
    return _core.depthwise_conv2d(x, kernel, bias, args.pair(strides, "strides"), args.padding(padding),
                                  args.pair(dilation_rate, "dilation_rate"), _device(device, x, kernel, bias),
                                  args.activation(activation))


def depthwise_conv2d_backward_data(dy, kernel, input_shape, strides=(1, 1), padding: str = "valid",
                                   dilation_rate=(1, 1), device: str | None = None):
    """dx (of shape input_shape, the forward's x's) of depthwise_conv2d for the output gradient dy."""
    args = _Args("depthwise_conv2d_backward_data")
    dy, kernel = args.array(dy, "dy"), args.array(kernel, "kernel")
    try:
        shape = [] if isinstance(input_shape, (str, bytes)) else list(input_shape)
    except TypeError:
        shape = []
    if len(shape) != 4 or not all(_is_int(v) for v in shape):
        raise args.error("input_shape", "4 ints (batch, height, width, channels)", input_shape)
    if not all(0 <= int(v) <= _INT64_MAX for v in shape):
        raise ValueError(f"depthwise_conv2d_backward_data: input_shape must hold non-negative 64-bit integers, "
                         f"got {tuple(int(v) for v in shape)}")
    return _core.depthwise_conv2d_backward_data(dy, kernel, [int(v) for v in shape], args.pair(strides, "strides"),
                                                args.padding(padding), args.pair(dilation_rate, "dilation_rate"),
                                                _device(device, dy, kernel))


def depthwise_conv2d_backward_filter(dy, x, kernel_size, strides=(1, 1), padding: str = "valid",
                                     dilation_rate=(1, 1), device: str | None = None):
    """(dkernel, dbias) of depthwise_conv2d for the output gradient dy: dkernel of shape kernel_size +
    (c, depth_multiplier), depth_multiplier being dy's channels over x's; dbias the sums of dy per
    output channel."""
    args = _Args("depthwise_conv2d_backward_filter")
    dy, x = args.array(dy, "dy"), args.array(x, "x")
    return _core.depthwise_conv2d_backward_filter(dy, x, args.pair(kernel_size, "kernel_size"),
                                                  args.pair(strides, "strides"), args.padding(padding),
                                                  args.pair(dilation_rate, "dilation_rate"), _device(device, dy, x))


# ---- pooling ----------------------------------------------------------------------------------------

def _window(args: _Args, pool_size, strides):
    pool = args.pair(pool_size, "pool_size")
    return pool, pool if strides is None else args.pair(strides, "strides")


def _pool(op, kind, x, pool_size, strides, padding, device, return_argmax=False, count_include_pad=False):
    args = _Args(op)
    x = args.array(x, "x")
    pool, strides = _window(args, pool_size, strides)
    return _core.pool2d(x, kind, pool, strides, args.conv_padding(padding), _device(device, x),
                        args.flag(return_argmax, "return_argmax"), args.flag(count_include_pad, "count_include_pad"))


def _pool_grad(op, kind, dy, x, pool_size, strides, padding, device, argmax=None, count_include_pad=False):
    args = _Args(op)
    dy, x, argmax = args.array(dy, "dy"), args.array(x, "x"), args.tensor(argmax, "argmax", optional=True)
    pool, strides = _window(args, pool_size, strides)
    return _core.pool2d_grad(dy, x, kind, pool, strides, args.conv_padding(padding), _device(device, dy, x, argmax),
                             argmax, args.flag(count_include_pad, "count_include_pad"))


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid", device: str | None = None,
               return_argmax: bool = False):
    """Max pooling of NHWC x; strides default to pool_size (Keras). padding: "valid", "same"
    (TensorFlow's rule) or explicit cells as conv2d takes them (((top, bottom), (left, right)), (ph, pw)
    or p), each side smaller than the window; padding cells never win (as −∞ would not). A window
    holding NaN gives NaN (as
    np.max). With return_argmax, (y, argmax): argmax (int32, y's shape) holds where each window's first
    maximum (or first NaN, as np.argmax) lies inside its window (row-major, i·pool_w + j); given to
    max_pool2d_grad, it spares the backward a second pass over x."""
    return _pool("max_pool2d", "max", x, pool_size, strides, padding, device, return_argmax)


def max_pool2d_grad(dy, x, pool_size=(2, 2), strides=None, padding="valid",
                    device: str | None = None, argmax=None):
    """dx of max pooling: each window's gradient goes to its first maximum, or its first NaN (found
    again in x, or read from `argmax`, the forward's for this x)."""
    return _pool_grad("max_pool2d_grad", "max", dy, x, pool_size, strides, padding, device, argmax)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid", device: str | None = None,
               count_include_pad: bool = False):
    """Average pooling of NHWC x; padding as max_pool2d's. Each window divides by its number of real
    cells (TensorFlow's rule), or with count_include_pad by all pool_h·pool_w of them, padding cells
    counting as zeros (PyTorch's avg_pool2d)."""
    return _pool("avg_pool2d", "avg", x, pool_size, strides, padding, device, count_include_pad=count_include_pad)


def avg_pool2d_grad(dy, x, pool_size=(2, 2), strides=None, padding="valid", device: str | None = None,
                    count_include_pad: bool = False):
    return _pool_grad("avg_pool2d_grad", "avg", dy, x, pool_size, strides, padding, device,
                      count_include_pad=count_include_pad)


def global_avg_pool2d(x, device: str | None = None):
    """Mean over height and width: (N, H, W, C) → (N, C)."""
    x = _Args("global_avg_pool2d").array(x, "x")
    return _core.global_avg_pool2d(x, _device(device, x))


def global_avg_pool2d_grad(dy, x, device: str | None = None):
    args = _Args("global_avg_pool2d_grad")
    dy, x = args.array(dy, "dy"), args.array(x, "x")
    return _core.global_avg_pool2d_grad(dy, x, _device(device, dy, x))


# ---- activations and dropout ------------------------------------------------------------------------

def _activation_ops(name: str):
    """The op `name` of cpp/core/activations.h's list and its gradient `name_grad(dy, x or y)`."""
    forward, backward = getattr(_core, name), getattr(_core, f"{name}_grad")
    reads = _core.activation_grad_argument(name)

    def op(x, device: str | None = None):
        x = _Args(name).array(x, "x")
        return forward(x, _device(device, x))

    def grad_from(dy, xy, device):
        args = _Args(f"{name}_grad")
        dy, xy = args.array(dy, "dy"), args.array(xy, reads)
        return backward(dy, xy, _device(device, dy, xy))

    # The second argument keeps its name (x or y), so callers may pass it by keyword.
    if reads == "y":
        def grad(dy, y, device: str | None = None):
            return grad_from(dy, y, device)
    else:
        def grad(dy, x, device: str | None = None):
            return grad_from(dy, x, device)

    op.__name__, grad.__name__ = name, f"{name}_grad"
    op.__doc__ = f"{name}(x) element-wise; NaN stays NaN."
    grad.__doc__ = (f"The gradient of {name} from dy and the forward's "
                    f"{'output y' if reads == 'y' else 'input x'}.")
    return op, grad


# relu, relu_grad, sigmoid, sigmoid_grad, ...: one pair per listed activation.
for _name in _core.activation_names():
    globals()[_name], globals()[f"{_name}_grad"] = _activation_ops(_name)
del _name


def softmax(x, device: str | None = None):
    """Softmax over the last axis."""
    x = _Args("softmax").array(x, "x")
    return _core.softmax(x, _device(device, x))


def softmax_grad(dy, y, device: str | None = None):
    """y·(dy − Σ dy·y) over the last axis, from the forward output y."""
    args = _Args("softmax_grad")
    dy, y = args.array(dy, "dy"), args.array(y, "y")
    return _core.softmax_grad(dy, y, _device(device, dy, y))


def log_softmax(x, axis: int = -1, device: str | None = None):
    """log(softmax(x)) along `axis`, computed as x − max − log Σ exp(x − max) (no overflow, no log 0 for
    large logits); a NaN in a slice along the axis makes that whole slice NaN, as that formula in NumPy."""
    args = _Args("log_softmax")
    x = args.array(x, "x")
    return _core.log_softmax(x, args.integer(axis, "axis", -_INT64_MAX - 1, _INT64_MAX), _device(device, x))


def log_softmax_grad(dy, y, axis: int = -1, device: str | None = None):
    """dy − exp(y)·Σ dy along `axis`, from the forward output y."""
    args = _Args("log_softmax_grad")
    dy, y = args.array(dy, "dy"), args.array(y, "y")
    return _core.log_softmax_grad(dy, y, args.integer(axis, "axis", -_INT64_MAX - 1, _INT64_MAX),
                                  _device(device, dy, y))


def dropout(x, rate: float, seed: int, device: str | None = None):
    """(y, mask): each element kept with probability 1 − rate and scaled by 1/(1 − rate); mask is uint8
    (1 = kept). The mask is a function of (seed, element index) only: the same on every backend.
    y = x·mask/(1 − rate), a product: a dropped NaN or Inf gives NaN."""
    args = _Args("dropout")
    x = args.array(x, "x")
    return _core.dropout(x, args.real(rate, "rate"), args.integer(seed, "seed", 0, 2**64 - 1), _device(device, x))


def dropout_grad(dy, mask, rate: float, device: str | None = None):
    """dy·mask/(1 − rate)."""
    args = _Args("dropout_grad")
    dy, mask = args.array(dy, "dy"), args.tensor(mask, "mask")
    return _core.dropout_grad(dy, mask, args.real(rate, "rate"), _device(device, dy, mask))


# ---- losses -----------------------------------------------------------------------------------------

def softmax_cross_entropy(labels, logits, device: str | None = None, class_weight=None,
                          ignore_index: int | None = None, reduction: str = "mean"):
    """(loss, dlogits): sparse categorical cross-entropy from logits (batch, classes) and integer labels
    (batch,), PyTorch's cross_entropy. Row i has weight w_i = class_weight[labels[i]] (1 without
    class_weight; 0 where labels[i] == ignore_index, a row that then contributes nothing and may hold any
    label) and loss w_i·(logsumexp(logits[i]) − logits[i, labels[i]]). reduction "mean": Σ w_i·l_i / Σ w_i
    (the plain mean without weights; NaN when nothing is left, as np.mean of nothing), "sum", or "none":
    the loss of each row (shape (batch,)). dlogits: the gradient of the loss (for "none", row i's is that
    of loss[i]). Other labels outside [0, classes) are a ValueError."""
    args = _Args("softmax_cross_entropy")
    labels, logits = args.labels(labels), args.array(logits, "logits")
    class_weight = args.optional(class_weight, "class_weight")
    if ignore_index is not None:
        ignore_index = args.integer(ignore_index, "ignore_index", -_INT64_MAX - 1, _INT64_MAX)
    if not isinstance(reduction, str):
        raise args.error("reduction", "'mean', 'sum' or 'none'", reduction)
    loss, grad = _core.softmax_cross_entropy(labels, logits, _device(device, labels, logits, class_weight),
                                             class_weight, ignore_index, reduction)
    return _loss(loss), grad


def binary_cross_entropy(target, output, from_logits: bool = False, device: str | None = None):
    """(loss, doutput): Keras's binary cross-entropy, mean over all elements (NaN for none, as np.mean);
    `output` is logits when from_logits, else probabilities, clipped to [1e-7, 1 − 1e-7] as Keras 3
    does (no epsilon inside the logs; the gradient is zero where the clip acted)."""
    args = _Args("binary_cross_entropy")
    target, output = args.array(target, "target"), args.array(output, "output")
    loss, grad = _core.binary_cross_entropy(target, output, args.flag(from_logits, "from_logits"),
                                            _device(device, target, output))
    return _loss(loss), grad


def point_loss(name: str, y_true, y_pred, param: float = 0.0, device: str | None = None):
    """(loss, dy_pred): Keras's element-wise loss `name` ("mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson"):
    the mean over every element of y_pred against y_true (one shape), and its gradient; `param` is
    Huber's delta."""
    args = _Args("point_loss")
    names = _core.point_loss_names()
    if not isinstance(name, str):
        raise args.error("name", "a loss's name", name)
    if name not in names:
        raise ValueError(f"name: expected one of {', '.join(names)}, got {name!r}")
    y_true, y_pred = args.array(y_true, "y_true"), args.array(y_pred, "y_pred")
    loss, grad = _core.point_loss(name, y_true, y_pred, args.real(param, "param"), _device(device, y_true, y_pred))
    return _loss(loss), grad


# ---- batch normalisation ----------------------------------------------------------------------------

def batch_norm(x, gamma=None, beta=None, moving_mean=None, moving_var=None, training: bool = False,
               momentum: float = 0.99, epsilon: float = 1e-3, device: str | None = None):
    """(y, mean, var): normalisation over the last axis. Training uses the batch's mean and variance
    (returned) and updates moving_mean/moving_var in place when given; inference uses (and returns
    copies of) moving_mean/moving_var. gamma/beta None mean 1/0."""
    args = _Args("batch_norm")
    x, gamma, beta = args.array(x, "x"), args.optional(gamma, "gamma"), args.optional(beta, "beta")
    moving_mean = args.tensor(moving_mean, "moving_mean", optional=True)
    moving_var = args.tensor(moving_var, "moving_var", optional=True)
    return _core.batch_norm(x, gamma, beta, moving_mean, moving_var, args.flag(training, "training"),
                            args.real(momentum, "momentum"), args.real(epsilon, "epsilon"),
                            _device(device, x, gamma, beta, moving_mean, moving_var))


def batch_norm_grad(dy, x, gamma, mean, var, epsilon: float = 1e-3, device: str | None = None):
    """(dx, dgamma, dbeta) of training-mode batch_norm, given the batch mean and var it returned."""
    args = _Args("batch_norm_grad")
    dy, x, gamma = args.array(dy, "dy"), args.array(x, "x"), args.optional(gamma, "gamma")
    mean, var = args.array(mean, "mean"), args.array(var, "var")
    return _core.batch_norm_grad(dy, x, gamma, mean, var, args.real(epsilon, "epsilon"),
                                 _device(device, dy, x, gamma, mean, var))


# ---- optimizer updates (in place) -------------------------------------------------------------------

def sgd_update(param, grad, velocity=None, learning_rate: float = 0.01, momentum: float = 0.0,
               nesterov: bool = False, device: str | None = None):
    """Keras SGD step, in place on param (and velocity, needed when momentum > 0)."""
    args = _Args("sgd_update")
    param, grad = args.tensor(param, "param"), args.array(grad, "grad")
    velocity = args.tensor(velocity, "velocity", optional=True)
    _core.sgd_update(param, grad, velocity, args.real(learning_rate, "learning_rate"),
                     args.real(momentum, "momentum"), args.flag(nesterov, "nesterov"),
                     _device(device, param, grad, velocity))


def adam_update(param, grad, m, v, step: int, learning_rate: float = 0.001, beta_1: float = 0.9,
                beta_2: float = 0.999, epsilon: float = 1e-7, device: str | None = None):
    """Keras Adam step number `step` (1 for the first), in place on param, m and v."""
    args = _Args("adam_update")
    param, grad = args.tensor(param, "param"), args.array(grad, "grad")
    m, v = args.tensor(m, "m"), args.tensor(v, "v")
    _core.adam_update(param, grad, m, v, args.integer(step, "step", -_INT64_MAX - 1, _INT64_MAX),
                      args.real(learning_rate, "learning_rate"), args.real(beta_1, "beta_1"),
                      args.real(beta_2, "beta_2"), args.real(epsilon, "epsilon"), _device(device, param, grad, m, v))


def rmsprop_update(param, grad, velocity, learning_rate: float = 0.001, rho: float = 0.9,
                   momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                   momentum_buffer=None, average_grad=None, device: str | None = None):
    """Keras RMSprop step, in place on param and velocity (and momentum_buffer when momentum > 0,
    average_grad when centered)."""
    args = _Args("rmsprop_update")
    param, grad = args.tensor(param, "param"), args.array(grad, "grad")
    velocity = args.tensor(velocity, "velocity")
    momentum_buffer = args.tensor(momentum_buffer, "momentum_buffer", optional=True)
    average_grad = args.tensor(average_grad, "average_grad", optional=True)
    _core.rmsprop_update(param, grad, velocity, momentum_buffer, average_grad,
                         args.real(learning_rate, "learning_rate"), args.real(rho, "rho"),
                         args.real(momentum, "momentum"), args.real(epsilon, "epsilon"),
                         args.flag(centered, "centered"),
                         _device(device, param, grad, velocity, momentum_buffer, average_grad))
