"""Random test cases for the windowed ops: odd sizes, N=1, C=1, windows 1..7, strides 1..3, both
paddings. Drawn from the per-test `rng` so every test id has its own, replayable shapes."""
from __future__ import annotations

import numpy as np


def window_case(rng, max_window=7, channels=(1, 2, 3, 5), max_extra=9):
    """(n, h, w, c, (kh, kw), (sh, sw), padding) with a window that fits the input under "valid"."""
    n = int(rng.choice([1, 1, 2, 3]))
    c = int(rng.choice(channels))
    kh, kw = (int(v) for v in rng.integers(1, max_window + 1, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
    padding = str(rng.choice(["valid", "same"]))
    h = int(rng.integers(kh, kh + max_extra + 1))
    w = int(rng.integers(kw, kw + max_extra + 1))
    return n, h, w, c, (kh, kw), (sh, sw), padding


def normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def assert_sums_close(got, ref, terms_abs_sum, tol=1e-5):
    """For sums over many terms (bias gradients): the error relative to Σ|terms| rather than to the
    sum itself. A sum of random-sign terms can cancel to nearly nothing, and float32 accumulation is
    only accurate relative to the magnitude of what it adds (‖Σ|t|‖), not of the result."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, f"shape {got.shape} != reference {ref.shape}"
    err = np.linalg.norm(got - ref) / max(np.linalg.norm(terms_abs_sum), 1e-300)
    assert err < tol, f"error {err:.3e} relative to the sum of |terms| >= {tol:.0e}"
