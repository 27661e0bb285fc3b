"""Random cases for tests/test_fuzz_ops.py: for every public op of gt.ops (forward and _grad), arguments of
random shapes (empty extents, N=1, C=1), memory layouts (Fortran order, strided and negatively strided
views, 0-d arrays, NumPy scalars, Python lists, gputrain Tensors) and special values (NaN, ±Inf,
subnormals, huge finite values, ±0), each with what the op must do: match the float64 references of
tests/reference.py, or raise TypeError / ValueError (a wrong dtype, None or text for an argument, a
non-contiguous array to update in place, arrays of mismatched shapes, out-of-range hyper-parameters).

Tolerances: NaN and infinities exactly where the reference has them; finite elements within 2e-5 of
the reference relative to max(‖reference‖, 1) (float32 sums of at most a few hundred O(1) terms). Huge
values are 1e15: their products and sums stay finite in float32, so float32 and the float64 reference
agree on every infinity. Known difference, not drawn: conv2d_grad's dx multiplies the kernel by the
zeros of padding and of the taps between strided outputs (the implicit GEMM), so a NaN or Inf in the
*kernel* also gives NaN where the reference forms no such product; specials go into x and dy there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import gputrain as gt
import reference as ref
from special_values import assert_matches

TOL = 2e-5
# Each case draws its special values from one of two palettes: infinities, or huge values. Together,
# an infinity times a sum in which huge values cancel takes that sum's sign, which float32 and the
# float64 reference need not agree on.
INFINITIES = np.array([np.nan, np.inf, -np.inf, 1e-40, -1e-40, 1.4e-45, 0.0, -0.0])
HUGE = np.array([np.nan, 1e15, -1e15, 1e-40, -1e-40, 1.4e-45, 0.0, -0.0])
SUBNORMALS = (1e-40, -1e-40, 1.4e-45)
OTHER_DTYPES = [np.float64, np.float16, np.int32, np.int64, np.uint8, np.int8, np.bool_, np.complex64]
HUGE_STRIDE = 2**62


@dataclass
class Case:
    op: str
    args: dict
    check: Callable | None = None     # check(result, args) after a successful call
    floats: tuple = ()                # float32 array arguments (a dtype of their own is a TypeError)
    in_place: tuple = ()              # arrays the op writes (must be C-contiguous NumPy or Tensors)
    typed: dict = field(default_factory=dict)  # arrays of another required dtype: name -> dtype
    optional: tuple = ()              # arguments that may be None
    strings: tuple = ()               # arguments that are strings (another one is a ValueError)
    same_shape: tuple = ()            # arguments whose shapes must agree
    expect: type | None = None        # the exception the call must raise, or None: it must succeed
    notes: list = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        for name, value in self.args.items():
            if isinstance(value, gt.Tensor):
                parts.append(f"{name}=Tensor{value.shape}:{value.dtype}")
            elif isinstance(value, np.ndarray):
                flags = "C" if value.flags.c_contiguous else "F" if value.flags.f_contiguous else "view"
                specials = []
                if value.dtype.kind == "f" and value.size:
                    v = value.astype(np.float64)
                    specials = [s for s, present in (("nan", np.isnan(v).any()), ("inf", np.isinf(v).any()),
                                                     ("subnormal", ((v != 0) & (np.abs(v) < 1.2e-38)).any()),
                                                     ("huge", (np.abs(v[np.isfinite(v)]) > 1e14).any()))
                                if present]
                parts.append(f"{name}={value.dtype}{value.shape}{'' if flags == 'C' else '/' + flags}"
                             f"{'[' + ','.join(specials) + ']' if specials else ''}")
            else:
                text = repr(value)
                parts.append(f"{name}={text if len(text) < 40 else type(value).__name__}")
        expect = f" -> {self.expect.__name__}" if self.expect else ""
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.op}({', '.join(parts)}){expect}{notes}"


def host(x):
    return x.numpy() if isinstance(x, gt.Tensor) else np.asarray(x)


class Draw:
    """Random draws for one case."""

    def __init__(self, rng: np.random.Generator, small: bool):
        self.rng = rng
        self.max_dim = 5 if small else 7  # the emulator runs each GPU thread in turn: keep cases small
        self.huge = False  # whether a huge value was drawn (see matches)
        self.palette = INFINITIES if self.chance(0.5) else HUGE

    def matches(self, got, want, what="result", tol=TOL):
        """got against the float64 reference. Finite values are compared relative to max(‖want‖, 1); in a
        case holding huge values (±1e15), relative to 1e30: a float32 sum in which huge values cancel keeps
        nothing of the small terms (the float64 reference does), so such cases check where NaN and Inf
        are, and gross errors, not the last digits."""
        assert_matches(host(got), want, tol, what=what, floor=1e30 if self.huge else 1.0)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def dim(self, low: int = 0) -> int:
        if low == 0 and self.chance(0.07):
            return 0
        if self.chance(0.3):
            return max(1, low)
        return int(self.rng.integers(max(1, low), self.max_dim + 1))

    def shape(self, rank: int, low: int = 0) -> tuple:
        return tuple(self.dim(low) for _ in range(rank))

    def values(self, shape, low=-2.0, high=2.0, specials=True, subnormals=True) -> np.ndarray:
        """Uniform values in [low, high), and in about a third of the arrays special values from the case's
        palette. subnormals=False for scale factors (batch_norm's gamma): a subnormal scale times a
        factor below 1 underflows to 0 in float32 (not in float64), and 0·Inf is NaN where the reference
        keeps Inf."""
        x = self.rng.uniform(low, high, shape).astype(np.float32)
        if specials and x.size and self.chance(0.35):
            palette = self.palette if subnormals else [v for v in self.palette if v not in SUBNORMALS]
            flat = x.reshape(-1)
            chosen = self.rng.random(flat.size) < self.rng.choice([0.05, 0.2, 0.5])
            flat[chosen] = self.rng.choice(palette, size=int(chosen.sum()))
            self.huge |= bool((np.abs(flat[np.isfinite(flat)]) > 1e14).any())
        return x

    def layout(self, a: np.ndarray, lists: bool):
        """The same values in another memory layout (or, for float arguments (lists), another kind of
        argument: a Python list or a NumPy scalar)."""
        kind = self.rng.choice(["C", "C", "C", "F", "strided", "reversed", "python"])
        if kind == "python" and lists and 0 < a.size <= 64:  # (an empty list would lose the shape)
            return a.tolist()  # a nested list of floats: converted to float32, exactly
        if a.ndim == 0:
            return a[()] if lists and self.chance(0.5) else a  # a NumPy scalar or a 0-d array
        if kind == "F":
            return np.asfortranarray(a)
        if kind == "strided":
            big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
            view = big[tuple(slice(1, None, 2) for _ in a.shape)]
            view[...] = a
            return view
        if kind == "reversed":
            axis = int(self.rng.integers(a.ndim))
            return np.flip(np.flip(a, axis).copy(), axis)
        return a

    def hyper(self, low: float, high: float) -> float:
        """A hyper-parameter as the kernels see it: a float32 value, so the reference uses the same."""
        return float(np.float32(self.rng.uniform(low, high)))


def _activation(name, y):
    if name == "relu":
        return ref.relu(y)
    if name == "sigmoid":
        return ref.sigmoid(y)
    return y


def _window(d: Draw, rank_low=1):
    """(n, h, w, c, pool, strides, padding): "valid" windows fit; "same" ones may exceed the input."""
    n, c = d.dim(), d.dim(1)
    padding = str(d.rng.choice(["valid", "same"]))
    h, w = d.dim(1), d.dim(1)
    if padding == "valid":
        kh, kw = int(d.rng.integers(1, h + 1)), int(d.rng.integers(1, w + 1))
    else:
        kh, kw = (int(v) for v in d.rng.integers(1, 9, size=2))
    strides = tuple(int(s) for s in d.rng.integers(1, 4, size=2))
    if d.chance(0.05):
        strides = (HUGE_STRIDE, strides[1]) if d.chance(0.5) else (strides[0], HUGE_STRIDE)
    return n, h, w, c, (kh, kw), strides, padding


# ---- element-wise ops -------------------------------------------------------------------------------

def _any_shape(d: Draw):
    return d.shape(int(d.rng.integers(0, 4)))


def gen_add(d):
    shape = _any_shape(d)
    a, b = d.values(shape), d.values(shape)
    want = a.astype(np.float64) + b
    return Case("add", dict(a=a, b=b), lambda r, _: d.matches(r, want), floats=("a", "b"), same_shape=("a", "b"))


def gen_relu(d):
    x = d.values(_any_shape(d))
    want = ref.relu(x)
    return Case("relu", dict(x=x), lambda r, _: d.matches(r, want), floats=("x",))


def gen_relu_grad(d):
    shape = _any_shape(d)
    dy, x = d.values(shape), d.values(shape)
    want = ref.relu_grad(dy, x)
    return Case("relu_grad", dict(dy=dy, x=x), lambda r, _: d.matches(r, want), floats=("dy", "x"),
                same_shape=("dy", "x"))


def gen_sigmoid(d):
    x = d.values(_any_shape(d), -30, 30)
    want = ref.sigmoid(x)
    return Case("sigmoid", dict(x=x), lambda r, _: d.matches(r, want), floats=("x",))


def gen_sigmoid_grad(d):
    shape = _any_shape(d)
    dy, y = d.values(shape), d.values(shape, 0.0, 1.0)
    want = ref.sigmoid_grad(dy, y)
    return Case("sigmoid_grad", dict(dy=dy, y=y), lambda r, _: d.matches(r, want), floats=("dy", "y"),
                same_shape=("dy", "y"))


def _softmax_ref(x):
    return np.asarray(x, np.float64) if np.size(x) == 0 else ref.softmax(x)


def gen_softmax(d):
    x = d.values(d.shape(int(d.rng.integers(1, 4))), -10, 10)
    want = _softmax_ref(x)
    return Case("softmax", dict(x=x), lambda r, _: d.matches(r, want), floats=("x",))


def gen_softmax_grad(d):
    shape = d.shape(int(d.rng.integers(1, 4)))
    dy = d.values(shape)
    y = _softmax_ref(d.values(shape, -3, 3, specials=False)).astype(np.float32)
    if d.chance(0.3):
        y = d.values(shape)  # any y: the formula holds for it too
    want = ref.softmax_grad(dy, y)
    return Case("softmax_grad", dict(dy=dy, y=y), lambda r, _: d.matches(r, want), floats=("dy", "y"),
                same_shape=("dy", "y"))


def gen_dropout(d):
    x = d.values(_any_shape(d))
    rate, seed = d.hyper(0.0, 0.95), int(d.rng.integers(0, 2**64, dtype=np.uint64))
    mask = ref.dropout_mask(x.size, rate, seed).reshape(x.shape)
    want = ref.dropout(x, mask, rate)

    def check(result, _):
        y, got_mask = result
        np.testing.assert_array_equal(host(got_mask), mask, err_msg="mask")
        d.matches(y, want, "y")
    return Case("dropout", dict(x=x, rate=rate, seed=seed), check, floats=("x",))


def gen_dropout_grad(d):
    shape = _any_shape(d)
    dy, mask, rate = d.values(shape), d.rng.integers(0, 2, shape).astype(np.uint8), d.hyper(0.0, 0.95)
    want = ref.dropout(dy, mask, rate)
    return Case("dropout_grad", dict(dy=dy, mask=mask, rate=rate), lambda r, _: d.matches(r, want),
                floats=("dy",), typed={"mask": np.uint8}, same_shape=("dy", "mask"))


# ---- matrix multiply, dense, convolution ------------------------------------------------------------

def gen_matmul(d):
    m, k, n = d.dim(), d.dim(), d.dim()
    ta, tb = d.chance(0.5), d.chance(0.5)
    a, b = d.values((m, k)), d.values((k, n))
    want = a.astype(np.float64) @ b
    return Case("matmul", dict(a=np.ascontiguousarray(a.T) if ta else a, b=np.ascontiguousarray(b.T) if tb else b,
                               transpose_a=ta, transpose_b=tb),
                lambda r, _: d.matches(r, want), floats=("a", "b"))


def gen_dense(d):
    batch = d.shape(int(d.rng.integers(0, 3)))
    fin, fout = d.dim(1), d.dim(1)
    x, kernel = d.values(batch + (fin,)), d.values((fin, fout))
    bias = d.values((fout,)) if d.chance(0.7) else None
    activation = d.rng.choice([None, "linear", "relu", "sigmoid"])
    want = _activation(activation, ref.dense(x, kernel, bias))
    return Case("dense", dict(x=x, kernel=kernel, bias=bias, activation=activation), lambda r, _: d.matches(r, want),
                floats=("x", "kernel", "bias"), optional=("bias", "activation"), strings=("activation",))


def gen_dense_grad(d):
    batch = d.shape(int(d.rng.integers(1, 3)))
    fin, fout = d.dim(1), d.dim(1)
    dy, x, kernel = d.values(batch + (fout,)), d.values(batch + (fin,)), d.values((fin, fout))
    want = ref.dense_grad(dy, x, kernel)

    def check(result, _):
        for got, expected, name in zip(result, want, ("dx", "dkernel", "dbias")):
            d.matches(got, expected, name)
    return Case("dense_grad", dict(dy=dy, x=x, kernel=kernel), check, floats=("dy", "x", "kernel"))


def gen_conv2d(d):
    n, h, w, c, (kh, kw), strides, padding = _window(d)
    k = d.dim(1)
    x, kernel = d.values((n, h, w, c)), d.values((kh, kw, c, k), -0.5, 0.5)
    bias = d.values((k,)) if d.chance(0.7) else None
    activation = d.rng.choice([None, "relu", "sigmoid"])
    want = _activation(activation, ref.conv2d(x, kernel, bias, strides, padding))
    return Case("conv2d", dict(x=x, kernel=kernel, bias=bias, strides=strides, padding=padding, activation=activation),
                lambda r, _: d.matches(r, want), floats=("x", "kernel", "bias"), optional=("bias", "activation"),
                strings=("padding", "activation"))


def gen_conv2d_grad(d):
    n, h, w, c, (kh, kw), strides, padding = _window(d)
    k = d.dim(1)
    x, kernel = d.values((n, h, w, c)), d.values((kh, kw, c, k), -0.5, 0.5, specials=False)
    oh, ow, *_ = ref.geometry(h, w, kh, kw, strides, padding)
    dy = d.values((n, oh, ow, k))
    want = ref.conv2d_grad(dy, x, kernel, strides, padding)

    def check(result, _):
        for got, expected, name in zip(result, want, ("dx", "dkernel", "dbias")):
            d.matches(got, expected, name)
    return Case("conv2d_grad", dict(dy=dy, x=x, kernel=kernel, strides=strides, padding=padding), check,
                floats=("dy", "x", "kernel"), strings=("padding",))


# ---- pooling ----------------------------------------------------------------------------------------

def _pool_args(d, kind):
    n, h, w, c, pool, strides, padding = _window(d)
    x = d.values((n, h, w, c))
    if kind == "max" and d.chance(0.5):  # ties: the first maximum must win
        x = np.where(np.isfinite(x) & (np.abs(x) < 1e14), np.round(x), x).astype(np.float32)
    given = None if d.chance(0.2) else strides
    return x, pool, given or pool, given, padding  # strides=None means the pool size


def gen_max_pool2d(d):
    x, pool, strides, given, padding = _pool_args(d, "max")
    with_argmax = d.chance(0.5)
    want = ref.pool2d(x, "max", pool, strides, padding)
    want_argmax = ref.max_pool2d_argmax(x, pool, strides, padding) if with_argmax else None

    def check(result, _):
        if with_argmax:
            result, argmax = result
            np.testing.assert_array_equal(host(argmax), want_argmax, err_msg="argmax")
        d.matches(result, want)
    return Case("max_pool2d", dict(x=x, pool_size=pool, strides=given, padding=padding, return_argmax=with_argmax),
                check, floats=("x",), optional=("strides",), strings=("padding",))


def gen_avg_pool2d(d):
    x, pool, strides, given, padding = _pool_args(d, "avg")
    want = ref.pool2d(x, "avg", pool, strides, padding)
    return Case("avg_pool2d", dict(x=x, pool_size=pool, strides=given, padding=padding),
                lambda r, _: d.matches(r, want), floats=("x",), optional=("strides",), strings=("padding",))


def _pool_grad(d, kind):
    x, pool, strides, given, padding = _pool_args(d, kind)
    dy = d.values(ref.pool2d(x, "avg", pool, strides, padding).shape)
    want = ref.pool2d_grad(dy, x, kind, pool, strides, padding)
    args = dict(dy=dy, x=x, pool_size=pool, strides=given, padding=padding)
    case = Case(f"{kind}_pool2d_grad", args, lambda r, _: d.matches(r, want), floats=("dy", "x"),
                optional=("strides",), strings=("padding",))
    if kind == "max" and d.chance(0.5):
        args["argmax"] = ref.max_pool2d_argmax(x, pool, strides, padding).astype(np.int32)
        case.typed = {"argmax": np.int32}
        case.optional += ("argmax",)
    return case


def gen_max_pool2d_grad(d):
    return _pool_grad(d, "max")


def gen_avg_pool2d_grad(d):
    return _pool_grad(d, "avg")


def gen_global_avg_pool2d(d):
    x = d.values((d.dim(), d.dim(1), d.dim(1), d.dim()))
    want = ref.global_avg_pool2d(x)
    return Case("global_avg_pool2d", dict(x=x), lambda r, _: d.matches(r, want), floats=("x",))


def gen_global_avg_pool2d_grad(d):
    x = d.values((d.dim(), d.dim(1), d.dim(1), d.dim()))
    dy = d.values((x.shape[0], x.shape[3]))
    want = ref.global_avg_pool2d_grad(dy, x)
    return Case("global_avg_pool2d_grad", dict(dy=dy, x=x), lambda r, _: d.matches(r, want), floats=("dy", "x"))


# ---- losses -----------------------------------------------------------------------------------------

def _loss_check(d, want_loss, want_grad):
    def check(result, _):
        loss, grad = result
        d.matches(loss, want_loss, "loss")
        d.matches(grad, want_grad, "grad")
    return check


def gen_softmax_cross_entropy(d):
    rows, classes = d.dim(), d.dim(1)
    logits = d.values((rows, classes), -10, 10)
    labels = d.rng.integers(0, classes, rows).astype(d.rng.choice([np.int32, np.int64, np.uint8]))
    with np.errstate(all="ignore"):
        want_loss, want_grad = ref.softmax_cross_entropy(labels, logits)
    case = Case("softmax_cross_entropy", dict(labels=labels, logits=logits), _loss_check(d, want_loss, want_grad),
                floats=("logits",))
    if rows and d.chance(0.1):  # a label outside [0, classes)
        labels = labels.astype(np.int64)
        labels[int(d.rng.integers(rows))] = int(d.rng.choice([-1, classes, 2**31 - 1]))
        case.args["labels"], case.expect = labels, ValueError
        case.notes.append("a label out of range")
    return case


def gen_binary_cross_entropy(d):
    shape = _any_shape(d)
    from_logits = d.chance(0.5)
    target = d.rng.integers(0, 2, shape).astype(np.float32) if d.chance(0.7) else d.values(shape, 0, 1)
    output = d.values(shape, -8, 8) if from_logits else d.values(shape, 0, 1)
    with np.errstate(all="ignore"):
        want_loss, want_grad = ref.binary_cross_entropy(target, output, from_logits)
    return Case("binary_cross_entropy", dict(target=target, output=output, from_logits=from_logits),
                _loss_check(d, want_loss, want_grad), floats=("target", "output"), same_shape=("target", "output"))


# ---- batch normalisation ----------------------------------------------------------------------------

def gen_batch_norm(d):
    training = d.chance(0.6)
    rank = int(d.rng.integers(1, 5))
    shape = d.shape(rank - 1, low=1 if training else 0) + (d.dim(1),)
    c = shape[-1]
    x = d.values(shape, -3, 5)
    gamma = d.values((c,), subnormals=False) if d.chance(0.7) else None
    beta = d.values((c,)) if d.chance(0.7) else None
    moving = training and d.chance(0.5) or not training
    moving_mean = d.values((c,)) if moving else None
    moving_var = d.values((c,), 0.1, 2.0) if moving else None
    momentum, epsilon = d.hyper(0.0, 1.0), d.hyper(1e-5, 0.1)
    old_mean = None if moving_mean is None else moving_mean.astype(np.float64)
    old_var = None if moving_var is None else moving_var.astype(np.float64)
    with np.errstate(all="ignore"):
        if training:
            mean, var = ref.batch_statistics(x)
        else:
            mean, var = old_mean, old_var
        want_y = ref.batch_norm(x, gamma, beta, mean, var, epsilon)

    def check(result, args):
        y, got_mean, got_var = result
        d.matches(got_mean, mean, "mean")
        d.matches(got_var, var, "var")
        d.matches(y, want_y, "y")
        if training and moving:
            d.matches(args["moving_mean"], old_mean * momentum + mean * (1 - momentum), "moving_mean")
            d.matches(args["moving_var"], old_var * momentum + var * (1 - momentum), "moving_var")
    in_place = ("moving_mean", "moving_var") if training else ()
    return Case("batch_norm", dict(x=x, gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var,
                                   training=training, momentum=momentum, epsilon=epsilon),
                check, floats=("x", "gamma", "beta"), in_place=in_place,
                typed={} if training else {"moving_mean": np.float32, "moving_var": np.float32},
                optional=("gamma", "beta", "moving_mean", "moving_var"))


def gen_batch_norm_grad(d):
    shape = d.shape(int(d.rng.integers(0, 3)), low=1) + (d.dim(1),)
    c = shape[-1]
    x, dy = d.values(shape, -3, 5), d.values(shape)
    gamma = d.values((c,), subnormals=False) if d.chance(0.7) else None
    epsilon = d.hyper(1e-5, 0.1)
    with np.errstate(all="ignore"):
        mean, var = (s.astype(np.float32) for s in ref.batch_statistics(x))
        want = ref.batch_norm_grad(dy, x, gamma, epsilon)

    def check(result, _):
        for got, expected, name in zip(result, want, ("dx", "dgamma", "dbeta")):
            d.matches(got, expected, name, tol=1e-4)  # var is given in float32, as batch_norm returns it
    return Case("batch_norm_grad", dict(dy=dy, x=x, gamma=gamma, mean=mean, var=var, epsilon=epsilon), check,
                floats=("dy", "x", "gamma", "mean", "var"), optional=("gamma",), same_shape=("dy", "x"))


# ---- optimizers -------------------------------------------------------------------------------------

def _state(d):
    shape = _any_shape(d)
    return shape, d.values(shape), d.values(shape)


def gen_sgd_update(d):
    shape, param, grad = _state(d)
    momentum = d.hyper(0.0, 1.0) if d.chance(0.6) else 0.0
    velocity = d.values(shape) if momentum > 0 or d.chance(0.3) else None
    lr, nesterov = d.hyper(-0.5, 0.5), d.chance(0.5)
    want_param, want_velocity = ref.sgd(param, grad, velocity, lr, momentum, nesterov)

    def check(_, args):
        d.matches(args["param"], want_param, "param")
        if momentum > 0:
            d.matches(args["velocity"], want_velocity, "velocity")
    return Case("sgd_update", dict(param=param, grad=grad, velocity=velocity, learning_rate=lr, momentum=momentum,
                                   nesterov=nesterov), check, floats=("grad",), in_place=("param", "velocity"),
                optional=("velocity",), same_shape=("param", "grad"))


def gen_adam_update(d):
    shape, param, grad = _state(d)
    m, v = d.values(shape), np.array(np.abs(d.values(shape)), np.float32)  # an array even when 0-d
    step = int(d.rng.integers(1, 10**6))
    # epsilon > 0: with 0, a v that underflows in float32 but not in float64 would divide by zero.
    lr, beta_1, beta_2, epsilon = d.hyper(-0.1, 0.1), d.hyper(0.0, 0.999), d.hyper(0.0, 0.9999), d.hyper(1e-8, 1e-3)
    with np.errstate(all="ignore"):
        want = ref.adam(param, grad, m, v, step, lr, beta_1, beta_2, epsilon)

    def check(_, args):
        for name, expected in zip(("param", "m", "v"), want):
            d.matches(args[name], expected, name, tol=1e-4)  # alpha, a ratio of powers, is computed in float32
    return Case("adam_update", dict(param=param, grad=grad, m=m, v=v, step=step, learning_rate=lr, beta_1=beta_1,
                                    beta_2=beta_2, epsilon=epsilon), check, floats=("grad",),
                in_place=("param", "m", "v"), same_shape=("param", "grad"))


def gen_rmsprop_update(d):
    shape, param, grad = _state(d)
    centered = d.chance(0.5)
    momentum = d.hyper(0.0, 1.0) if d.chance(0.5) else 0.0
    average = d.values(shape, -0.5, 0.5, specials=False) if centered else None
    velocity = np.array(np.abs(d.values(shape)), np.float32)  # an array even when 0-d
    if centered:  # keep velocity − average² + ε away from 0, where float32 and float64 may disagree on its sign
        velocity = np.array(velocity + average.astype(np.float64) ** 2 + 0.1, np.float32)
    buffer = d.values(shape) if momentum > 0 else None
    # Centered: rho >= 0.5 keeps velocity − average² >= 0.05 after the step too.
    lr, rho, epsilon = d.hyper(-0.1, 0.1), d.hyper(0.5 if centered else 0.0, 0.999), d.hyper(1e-7, 1e-3)
    with np.errstate(all="ignore"):
        want = ref.rmsprop(param, grad, velocity, buffer, average, lr, rho, momentum, epsilon, centered)

    def check(_, args):
        for name, expected in zip(("param", "velocity", "momentum_buffer", "average_grad"), want):
            if args[name] is not None and expected is not None:
                d.matches(args[name], expected, name, tol=1e-4)
    return Case("rmsprop_update", dict(param=param, grad=grad, velocity=velocity, learning_rate=lr, rho=rho,
                                       momentum=momentum, epsilon=epsilon, centered=centered,
                                       momentum_buffer=buffer, average_grad=average),
                check, floats=("grad",), in_place=("param", "velocity", "momentum_buffer", "average_grad"),
                optional=("momentum_buffer", "average_grad"), same_shape=("param", "grad"))


GENERATORS = {name[4:]: value for name, value in dict(globals()).items() if name.startswith("gen_")}


# ---- turning a valid case into an invalid one ---------------------------------------------------------

def _bad_dtype(d, case):
    names = [n for n in case.floats + tuple(case.typed) + case.in_place
             if isinstance(case.args.get(n), np.ndarray)]
    if not names:
        return False
    name = str(d.rng.choice(names))
    required = case.typed.get(name, np.float32)
    dtype = d.rng.choice([t for t in OTHER_DTYPES + [np.float32] if t != required])
    with np.errstate(all="ignore"):
        case.args[name] = case.args[name].astype(dtype)
    case.expect = TypeError
    case.notes.append(f"{name} of dtype {np.dtype(dtype)}")
    return True


def _none_or_text(d, case):
    name = str(d.rng.choice(list(case.args)))
    value = None if d.chance(0.5) else "text"
    if value is None and name in case.optional:
        return False
    case.args[name] = value
    case.expect = ValueError if value == "text" and name in case.strings else TypeError
    case.notes.append(f"{name} given {value!r}")
    return True


def _mismatched_shape(d, case):
    names = [n for n in case.same_shape[1:] if isinstance(case.args.get(n), np.ndarray)]
    if not names:
        return False
    name = str(d.rng.choice(names))
    a = case.args[name]
    shape = a.shape + (2,) if a.ndim == 0 or d.chance(0.3) else a.shape[:-1] + (a.shape[-1] + 1,)
    case.args[name] = np.zeros(shape, a.dtype)
    case.expect = ValueError
    case.notes.append(f"{name} of shape {shape}")
    return True


def _not_contiguous(d, case):
    names = [n for n in case.in_place if isinstance(case.args.get(n), np.ndarray) and case.args[n].size > 1]
    if not names:
        return False
    name = str(d.rng.choice(names))
    a = case.args[name]
    view = np.zeros(a.shape + (2,), a.dtype)[..., 0]
    view[...] = a
    case.args[name] = view
    case.expect = ValueError
    case.notes.append(f"{name} not C-contiguous")
    return True


def _bad_hyper(d, case):
    choices = {"rate": [1.0, -0.25, math.nan], "momentum": [-0.5, 1.5, math.nan], "epsilon": [-1.0, 1e39],
               "learning_rate": [math.inf, 1e39], "beta_1": [1.0, -0.1], "rho": [1.5], "step": [0, -3],
               "strides": [(0, 1), (1, -2)], "pool_size": [(0, 2), -1, (2**16, 2**16)]}
    names = [n for n in case.args if n in choices and case.args[n] is not None]
    if not names:
        return False
    name = str(d.rng.choice(names))
    options = choices[name]
    if name == "pool_size" and case.op.startswith("avg"):
        options = options[:2]  # a huge average-pooling window is fine
    if name == "epsilon" and case.op in ("adam_update", "rmsprop_update"):
        options = [-1.0, 1e39]
    value = options[int(d.rng.integers(len(options)))]
    if name == "momentum" and case.op == "sgd_update" and case.args.get("velocity") is None:
        case.args["velocity"] = np.zeros_like(case.args["param"])
    case.args[name] = value
    case.expect = ValueError
    case.notes.append(f"{name}={value!r}")
    return True


MUTATIONS = (_bad_dtype, _none_or_text, _mismatched_shape, _not_contiguous, _bad_hyper)


def draw_case(rng: np.random.Generator, device: str, small: bool) -> Case:
    d = Draw(rng, small)
    op = str(rng.choice(sorted(GENERATORS)))
    case = GENERATORS[op](d)
    if case.expect is None and d.chance(0.25):
        for mutate in rng.permutation(len(MUTATIONS)):
            if MUTATIONS[mutate](d, case):
                break
    if case.expect is None and d.chance(0.2):  # Tensors in, Tensors out, on the device
        for name, value in case.args.items():
            if isinstance(value, np.ndarray):
                case.args[name] = gt.tensor(value, dtype=str(value.dtype), device=device)
        case.notes.append("Tensors")
    else:
        for name, value in case.args.items():
            if isinstance(value, np.ndarray) and name not in case.in_place and case.expect is not TypeError:
                case.args[name] = d.layout(value, lists=name in case.floats)
    return case
