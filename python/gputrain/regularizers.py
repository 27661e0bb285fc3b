"""Keras's regularizers: L1, L2 and L1L2 (also as l1, l2, l1_l2, and by those names as strings), given to a
layer as kernel_regularizer, bias_regularizer or activity_regularizer. Each is a penalty
l1·Σ|x| + l2·Σx² that training adds to the loss, with its gradient, on the device (the plan's
add_weight_penalty / add_activity_penalty, cpp/core/penalty.h); a layer's config names it as Keras
serializes it: {"class_name": "L2", "config": {"l2": 0.01}}."""
from __future__ import annotations

import math


def _factor(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative float, got {value!r}")
    return float(value)


class Regularizer:
    """A penalty l1·Σ|x| + l2·Σx²; the subclasses fix which factors it takes."""
    l1 = 0.0
    l2 = 0.0

    def get_config(self) -> dict:
        raise NotImplementedError(type(self).__name__)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """Both penalties; by default none (as Keras's class: `L1L2(l2=0.1)` has no l1 penalty)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1")

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def get_config(self) -> dict:
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lower-case names of the same classes

_BY_NAME = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier) -> Regularizer | None:
    """None, a regularizer, a name ("l1", "l2", "l1_l2", "L2", ...: its defaults), or a serialized one."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        if set(identifier) != {"class_name", "config"} or identifier["class_name"] not in _BY_NAME:
            raise ValueError(f"regularizer: expected {{'class_name': one of L1, L2, L1L2, 'config': {{...}}}}, got "
                             f"{identifier!r}")
        return _BY_NAME[identifier["class_name"]].from_config(identifier["config"])
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    raise ValueError(f"regularizer: {identifier!r} is not supported; gputrain has l1, l2 and l1_l2 (L1, L2, L1L2; "
                     f"OrthogonalRegularizer and regularizers written in Python are not supported yet)")


def serialize(regularizer: Regularizer | None):
    return None if regularizer is None else {"class_name": type(regularizer).__name__,
                                             "config": regularizer.get_config()}
