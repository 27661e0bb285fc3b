"""Batched matmul (..., m, k) @ (..., k, n) with NumPy's broadcasting of the batch axes, and matmul_grad,
against float64 einsum references, finite differences of the CPU op, NaN propagation and argument errors,
on every backend."""
import numpy as np
import pytest

import gputrain
from cases import normal
from conftest import assert_close
from special_values import assert_matches
from test_ops_finite_differences import LINEAR_TOL, _linear_functional, _numeric_grad, _one_call_each


def _stored(x, transposed):
    """The array as given to the op: its last two axes swapped when the op is told to transpose it."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2)) if transposed else x


def ref_matmul(a, b):
    """op(a) @ op(b) as float64 einsum, the batch axes broadcast by NumPy."""
    return np.einsum("...ik,...kj->...ij", np.asarray(a, np.float64), np.asarray(b, np.float64))


def ref_matmul_grad(dy, a, b):
    """(d op(a), d op(b)) for untransposed operands, each summed down to its operand's batch shape."""
    dy, a, b = (np.asarray(v, np.float64) for v in (dy, a, b))
    da = np.einsum("...ij,...kj->...ik", dy, np.broadcast_to(b, dy.shape[:-2] + b.shape[-2:]))
    db = np.einsum("...ik,...ij->...kj", np.broadcast_to(a, dy.shape[:-2] + a.shape[-2:]), dy)

    def reduce_to(g, shape):
        extra = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(extra)))
        return g.sum(axis=tuple(i for i, s in enumerate(shape[:-2]) if s == 1), keepdims=True)

    return reduce_to(da, a.shape), reduce_to(db, b.shape)


# (a's batch, b's batch, m, k, n): equal batches, broadcasts of 1s, missing axes, empty ones, deep ones.
CASES = [((), (), 5, 7, 3), ((4,), (4,), 3, 5, 2), ((2, 3), (2, 3), 17, 33, 9), ((3,), (), 6, 4, 5),
         ((), (2, 2), 1, 1, 1), ((2, 1), (1, 3), 4, 6, 7), ((1,), (5,), 65, 70, 33), ((2, 1, 3), (4, 1), 3, 2, 4),
         ((0,), (1,), 3, 4, 5), ((2,), (2,), 3, 0, 4),
         # Deep, short products (the GPU's split-K path): b's gradient sums 3 of them (m = 1024 deep).
         ((2,), (2,), 4, 1100, 3), ((3,), (), 1024, 8, 4)]


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("batch_a,batch_b,m,k,n", CASES)
def test_batched_matmul_matches_numpy(device, rng, batch_a, batch_b, m, k, n, trans_a, trans_b):
    a, b = normal(rng, batch_a + (m, k)), normal(rng, batch_b + (k, n))
    got = gputrain.ops.matmul(_stored(a, trans_a), _stored(b, trans_b), transpose_a=trans_a, transpose_b=trans_b,
                              device=device)
    want = ref_matmul(a, b)
    assert got.shape == want.shape
    if want.size and k:
        assert_close(got, want)
    else:
        np.testing.assert_array_equal(got, 0.0)


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("batch_a,batch_b,m,k,n", CASES)
def test_batched_matmul_grad_matches_numpy(device, rng, batch_a, batch_b, m, k, n, trans_a, trans_b):
    a, b = normal(rng, batch_a + (m, k)), normal(rng, batch_b + (k, n))
    dy = normal(rng, np.broadcast_shapes(batch_a, batch_b) + (m, n))
    da, db = gputrain.ops.matmul_grad(dy, _stored(a, trans_a), _stored(b, trans_b), transpose_a=trans_a,
                                      transpose_b=trans_b, device=device)
    want_da, want_db = ref_matmul_grad(dy, a, b)
    for got, want, transposed in ((da, want_da, trans_a), (db, want_db, trans_b)):
        want = _stored(want, transposed)
        assert got.shape == want.shape
        if np.any(want):
            assert_close(got, want)
        else:
            np.testing.assert_array_equal(got, 0.0)


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True)])
def test_matmul_grad_matches_finite_differences(rng, trans_a, trans_b):
    """matmul is linear in each operand: the central difference is exact up to float32 rounding (see
    test_ops_finite_differences.py), so LINEAR_TOL holds. a is broadcast over b's batch: its gradient is a
    sum over that batch."""
    a, b = _stored(normal(rng, (1, 3, 4)), trans_a), _stored(normal(rng, (2, 4, 2)), trans_b)
    r = normal(rng, (2, 3, 2))
    kw = dict(transpose_a=trans_a, transpose_b=trans_b, device="cpu")
    da, db = gputrain.ops.matmul_grad(r, a, b, **kw)
    assert_close(da, _numeric_grad(_one_call_each(_linear_functional(lambda v: gputrain.ops.matmul(v, b, **kw), r)), a), LINEAR_TOL)
    assert_close(db, _numeric_grad(_one_call_each(_linear_functional(lambda v: gputrain.ops.matmul(a, v, **kw), r)), b), LINEAR_TOL)


def test_batched_matmul_with_specials(device, rng):
    a, b = normal(rng, (3, 5, 7)), normal(rng, (3, 7, 4))
    a[1, 2, 3], b[2, 6, 1], b[0, 0, 0] = np.nan, np.inf, -np.inf
    assert_matches(gputrain.ops.matmul(a, b, device=device), ref_matmul(a, b))
    dy = normal(rng, (3, 5, 4))
    dy[0, 4, 2] = np.nan
    for got, want, name in zip(gputrain.ops.matmul_grad(dy, a, b, device=device), ref_matmul_grad(dy, a, b),
                               ("da", "db")):
        assert_matches(got, want, what=name)


def test_batched_matmul_returns_tensors_for_tensors(device, rng):
    a, b = normal(rng, (2, 3, 4)), normal(rng, (4, 5))
    c = gputrain.ops.matmul(gputrain.tensor(a, device=device), gputrain.tensor(b, device=device))
    assert isinstance(c, gputrain.Tensor) and c.device == device and c.shape == (2, 3, 5)
    assert_close(c.numpy(), ref_matmul(a, b))


def test_batched_matmul_argument_errors():
    z = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    with pytest.raises(ValueError, match=r"^a: expected at least rank 2 \(\.\.\., rows, columns\), got shape \(3,\)$"):
        gputrain.ops.matmul(z(3), z(3, 2), device="cpu")
    with pytest.raises(ValueError, match=r"^b: expected at least rank 2"):
        gputrain.ops.matmul(z(2, 3), z(3), device="cpu")
    with pytest.raises(ValueError, match=r"^a \(2, 3, 4\) and b \(3, 4, 5\): batch dimensions do not broadcast "
                                         r"\(2 and 3\)$"):
        gputrain.ops.matmul(z(2, 3, 4), z(3, 4, 5), device="cpu")
    with pytest.raises(ValueError, match=r"^a \(2, 3, 4\) and b \(2, 5, 4\) do not chain: inner extents 4 and 5$"):
        gputrain.ops.matmul(z(2, 3, 4), z(2, 5, 4), device="cpu")
    with pytest.raises(ValueError, match=r"^dy: expected shape \(2, 3, 5\) \(the product of a \(2, 3, 4\) and b "
                                         r"\(4, 5\)\), got \(3, 5\)$"):
        gputrain.ops.matmul_grad(z(3, 5), z(2, 3, 4), z(4, 5), device="cpu")
    with pytest.raises(TypeError, match=r"^matmul_grad: transpose_b must be a bool, got 1$"):
        gputrain.ops.matmul_grad(z(3, 5), z(3, 4), z(4, 5), transpose_b=1, device="cpu")
