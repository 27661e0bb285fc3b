"""Keras's activation functions (gt.activations): each one gputrain.ops's kernel (NumPy in, NumPy out;
gt.Tensors in, gt.Tensors out), by the names layers take for `activation=`, with get() and serialize()."""
from __future__ import annotations

from . import _core, ops


def linear(x):
    return x


softmax = ops.softmax
for _name in _core.activation_names():
    globals()[_name] = getattr(ops, _name)
del _name
silu = ops.swish  # Keras's other name for swish

_NAMES = ("linear", *_core.activation_names(), "softmax", "silu")


def get(identifier):
    """The activation function of that name (None: linear), or the function given."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if identifier not in _NAMES:
        raise ValueError(f"activation: {identifier!r} is not one of {', '.join(_NAMES)}")
    return globals()[identifier]


def serialize(activation) -> str:
    name = getattr(activation, "__name__", None)
    if name not in _NAMES:
        raise ValueError(f"activation: {activation!r} is not one of gputrain's ({', '.join(_NAMES)})")
    return name
