"""Optimizers with Keras's defaults and update rules, applied in place on the device by gputrain.ops.
Each keeps its state (slots) per parameter as Tensors beside the parameter, and a step counter."""
from __future__ import annotations

from . import ops
from .tensor import zeros as _zeros


class Optimizer:
    name = "optimizer"
    slot_names: tuple = ()

    def __init__(self, learning_rate: float):
        if learning_rate <= 0:
            raise ValueError(f"learning_rate: must be positive, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.slots: dict = {}  # parameter key -> {slot name: Tensor}

    def slots_for(self, key: str, param) -> dict:
        if key not in self.slots:
            self.slots[key] = {s: _zeros(param.shape, device=param.device) for s in self.slot_names}
        return self.slots[key]

    def apply(self, params: dict, grads: dict) -> None:
        """One step over every (key -> param) with its gradient."""
        self.iterations += 1
        for key, param in params.items():
            self.update(param, grads[key], self.slots_for(key, param))

    def update(self, param, grad, slots) -> None:
        raise NotImplementedError(type(self).__name__)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate}


class SGD(Optimizer):
    name = "sgd"
    slot_names = ("velocity",)

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def update(self, param, grad, slots):
        ops.sgd_update(param, grad, slots["velocity"], learning_rate=self.learning_rate,
                       momentum=self.momentum, nesterov=self.nesterov)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    name = "adam"
    slot_names = ("m", "v")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update(self, param, grad, slots):
        ops.adam_update(param, grad, slots["m"], slots["v"], self.iterations, learning_rate=self.learning_rate,
                        beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    name = "rmsprop"
    slot_names = ("velocity", "momentum", "average_gradient")

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)

    def update(self, param, grad, slots):
        ops.rmsprop_update(param, grad, slots["velocity"], learning_rate=self.learning_rate, rho=self.rho,
                           momentum=self.momentum, epsilon=self.epsilon, centered=self.centered,
                           momentum_buffer=slots["momentum"], average_grad=slots["average_gradient"])

    def get_config(self):
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


_BY_NAME = {cls.name: cls for cls in (SGD, Adam, RMSprop)}


def get(identifier) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"optimizer: {identifier!r} is not one of {', '.join(_BY_NAME)}")
    return _BY_NAME[identifier]()


def from_config(name: str, config: dict) -> Optimizer:
    return _BY_NAME[name](**config)
