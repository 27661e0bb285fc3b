"""Optimizers with Keras's defaults and update rules, applied in place on the device by gputrain.ops.
Each keeps its state (slots) per parameter as Tensors beside the parameter, and a step counter."""
from __future__ import annotations

from . import checks, ops
from .tensor import zeros as _zeros


class Optimizer:
    name = "optimizer"
    slot_names: tuple = ()

    def __init__(self, learning_rate: float):
        # Hyper-parameters are checked here, once, for both ways of training (compiled steps and op
        # by op), so a value that would train to NaN is refused before training starts.
        self.learning_rate = checks.number(learning_rate, "learning_rate", low=0.0, low_open=True)
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
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.nesterov = checks.flag(nesterov, "nesterov")

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
        self.beta_1 = checks.number(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

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
        self.rho = checks.number(rho, "rho", 0.0, 1.0)
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)
        self.centered = checks.flag(centered, "centered")

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
    if name not in _BY_NAME:
        raise ValueError(f"optimizer: {name!r} is not one of {', '.join(_BY_NAME)}")
    return _BY_NAME[name](**config)
