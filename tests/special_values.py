"""Comparing results that may hold NaN and ±Inf with float64 references: the positions of NaN and of each
infinity must be the reference's exactly (np.testing.assert_array_equal's view of them; a reference value
beyond float32's range counts as the infinity float32 makes of it), and the finite elements must match
within a relative error, as conftest.assert_close judges whole arrays."""
from __future__ import annotations

import numpy as np

SPECIALS = (np.nan, np.inf, -np.inf)


def sprinkle(rng, x, fraction=0.2, values=SPECIALS):
    """A copy of x with about `fraction` of its elements (at least one) replaced by draws from values."""
    x = np.array(x, copy=True)
    flat = x.reshape(-1)
    if flat.size == 0:
        return x
    chosen = rng.random(flat.size) < fraction
    chosen[rng.integers(flat.size)] = True
    flat[chosen] = rng.choice(np.asarray(values, np.float64), size=int(chosen.sum()))
    return x


def _first(mask) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def assert_matches(got, ref, tol=1e-5, what="result", floor=0.0):
    """got (an op's float32 output) against ref (float64): NaN where ref is NaN and nowhere else, the same
    infinities, and ‖got − ref‖ / max(‖ref‖, floor) < tol over the elements where ref is finite (floor:
    the norm below which errors count as absolute, for results that may cancel to nearly nothing)."""
    got = np.asarray(got.numpy() if hasattr(got, "numpy") else got).astype(np.float64)
    ref = np.asarray(ref, np.float64)
    # A value beyond float32's range is what float32 arithmetic makes of it: an infinity.
    ref = np.where(np.isfinite(ref) & (np.abs(ref) > np.finfo(np.float32).max), np.sign(ref) * np.inf, ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    nan_got, nan_ref = np.isnan(got), np.isnan(ref)
    if not np.array_equal(nan_got, nan_ref):
        at = _first(nan_got != nan_ref)
        raise AssertionError(f"{what}: NaN positions differ; first at {at}: got {got[at]!r}, "
                             f"expected {ref[at]!r} ({int(nan_got.sum())} NaN, expected {int(nan_ref.sum())})")
    inf_got, inf_ref = np.isinf(got), np.isinf(ref)
    wrong_inf = (inf_got | inf_ref) & ~nan_ref & (got != ref)
    if wrong_inf.any():
        at = _first(wrong_inf)
        raise AssertionError(f"{what}: infinities differ; first at {at}: got {got[at]!r}, expected {ref[at]!r}")
    finite = np.isfinite(ref)
    g, r = got[finite], ref[finite]
    denom = max(float(np.linalg.norm(r)), floor)
    err = float(np.linalg.norm(g - r) / (denom if denom > 0 else 1.0))
    if err >= tol:
        worst = np.argwhere(finite)[int(np.argmax(np.abs(g - r)))]
        at = tuple(int(i) for i in worst)
        raise AssertionError(f"{what}: relative error {err:.3e} >= {tol:.0e} over the finite elements; "
                             f"worst at {at}: got {got[at]!r}, expected {ref[at]!r}")
