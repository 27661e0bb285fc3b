"""The element-wise activations come from one list in C++ (cpp/core/activations.h), exposed as
_core.activation_names(): every name on it is an op with its gradient on every backend, a valid fused
activation of dense and conv2d, and a layer activation. The fused epilogue must compute what the
activation op computes on the same pre-activation (the same formula, compiled into the GEMM's store)."""
import inspect

import numpy as np
import pytest

import gputrain
from gputrain import _core, layers
from cases import normal

NAMES = _core.activation_names()


def test_names_are_the_bound_ops():
    assert len(NAMES) == len(set(NAMES)) >= 2
    for name in NAMES:
        assert callable(getattr(_core, name)) and callable(getattr(_core, name + "_grad")), name
        assert name in layers.ACTIVATIONS, f"layers.ACTIVATIONS lacks {name!r}"


def test_grad_argument_names_say_what_the_derivative_reads():
    # relu's derivative reads where the value is <= 0, which its input and output share: "x"
    # (the historical name); sigmoid's needs the output.
    assert "x: object" in _core.relu_grad.__doc__ and "y: object" in _core.sigmoid_grad.__doc__
    assert list(inspect.signature(gputrain.ops.relu_grad).parameters)[:2] == ["dy", "x"]


def test_unknown_activation_lists_every_name():
    x, w = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError) as info:
        gputrain.ops.dense(x, w, activation="no_such_activation")
    for name in NAMES:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_fused_epilogue_matches_the_activation_op(device, rng, name):
    # Odd sizes: the CPU GEMM's whole-vector store and its ragged-edge tile both run.
    x, w, b = normal(rng, (37, 29), 2.0), normal(rng, (29, 45)), normal(rng, (45,))
    op = getattr(gputrain.ops, name)
    z = gputrain.ops.dense(x, w, b, device=device)
    np.testing.assert_allclose(gputrain.ops.dense(x, w, b, device=device, activation=name),
                               op(z, device=device), rtol=1e-6, atol=1e-7)
    xc, k = normal(rng, (2, 9, 11, 3)), normal(rng, (3, 3, 3, 21))
    zc = gputrain.ops.conv2d(xc, k, padding="same", device=device)
    np.testing.assert_allclose(gputrain.ops.conv2d(xc, k, padding="same", device=device, activation=name),
                               op(zc, device=device), rtol=1e-6, atol=1e-7)
