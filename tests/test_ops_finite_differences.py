"""Gradients of gputrain's own CPU ops checked by central finite differences of the same ops (not of the
float64 references): conv2d (dilated too), dense, max and average pooling, and the losses. Each backward is judged
against the forward it belongs to, so a backward and a reference that share a mistake still fail here.

The ops compute in float32; the finite differences are taken in float64 around them:
  L(θ) = Σ r·f(θ), r a fixed random float32 array, the sum accumulated in float64,
  ∂L/∂θᵢ ≈ (L(θ + h·eᵢ) − L(θ − h·eᵢ)) / (θᵢ⁺ − θᵢ⁻),
and the op's backward, given dy = r, must return that gradient. θᵢ⁺ = fl32(θᵢ + h) and θᵢ⁻ = fl32(θᵢ − h)
are the float32 values the op really sees; dividing by their exact difference instead of by 2h removes
the rounding of the step itself (≈ ulp(θᵢ)/2h = 1e-5 relative for |θᵢ| ≈ 3 and h = 1e-2, as large as
the errors under test).

Why these tolerances. conv2d, dense and average pooling are linear in each argument, and max pooling is
linear as long as no window's maximum changes: for them the central difference has no truncation error
at all, and what is left is float32 rounding of the outputs that the perturbed element reaches. Each such
output is a float32 sum of at most a few dozen terms of order 1, rounded to a few ulp of its partial
sums (≈ 1e-7 .. 1e-6); the difference of two such outputs is divided by 2h = 0.02, so each gradient
element carries an error of order 1e-5 .. 5e-5 — relatively largest for average pooling over big
windows, whose gradient elements are r/(window cells) while the rounding is that of the window's sum.
Observed over 150 seeds: ≤ 5.3e-5 of ‖grad‖. The bound LINEAR_TOL = 5e-4 on ‖fd − grad‖/‖grad‖ is ten
times that, and still far below any real mistake: a missing or misplaced tap, a wrong padding offset,
an average divided by padded cells or a window's gradient sent to the wrong cell changes the gradient
by a percent of its norm or (much) more.
The losses are not linear: the central difference also carries the truncation error h²/6·f‴, and
the loss comes back rounded to float32. Their bound is explained above their tests."""
import numpy as np
import pytest

import gputrain
from cases import assert_sums_close, normal
from conftest import assert_close

H = 1e-2
LINEAR_TOL = 5e-4


def _numeric_grad(losses, a, h=H):
    """∂L/∂a by central differences. `losses` maps a stack of arrays shaped like a, (m,) + a.shape, to
    their m values of L in float64; it is called once, on the 2·a.size copies of a that each have one
    element moved up (the first half) or down (the second half) by h."""
    assert a.dtype == np.float32
    size = a.size
    flat = a.reshape(-1).astype(np.float64)
    stack = np.tile(a.reshape(1, -1), (2 * size, 1))
    i = np.arange(size)
    stack[i, i] = (flat + h).astype(np.float32)
    stack[size + i, i] = (flat - h).astype(np.float32)
    step = stack[i, i].astype(np.float64) - stack[size + i, i].astype(np.float64)
    values = np.asarray(losses(stack.reshape((2 * size,) + a.shape)), np.float64)
    assert values.shape == (2 * size,)
    return ((values[:size] - values[size:]) / step).reshape(a.shape)


def _one_call_each(loss):
    """losses for _numeric_grad from a loss of one array: one op call per perturbed copy."""
    return lambda stack: [loss(np.ascontiguousarray(v)) for v in stack]


def _linear_functional(op, r):
    """L(v) = Σ r·op(v), accumulated in float64."""
    r64 = r.astype(np.float64)
    return lambda v: float(np.sum(r64 * op(v).astype(np.float64)))


def _as_one_batch(op, r):
    """losses for _numeric_grad of L(v) = Σ r·op(v), for an op whose first axis holds independent samples
    (activations of conv2d, pooling, dense): every perturbed copy goes through one call, as one batch.
    Besides being fast, this spares thousands of tiny calls, each of which starts a parallel region that
    a busy 2-core machine can delay by milliseconds."""
    r64 = r.astype(np.float64)

    def losses(stack):
        m = stack.shape[0]
        y = op(stack.reshape((m * stack.shape[1],) + stack.shape[2:])).astype(np.float64)
        return (y.reshape((m,) + r.shape) * r64).reshape(m, -1).sum(axis=1)
    return losses


def _check_weighted_op_grads(forward, grads, r, x, kernel, bias):
    """dx, dkernel and dbias of forward(x, kernel, bias) for dy = r against finite differences of
    L = Σ r·forward. The bias gradient is a sum of r over every output position, which may cancel to
    nearly nothing: it is judged relative to Σ|r| over them (as cases.assert_sums_close explains)."""
    dx, dk, db = grads
    assert_close(dx, _numeric_grad(_as_one_batch(lambda v: forward(v, kernel, bias), r), x), LINEAR_TOL)
    assert_close(dk, _numeric_grad(_one_call_each(_linear_functional(lambda v: forward(x, v, bias), r)),
                                   kernel), LINEAR_TOL)
    fd_db = _numeric_grad(_one_call_each(_linear_functional(lambda v: forward(x, kernel, v), r)), bias)
    assert_sums_close(db, fd_db, np.abs(r).reshape(-1, r.shape[-1]).sum(axis=0), LINEAR_TOL)


# ---- conv2d -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (2, 1)])
@pytest.mark.parametrize("x_shape,kernel_shape", [((2, 6, 5, 2), (3, 3, 2, 3)), ((1, 7, 6, 3), (2, 3, 3, 2))])
def test_conv2d_grad_matches_finite_differences(rng, padding, strides, x_shape, kernel_shape):
    x, kernel, bias = normal(rng, x_shape), normal(rng, kernel_shape), normal(rng, kernel_shape[-1:])

    def forward(x, kernel, bias):
        return gputrain.ops.conv2d(x, kernel, bias, strides=strides, padding=padding, device="cpu")

    r = normal(rng, forward(x, kernel, bias).shape)  # float32, so that dy = r is exact
    grads = gputrain.ops.conv2d_grad(r, x, kernel, strides=strides, padding=padding, device="cpu")
    _check_weighted_op_grads(forward, grads, r, x, kernel, bias)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [(2, 2), (3, 1), (1, 2)])
@pytest.mark.parametrize("x_shape,kernel_shape", [((2, 7, 8, 2), (3, 2, 2, 3)), ((1, 6, 7, 3), (2, 3, 3, 2))])
def test_dilated_conv2d_grad_matches_finite_differences(rng, padding, dilation, x_shape, kernel_shape):
    x, kernel, bias = normal(rng, x_shape), normal(rng, kernel_shape), normal(rng, kernel_shape[-1:])

    def forward(x, kernel, bias):
        return gputrain.ops.conv2d(x, kernel, bias, padding=padding, dilation_rate=dilation, device="cpu")

    r = normal(rng, forward(x, kernel, bias).shape)
    grads = gputrain.ops.conv2d_grad(r, x, kernel, padding=padding, dilation_rate=dilation, device="cpu")
    _check_weighted_op_grads(forward, grads, r, x, kernel, bias)


# ---- dense --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape,units", [((4, 5), 3), ((1, 7), 1), ((2, 3, 6), 4)])
def test_dense_grad_matches_finite_differences(rng, x_shape, units):
    x, kernel, bias = normal(rng, x_shape), normal(rng, (x_shape[-1], units)), normal(rng, (units,))

    def forward(x, kernel, bias):
        return gputrain.ops.dense(x, kernel, bias, device="cpu")

    r = normal(rng, forward(x, kernel, bias).shape)
    grads = gputrain.ops.dense_grad(r, x, kernel, device="cpu")
    _check_weighted_op_grads(forward, grads, r, x, kernel, bias)


# ---- pooling ------------------------------------------------------------------------------------------

def _distinct_values(rng, shape, spacing=0.05):
    """float32 values that all differ by at least `spacing` (> 2h, with room for float32 rounding), so no
    perturbation by ±h changes which cell is a window's maximum: max pooling stays linear around x and
    its gradient is well defined (no ties)."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * spacing
    return values.reshape(shape).astype(np.float32)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool,strides", [((2, 2), (2, 2)), ((3, 2), (1, 1)), ((3, 3), (2, 1)), ((5, 4), (2, 3))])
def test_pool2d_grad_matches_finite_differences(rng, kind, padding, pool, strides):
    x = _distinct_values(rng, (2, 7, 6, 2)) if kind == "max" else normal(rng, (2, 7, 6, 2))
    forward_op = gputrain.ops.max_pool2d if kind == "max" else gputrain.ops.avg_pool2d
    backward_op = gputrain.ops.max_pool2d_grad if kind == "max" else gputrain.ops.avg_pool2d_grad

    def forward(v):
        return forward_op(v, pool, strides, padding, device="cpu")

    r = normal(rng, forward(x).shape)
    fd = _numeric_grad(_as_one_batch(forward, r), x)
    assert_close(backward_op(r, x, pool, strides, padding, device="cpu"), fd, LINEAR_TOL)
    if kind == "max":  # the backward fed with the forward's argmax
        _, argmax = gputrain.ops.max_pool2d(x, pool, strides, padding, device="cpu", return_argmax=True)
        assert_close(gputrain.ops.max_pool2d_grad(r, x, pool, strides, padding, device="cpu", argmax=argmax),
                     fd, LINEAR_TOL)


# ---- losses -------------------------------------------------------------------------------------------
# A loss is a scalar, so L is the loss itself. These are not linear: the central difference also carries
# the truncation error h²/6·f‴, and the loss comes back rounded to float32 (computed in float32 per
# element, summed in double): an error of a few ulp of the largest intermediate (the log-sum-exp of
# logits of magnitude up to ~4: ≈ 5e-7), divided by 2h = 0.02, i.e. ≈ 3e-5 on every gradient element.
# Each test below keeps its gradient elements at 0.05 and more, so the error relative to the gradient's
# norm stays below ~5e-4; observed ≤ 8.3e-5 over 150 seeds. Bound: 1e-3, still far below a wrong
# gradient (a wrong sign, a missing 1/batch, a softmax without its label term: 10% or more).

LOSS_TOL = 1e-3


def _targets_away_from(rng, p, distance=0.2):
    """Soft targets in [0, 1] (Keras allows them), each at least `distance` from the prediction p, so no
    gradient element (p − t)·… is nearly zero and judged relative to nothing."""
    target = rng.random(p.shape)
    return np.where(np.abs(target - p) < distance, np.where(p < 0.5, 1.0, 0.0), target).astype(np.float32)


@pytest.mark.parametrize("rows,classes", [(1, 2), (3, 5), (4, 10)])
def test_softmax_cross_entropy_grad_matches_finite_differences(rng, rows, classes):
    # Logits of scale 1: the label's probability rarely comes near 1, where every element of the
    # gradient (p − onehot)/rows would be small next to the rounding error of the logits' log-sum-exp.
    # f‴ of log-sum-exp along one logit is p(1 − p)(1 − 2p) ≤ 0.1: truncation ≤ 2e-6/rows.
    logits = normal(rng, (rows, classes))
    labels = rng.integers(0, classes, size=rows).astype(np.int32)
    _, grad = gputrain.ops.softmax_cross_entropy(labels, logits, device="cpu")

    def loss(logits):
        return float(gputrain.ops.softmax_cross_entropy(labels, logits, device="cpu")[0])

    assert_close(grad, _numeric_grad(_one_call_each(loss), logits), LOSS_TOL)


@pytest.mark.parametrize("shape", [(1,), (3, 2), (2, 5)])
def test_binary_cross_entropy_from_logits_grad_matches_finite_differences(rng, shape):
    # f‴ of softplus is σ(1 − σ)(1 − 2σ) ≤ 0.1: truncation ≤ 2e-6/size, gradient elements ≥ 0.2/size.
    logits = normal(rng, shape, 2.0)
    target = _targets_away_from(rng, 1.0 / (1.0 + np.exp(-logits.astype(np.float64))))
    _, grad = gputrain.ops.binary_cross_entropy(target, logits, from_logits=True, device="cpu")

    def loss(logits):
        return float(gputrain.ops.binary_cross_entropy(target, logits, from_logits=True, device="cpu")[0])

    assert_close(grad, _numeric_grad(_one_call_each(loss), logits), LOSS_TOL)


@pytest.mark.parametrize("shape", [(1,), (3, 2), (2, 5)])
def test_binary_cross_entropy_on_probabilities_grad_matches_finite_differences(rng, shape):
    # −t·log p − (1 − t)·log(1 − p) has f‴ up to 2/p³ ≈ 74 for p in [0.3, 0.7]: with h = 1e-2 the
    # truncation would reach 1e-3 of a gradient element ((p − t)/(p(1 − p)) ≥ 0.8, over size). A step of
    # 2e-3 cuts it 25-fold; the loss's rounding (≈ 1e-7 for |L| ≈ 1) divided by 2h = 4e-3 stays near
    # 3e-5 per element. The probabilities stay far inside the clip bounds [1e-7, 1 − 1e-7], where the
    # gradient is 0 by design.
    output = rng.uniform(0.3, 0.7, shape).astype(np.float32)
    target = _targets_away_from(rng, output)
    _, grad = gputrain.ops.binary_cross_entropy(target, output, from_logits=False, device="cpu")

    def loss(output):
        return float(gputrain.ops.binary_cross_entropy(target, output, from_logits=False, device="cpu")[0])

    assert_close(grad, _numeric_grad(_one_call_each(loss), output, h=2e-3), LOSS_TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_softmax_cross_entropy_grad_matches_finite_differences(rng, reduction):
    # As above, with class weights in [0.5, 2] and one row ignored (its gradient must be exactly 0); for
    # "none", L = Σ r_i·loss_i, whose gradient is r_i times row i of dlogits.
    rows, classes = 5, 4
    logits = normal(rng, (rows, classes))
    labels = rng.integers(0, classes, size=rows).astype(np.int32)
    labels[2] = -1
    w = rng.uniform(0.5, 2.0, classes).astype(np.float32)
    r = rng.uniform(0.5, 1.5, rows) if reduction == "none" else np.ones(1)
    kwargs = dict(class_weight=w, ignore_index=-1, reduction=reduction, device="cpu")
    _, grad = gputrain.ops.softmax_cross_entropy(labels, logits, **kwargs)
    if reduction == "none":
        grad = grad * r[:, None]

    def loss(logits):
        return float((np.asarray(gputrain.ops.softmax_cross_entropy(labels, logits, **kwargs)[0], np.float64) * r).sum())

    numeric = _numeric_grad(_one_call_each(loss), logits)
    assert not grad[2].any() and not numeric[2].any()
    assert_close(grad, numeric, LOSS_TOL)
