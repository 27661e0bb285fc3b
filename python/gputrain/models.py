"""Sequential models in Keras's words: the stack of layers, its shapes, summary and weights. Training
(compile, fit, evaluate, predict) comes from trainer.Trainer, files from saving."""
from __future__ import annotations

import numpy as np

from . import layers as layers_module, saving
from ._backends import resolve_device
from .saving import architecture_key, load_model  # noqa: F401  (gt.models.load_model, as in Keras)
from .tensor import tensor as _tensor
from .trainer import Trainer


class Sequential(Trainer):
    def __init__(self, layers=None, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, got {type(name).__name__}")
        # An automatic name (sequential, sequential_1, ...) depends on what ran before in the process;
        # checkpoints are found by its base (saving.checkpoint_name).
        self.name_is_automatic = not name
        self.name = name or layers_module.unique_name("sequential")
        self._layers: list = []
        self.device: str | None = None
        self.optimizer = None
        self.loss = None
        self.metrics: list[str] = []
        self.built = False
        self.stop_training = False
        self.history = None
        # Progress in Keras's terms: epochs completed, and samples of the next epoch already trained.
        self.training_state = {"epoch": 0, "samples": 0, "batch_size": None, "seed": None, "history": {},
                               "logs": {}, "logs_samples": 0}
        self._plans: dict = {}  # batch size -> training plan over the current tensors
        self._inference_plans: dict = {"evaluate": {}, "predict": {}}  # the same for evaluate and predict
        self._before_save = None  # set by fit while it runs: records its progress before a save
        for layer in layers or []:
            self.add(layer)

    # ---- structure ----
    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, layers_module.Input)]

    def add(self, layer) -> None:
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(f"add: expected a gputrain layer, got {type(layer).__name__}")
        if self.built:
            raise ValueError("add: the model is already built; add layers before compile/fit/summary")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"add: a layer named {layer.name!r} is already in the model")
        self._layers.append(layer)

    def build(self, input_shape=None, device: str | None = None) -> None:
        if self.built:
            return
        if not self._layers:
            raise ValueError("build: the model has no layers")
        shape = input_shape if input_shape is not None else self._layers[0].input_shape
        if shape is None:
            raise ValueError("build: the input shape is unknown; give the first layer input_shape=... "
                             "or start with gt.layers.Input(shape)")
        self.shape_layers(shape)
        self.device = resolve_device(device or self.device)
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.build(shape, self.device)
        self.built = True

    def shape_layers(self, input_shape) -> None:
        """Every layer's input and output shape, checked, without allocating a weight."""
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self._layers:
            shape = layer.set_shapes(shape)
        self.output_shape = shape

    def count_params(self) -> int:
        self.build()
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print, line_length: int = 65) -> None:
        """Keras's table: Layer (type), Output Shape, Param #, then the totals."""
        self.build()
        columns = [int(line_length * p) for p in (0.45, 0.85, 1.0)]

        def row(fields):
            line = ""
            for i, field in enumerate(fields):
                if i > 0:
                    line = line[:-1] + " "
                line = (line + str(field))[:columns[i]]
                line += " " * (columns[i] - len(line))
            print_fn(line)

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(["Layer (type)", "Output Shape", "Param #"])
        print_fn("=" * line_length)
        for i, layer in enumerate(self.layers):
            shape = "(None, " + ", ".join(str(d) for d in layer.output_shape) + ")"
            row([f"{layer.name} ({type(layer).__name__})", shape, layer.count_params()])
            print_fn(("=" if i == len(self.layers) - 1 else "_") * line_length)
        trainable = sum(layer.params[n].size for layer in self.layers for n in layer.trainable_names)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * line_length)

    # ---- weights ----
    def get_weights(self) -> list:
        self.build()
        return [t.numpy() for layer in self.layers for t in layer.params.values()]

    def set_weights(self, weights) -> None:
        self.build()
        targets = [(layer, name) for layer in self.layers for name in layer.params]
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: expected {len(targets)} arrays, got {len(weights)}")
        for (layer, name), value in zip(targets, weights):
            value = np.asarray(value, np.float32)
            if value.shape != layer.params[name].shape:
                raise ValueError(f"set_weights: {layer.name}/{name} has shape {layer.params[name].shape}, "
                                 f"got {value.shape}")
            layer.params[name] = _tensor(value, device=self.device)
        self._forget_plans()

    # ---- saving ----
    def get_config(self) -> dict:
        shape = self.input_shape if self.built else (self._layers[0].input_shape if self._layers else None)
        return {"name": self.name, "input_shape": None if shape is None else list(shape),
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]}

    def save(self, path, include_optimizer: bool = True) -> None:
        """Architecture, weights, optimizer state and training progress in one safetensors file, written
        to a temporary name and renamed, so a killed process leaves the previous file."""
        saving.save_model(self, path, include_optimizer)

    def save_weights(self, path) -> None:
        saving.save_weights(self, path)

    def load_weights(self, path) -> None:
        saving.load_weights(self, path)
