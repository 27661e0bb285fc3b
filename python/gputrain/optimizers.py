"""Optimizers with Keras's defaults and update rules: each checks its hyper-parameters, keeps its state
(slots) per parameter as Tensors beside the parameter and a step counter, and adds its update to the
model's plan, which applies it in place on the device (cpp/core/train_plan.cpp)."""
from __future__ import annotations

from . import checks, schedules
from .tensor import zeros as _zeros


class Optimizer:
    name = "optimizer"
    slot_names: tuple = ()

    def __init__(self, learning_rate):
        # Hyper-parameters are checked here, once, so a value that would train to NaN is refused before
        # training starts; the plan checks them again against what its kernels accept.
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.iterations = 0
        self.slots: dict = {}  # parameter key -> {slot name: Tensor}

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update: the number given, or the schedule (Keras's
        LearningRateSchedule) at the updates done so far."""
        rate = self._learning_rate
        return float(rate(self.iterations)) if isinstance(rate, schedules.LearningRateSchedule) else rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, dict):  # a schedule as get_config writes it
            value = schedules.deserialize(value)
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError("learning_rate: this optimizer follows a LearningRateSchedule, so its learning rate "
                            "cannot be set; create it with a number to set the rate (from a callback, say)")
        self._learning_rate = checks.number(value, "learning_rate", low=0.0, low_open=True)

    def _config(self, **hyper) -> dict:
        """get_config: the learning rate (a schedule serialized) and the other hyper-parameters."""
        rate = self._learning_rate
        return {"learning_rate": schedules.serialize(rate) if isinstance(rate, schedules.LearningRateSchedule)
                else rate, **hyper}

    def slots_for(self, key: str, param) -> dict:
        if key not in self.slots:
            self.slots[key] = {s: _zeros(param.shape, device=param.device) for s in self.slot_names}
        return self.slots[key]

    def add_to_plan(self, plan, slots: list) -> None:
        """Sets the plan's update; `slots`: this optimizer's slots of each trainable parameter, in the
        plan's parameter order."""
        raise NotImplementedError(type(self).__name__)

    def get_config(self) -> dict:
        return self._config()


class SGD(Optimizer):
    name = "sgd"
    slot_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.nesterov = checks.flag(nesterov, "nesterov")

    def add_to_plan(self, plan, slots):
        plan.set_sgd(self.momentum, self.nesterov, [s["velocity"] for s in slots])

    def get_config(self):
        return self._config(momentum=self.momentum, nesterov=self.nesterov)


class Adam(Optimizer):
    name = "adam"
    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1 = checks.number(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    def add_to_plan(self, plan, slots):
        plan.set_adam(self.beta_1, self.beta_2, self.epsilon, [s["m"] for s in slots], [s["v"] for s in slots])

    def get_config(self):
        return self._config(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)


class RMSprop(Optimizer):
    name = "rmsprop"
    slot_names = ("velocity", "momentum", "average_gradient")

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False):
        super().__init__(learning_rate)
        self.rho = checks.number(rho, "rho", 0.0, 1.0)
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)
        self.centered = checks.flag(centered, "centered")

    def add_to_plan(self, plan, slots):
        plan.set_rmsprop(self.rho, self.momentum, self.epsilon, self.centered, [s["velocity"] for s in slots],
                         [s["momentum"] for s in slots], [s["average_gradient"] for s in slots])

    def get_config(self):
        return self._config(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)


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


def __getattr__(name: str):  # Keras's other optimizers (AdamW, Nadam, ...)
    from .unsupported import missing
    return missing("optimizers", name, "SGD, Adam and RMSprop (and schedules for their learning rates)")
