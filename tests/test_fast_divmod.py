"""The division by a constant that the GPU convolution loaders use for index arithmetic (core/
fast_divmod.h), checked on the host against exact integer division for every numerator class the
loaders produce (below 2^31)."""
import numpy as np
import pytest

from gputrain import _testing


@pytest.mark.parametrize("divisor", [1, 2, 3, 5, 7, 12, 64, 100, 147, 224, 365, 576, 4608, 12544,
                                     65535, 65536, 1 << 20, 3 * 7 * 11 * 13 * 17, (1 << 31) - 1, 1 << 31])
def test_fast_divmod_matches_integer_division(rng, divisor):
    edges = [0, 1, divisor - 1, divisor, divisor + 1, 2 * divisor - 1, (1 << 31) - 1, (1 << 31) - 2]
    multiples = [k * divisor + off for k in (1, 2, 1000, 12345) for off in (-1, 0, 1)]
    values = np.array([v for v in edges + multiples if 0 <= v < (1 << 31)]
                      + list(rng.integers(0, 1 << 31, size=20000)), dtype=np.uint32)
    q, r = _testing.fast_divmod(values, divisor)
    np.testing.assert_array_equal(q, values // divisor)
    np.testing.assert_array_equal(r, values % divisor)


def test_fast_divmod_random_divisors(rng):
    for divisor in rng.integers(1, 1 << 31, size=200):
        values = rng.integers(0, 1 << 31, size=2000).astype(np.uint32)
        q, r = _testing.fast_divmod(values, int(divisor))
        np.testing.assert_array_equal(q, values // np.uint32(divisor))
        np.testing.assert_array_equal(r, values % np.uint32(divisor))
