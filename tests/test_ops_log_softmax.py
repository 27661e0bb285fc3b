"""log_softmax and log_softmax_grad along any axis: float64 NumPy references, finite differences of the
CPU op, NaN and Inf as NumPy's formula gives them, argument errors, on every backend."""
import numpy as np
import pytest

import gputrain
from cases import normal
from conftest import assert_close
from test_ops_finite_differences import _numeric_grad


def ref_log_softmax(x, axis):
    """x − max − log Σ exp(x − max) in float64, NaN and Inf following NumPy."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ref_log_softmax_grad(dy, y, axis):
    dy, y = np.asarray(dy, np.float64), np.asarray(y, np.float64)
    return dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)


SHAPES_AXES = [((1, 1), -1), ((7, 10), -1), ((3, 5000), 1), ((9, 4), 0), ((2, 3, 5, 4), 1), ((2, 3, 5, 4), -2),
               ((4, 3, 33), 0), ((300, 3), -1), ((6,), 0), ((2, 1, 3), 1)]


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_log_softmax_matches_numpy(device, rng, shape, axis):
    x = normal(rng, shape, 4.0)
    assert_close(gputrain.ops.log_softmax(x, axis=axis, device=device), ref_log_softmax(x, axis))


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_log_softmax_grad_matches_numpy(device, rng, shape, axis):
    y = gputrain.ops.log_softmax(normal(rng, shape, 2.0), axis=axis, device="cpu")
    dy = normal(rng, shape)
    assert_close(gputrain.ops.log_softmax_grad(dy, y, axis=axis, device=device), ref_log_softmax_grad(dy, y, axis))


def test_log_softmax_of_huge_logits_is_finite(device):
    # exp would overflow without the shift, and log(softmax) would be log 0 = −inf for the small ones.
    x = np.array([[1000.0, 0.0, -1000.0], [1e38, 1e38, -1e38]], np.float32)
    got = gputrain.ops.log_softmax(x, device=device)
    np.testing.assert_allclose(got, ref_log_softmax(x, -1), rtol=1e-6)
    assert got[0, 2] == np.float32(-2000.0)


@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((4, 3), 0), ((2, 3, 2), 1)])
def test_log_softmax_grad_matches_finite_differences(rng, shape, axis):
    """L = Σ r·log_softmax(x) in float64 around the float32 op. Not linear: the central difference carries
    h²/6·f‴ (≈ 2e-5 for h = 1e-2 and |f‴| ≤ 1), plus float32 rounding of outputs of order 5 (≈ 3e-7 each,
    1.5e-5 after the division by 2h): 1e-3 of ‖grad‖ is far above both and far below a wrong term."""
    x, r = normal(rng, shape, 2.0), normal(rng, shape)

    def losses(stack):
        return [float((r.astype(np.float64) * gputrain.ops.log_softmax(v, axis=axis, device="cpu")).sum())
                for v in stack]

    y = gputrain.ops.log_softmax(x, axis=axis, device="cpu")
    assert_close(gputrain.ops.log_softmax_grad(r, y, axis=axis, device="cpu"), _numeric_grad(losses, x), tol=1e-3)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_log_softmax_with_specials(device, rng, axis, special):
    """A NaN (or +Inf: Inf − Inf) in a slice makes the slice NaN; −Inf is a probability of 0 (log: −Inf)
    unless the whole slice is −Inf. Other slices are untouched."""
    x = normal(rng, (5, 6), 2.0)
    x[1, 2] = special
    x[3, :] = special if axis == -1 else x[3, :]
    x[:, 4] = special if axis == 0 else x[:, 4]
    got = gputrain.ops.log_softmax(x, axis=axis, device=device)
    want = ref_log_softmax(x, axis)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    assert_close(got[finite], want[finite])
    dy = normal(rng, (5, 6))
    dy[0, 0] = np.nan
    y = ref_log_softmax(normal(rng, (5, 6)), axis).astype(np.float32)
    got_dx = gputrain.ops.log_softmax_grad(dy, y, axis=axis, device=device)
    want_dx = ref_log_softmax_grad(dy, y, axis)
    np.testing.assert_array_equal(np.isnan(got_dx), np.isnan(want_dx))
    assert_close(got_dx[~np.isnan(want_dx)], want_dx[~np.isnan(want_dx)])


def test_log_softmax_of_empty_tensors(device):
    assert gputrain.ops.log_softmax(np.zeros((0, 3), np.float32), device=device).shape == (0, 3)
    assert gputrain.ops.log_softmax(np.zeros((2, 0), np.float32), axis=0, device=device).shape == (2, 0)


def test_log_softmax_returns_tensors_for_tensors(device, rng):
    x = normal(rng, (3, 4, 5))
    y = gputrain.ops.log_softmax(gputrain.tensor(x, device=device), axis=1)
    assert isinstance(y, gputrain.Tensor) and y.device == device
    assert_close(y.numpy(), ref_log_softmax(x, 1))


def test_log_softmax_argument_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"^axis: expected an axis of x \(2, 3\) in \[-2, 2\), got 2$"):
        gputrain.ops.log_softmax(x, axis=2, device="cpu")
    with pytest.raises(ValueError, match=r"^axis: expected an axis of y \(2, 3\) in \[-2, 2\), got -3$"):
        gputrain.ops.log_softmax_grad(x, x, axis=-3, device="cpu")
    with pytest.raises(ValueError, match=r"^x: expected at least rank 1"):
        gputrain.ops.log_softmax(np.float32(1.0), device="cpu")
    with pytest.raises(ValueError, match=r"dy.*\(2, 3\).*y.*\(3, 2\)"):
        gputrain.ops.log_softmax_grad(x, x.T.copy(), device="cpu")
    with pytest.raises(TypeError, match=r"^log_softmax: axis must be an int, got 1.0$"):
        gputrain.ops.log_softmax(x, axis=1.0, device="cpu")
