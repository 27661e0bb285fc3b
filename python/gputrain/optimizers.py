"""Optimizers with Keras 3's defaults, update rules and options (weight_decay, clipnorm, clipvalue,
global_clipnorm): each checks its hyper-parameters, keeps its state (slots) per parameter as Tensors
beside the parameter and a step counter, and adds its update to the model's plan, which applies it in
place on the device (the formulas: cpp/core/optimizer_rules.h)."""
from __future__ import annotations

from . import _core, checks, schedules
from .tensor import tensor as _tensor, zeros as _zeros
from .unsupported import NotSupportedError


class Optimizer:
    name = "optimizer"  # as checkpoints and configs name it: the class's name, lower case
    kind = None         # the plan's update rule (cpp/core/optimizer_params.h), where it is not `name`
    # The slots the plan's update reads as s0, s1, s2 (cpp/core/op_params.h: GtOptimizerKind), by name.
    plan_slots: tuple = ()
    slot_initial_values: dict = {}  # a slot starting at another value than 0

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name: str | None = None):
        # Hyper-parameters are checked here, once, so a value that would train to NaN is refused before
        # training starts; the plan checks them again against what its kernels accept.
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.iterations = 0
        self.slots: dict = {}  # parameter key -> {slot name: Tensor}
        if use_ema or loss_scale_factor is not None or gradient_accumulation_steps is not None:
            raise NotSupportedError("use_ema, loss_scale_factor and gradient_accumulation_steps are not supported "
                                    "yet; gputrain's optimizers take weight_decay, clipnorm, clipvalue and "
                                    "global_clipnorm")
        given = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                    ("global_clipnorm", global_clipnorm)) if v is not None}
        if len(given) > 1:
            raise ValueError(f"{', '.join(given)}: give at most one of clipnorm, clipvalue and global_clipnorm "
                             f"(as Keras allows)")
        self.clipping = {k: checks.number(v, k, low=0.0, low_open=True) for k, v in given.items()}
        self.weight_decay = None if weight_decay is None else checks.number(weight_decay, "weight_decay", low=0.0)

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

    @property
    def slot_names(self) -> tuple:
        """The slots this configuration keeps per parameter (as checkpoints name them)."""
        return tuple(self.plan_slots)

    def slots_for(self, key: str, param) -> dict:
        held = self.slots.setdefault(key, {})
        for slot in self.slot_names:
            if slot not in held:
                start = self.slot_initial_values.get(slot, 0.0)
                held[slot] = (_zeros(param.shape, device=param.device) if start == 0.0 else
                              _tensor(_full(param.shape, start), device=param.device))
        return held

    def hyper(self) -> dict:
        """The hyper-parameters of the plan's update (cpp/core/optimizer_params.h names them)."""
        return {}

    def add_to_plan(self, plan, slots: list) -> None:
        """Sets the plan's update; `slots`: this optimizer's slots of each trainable parameter, in the
        plan's parameter order."""
        hyper = {k: float(v) for k, v in self.hyper().items()}
        hyper.update(self.clipping)
        if self.weight_decay:
            hyper["weight_decay"] = self.weight_decay
        lists = [[s[name] for s in slots] for name in self.plan_slots]
        plan.set_optimizer(self.kind or self.name, hyper, lists + [[]] * (3 - len(lists)))

    def _config(self, **hyper) -> dict:
        """get_config: the learning rate (a schedule serialized), the other hyper-parameters, and the
        options given."""
        rate = self._learning_rate
        options = dict(self.clipping)
        if self.weight_decay is not None:
            options["weight_decay"] = self.weight_decay
        return {"learning_rate": schedules.serialize(rate) if isinstance(rate, schedules.LearningRateSchedule)
                else rate, **hyper, **options}

    def get_config(self) -> dict:
        return self._config()


def _full(shape, value: float):
    import numpy as np
    return np.full(shape, value, np.float32)


def _common(kwargs: dict) -> dict:
    """The options every optimizer takes (Keras's base optimizer arguments)."""
    allowed = {"weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
               "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "name"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"unexpected argument(s) {', '.join(sorted(unknown))}")
    return kwargs


class SGD(Optimizer):
    name = "sgd"
    plan_slots = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.nesterov = checks.flag(nesterov, "nesterov")

    def hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self):
        return self._config(momentum=self.momentum, nesterov=self.nesterov)


class _AdamFamily(Optimizer):
    def __init__(self, learning_rate, beta_1, beta_2, epsilon, **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.beta_1 = checks.number(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    def hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self):
        return self._config(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)


class Adam(_AdamFamily):
    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = checks.flag(amsgrad, "amsgrad")

    @property
    def plan_slots(self):
        return ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def hyper(self):
        return {**super().hyper(), "amsgrad": self.amsgrad}

    def get_config(self):
        config = super().get_config()
        if self.amsgrad:  # (only then: the configs of checkpoints written before amsgrad stay as they were)
            config["amsgrad"] = True
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras's default 0.004)."""
    name = "adamw"
    kind = "adam"

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Adamax(_AdamFamily):
    name = "adamax"
    plan_slots = ("m", "u")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)


class Nadam(_AdamFamily):
    name = "nadam"
    plan_slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def momentum_product(self) -> float:
        """Keras's u_product after the updates done so far (its Nadam keeps it as a variable)."""
        return _core.nadam_momentum_product(self.beta_1, self.iterations)


class RMSprop(Optimizer):
    name = "rmsprop"
    plan_slots = ("velocity", "momentum", "average_gradient")

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.rho = checks.number(rho, "rho", 0.0, 1.0)
        self.momentum = checks.number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)
        self.centered = checks.flag(centered, "centered")

    def hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def get_config(self):
        return self._config(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)


class Adagrad(Optimizer):
    name = "adagrad"
    plan_slots = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.initial_accumulator_value = checks.number(initial_accumulator_value, "initial_accumulator_value",
                                                       low=0.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    @property
    def slot_initial_values(self):
        return {"accumulator": self.initial_accumulator_value}

    def hyper(self):
        return {"epsilon": self.epsilon}

    def get_config(self):
        return self._config(initial_accumulator_value=self.initial_accumulator_value, epsilon=self.epsilon)


class Adadelta(Optimizer):
    name = "adadelta"
    plan_slots = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.rho = checks.number(rho, "rho", 0.0, 1.0)
        self.epsilon = checks.number(epsilon, "epsilon", low=0.0, low_open=True)

    def hyper(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def get_config(self):
        return self._config(rho=self.rho, epsilon=self.epsilon)


class Lion(Optimizer):
    name = "lion"
    plan_slots = ("m",)

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.99, **kwargs):
        super().__init__(learning_rate, **_common(kwargs))
        self.beta_1 = checks.number(beta_1, "beta_1", 0.0, 1.0, low_open=True)
        self.beta_2 = checks.number(beta_2, "beta_2", 0.0, 1.0)

    def hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def get_config(self):
        return self._config(beta_1=self.beta_1, beta_2=self.beta_2)


_CLASSES = (SGD, Adam, AdamW, RMSprop, Adamax, Nadam, Adagrad, Adadelta, Lion)
# Keras's names: the class's ("AdamW") and its lower-case one ("adamw").
_BY_NAME = {name: cls for cls in _CLASSES for name in (cls.__name__, cls.__name__.lower())}


def get(identifier) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and identifier in _CLASSES:
        return identifier()
    if not isinstance(identifier, str) or identifier not in _BY_NAME:
        raise ValueError(f"optimizer: {identifier!r} is not one of {', '.join(c.__name__.lower() for c in _CLASSES)}")
    return _BY_NAME[identifier]()


def from_config(name: str, config: dict) -> Optimizer:
    if name not in _BY_NAME:
        raise ValueError(f"optimizer: {name!r} is not one of {', '.join(c.__name__.lower() for c in _CLASSES)}")
    return _BY_NAME[name](**config)


def __getattr__(name: str):  # Keras's other optimizers (Ftrl, LossScaleOptimizer, ...)
    from .unsupported import missing
    return missing("optimizers", name, ", ".join(c.__name__ for c in _CLASSES) +
                   " (with weight_decay, clipnorm, clipvalue, global_clipnorm) and schedules for their learning "
                   "rates")
