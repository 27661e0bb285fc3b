"""Models in Keras's words: Model(inputs, outputs) over a graph of layer calls (functional.py), and Sequential,
a stack of layers; their shapes, summary and weights. Training (compile, fit, evaluate, predict) comes from
trainer.Trainer, files from saving."""
from __future__ import annotations

import numpy as np

from . import checks, eager, functional, layers as layers_module, nesting, saving, symbolic, targets
from ._backends import resolve_device
from .saving import architecture_key, load_model  # noqa: F401  (gt.models.load_model, as in Keras)
from .tensor import tensor as _tensor
from .trainer import Trainer


def _check_name(name) -> None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {type(name).__name__}")


def _table(print_fn, line_length: int, positions: list, header: list, rows: list, totals: tuple) -> None:
    """Keras's summary table: a row per layer (and a continuation row per further field line), rules
    between them, then the parameter totals."""
    columns = [int(line_length * p) for p in positions]

    def row(fields):
        line = ""
        for i, field in enumerate(fields):
            if i > 0:
                line = line[:-1] + " "
            line = (line + str(field))[:columns[i]]
            line += " " * (columns[i] - len(line))
        print_fn(line)

    print_fn("_" * line_length)
    row(header)
    print_fn("=" * line_length)
    for i, lines in enumerate(rows):
        for fields in lines:
            row(fields)
        print_fn(("=" if i == len(rows) - 1 else "_") * line_length)
    total, trainable = totals
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)


class Model(Trainer):
    """A functional model: gt.Model(inputs, outputs) over the layers called between them (Keras's
    functional API). Layers called more than once share their weights. A model is also a layer of other
    models (nesting.py)."""
    takes_list = False
    config_name = "Functional"

    def __init__(self, inputs=None, outputs=None, name: str | None = None):
        if inputs is None or outputs is None:
            raise TypeError("Model: expected Model(inputs, outputs) with tensors from gt.Input and layer calls "
                            "(subclassing Model with call() is not supported)")
        self._init_state(name, "functional")
        self._graph = functional.Graph(inputs, outputs)
        # As Keras: a shape, or a list of them for a model of several inputs (outputs).
        ins, outs = self._input_shapes(), self._output_shapes()
        self.input_shape = ins[0] if len(ins) == 1 else ins
        self.output_shape = outs[0] if len(outs) == 1 else outs

    def _init_state(self, name, automatic_base: str) -> None:
        _check_name(name)
        # An automatic name (sequential, sequential_1, ...) depends on what ran before in the process;
        # checkpoints are found by its base (saving.checkpoint_name).
        self.name_is_automatic = not name
        self.name = name or layers_module.unique_name(automatic_base)
        self.device: str | None = None
        self.optimizer = None
        self.loss = None  # a loss, or one (or None) per output for a model of several outputs
        self.loss_weights = None
        self.metrics: list = []
        self.targets: list = []  # compile's view of each output (gputrain/targets.py)
        self._class_weight = None  # the running fit's class weights (a device tensor), or None
        self.built = False
        self.stop_training = False
        self.history = None
        # Progress in Keras's terms: epochs completed, and samples of the next epoch already trained.
        self.training_state = {"epoch": 0, "samples": 0, "batch_size": None, "seed": None, "history": {},
                               "logs": {}, "logs_samples": 0}
        self._plans: dict = {}  # batch size -> training plan over the current tensors
        # The same for evaluate, predict and model(x, training=True).
        self._inference_plans: dict = {"evaluate": {}, "predict": {}, "call_training": {}}
        self._before_save = None  # set by fit while it runs: records its progress before a save
        self._inbound_nodes: list = []  # its calls on symbolic tensors, as a layer of another model
        self._trainable = True

    def __call__(self, inputs, training=None):
        """The model's output for a batch (a NumPy array or gt.Tensor of samples) as a gt.Tensor on the
        model's device, as Keras's model(x): inference unless training=True (dropout's masks, batch
        statistics, which also update the moving ones)."""
        if symbolic.is_symbolic(inputs):
            self._check_nestable("call")
            nesting.check_training_argument(self, training)
            return symbolic.call(self, inputs)
        self._build_for(inputs)
        self.build()
        names = self._input_names()
        xs = [eager.as_device_batch(x, self.device, shape, self.name) for x, shape in
              zip(targets.structured(inputs, names, "inputs", "input"), self._input_shapes())]
        if len({x.shape[0] for x in xs}) != 1:
            raise ValueError(f"{self.name}: every input needs the same batch size, got "
                             f"{', '.join(str(x.shape[0]) for x in xs)}")
        kind = "call_training" if checks.flag(bool(training), "training") else "predict"
        return self._plan(kind, xs[0].shape[0]).predict(xs)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Freezes (False) or unfreezes every layer, as Keras's model.trainable does; the next fit
        builds its steps anew (no compile needed)."""
        self._trainable = checks.flag(value, "trainable")
        for layer in self.layers:
            layer.trainable = self._trainable

    # ---- as a layer of another model ----
    @property
    def params(self) -> nesting.NestedParams:
        self.build()
        return nesting.NestedParams(self)

    @property
    def trainable_names(self) -> tuple:
        self.build()
        return nesting.trainable_names(self)

    def set_shapes(self, input_shape) -> tuple:
        if tuple(input_shape) != tuple(self.input_shape):
            raise ValueError(f"{self.name}: called on inputs of shape {tuple(input_shape)}, but the model takes "
                             f"{tuple(self.input_shape)}")
        return tuple(self.output_shape)

    def param_shapes(self, input_shape) -> dict:
        self.set_shapes(input_shape)
        return nesting.param_shapes(self)

    def add_to_plan(self, plan, inputs) -> int:
        self._check_nestable("plan")
        return self._add_to_plan(plan, inputs)[0]

    # ---- structure ----
    @property
    def layers(self) -> list:
        return list(self._graph.layers)

    @property
    def inputs(self) -> list:
        return list(self._graph.inputs)

    @property
    def outputs(self) -> list:
        return list(self._graph.outputs)

    def get_layer(self, name: str | None = None, index: int | None = None):
        """The layer of that name, or at that index of model.layers."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give name or index")
        if index is not None:
            if not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index!r} is outside the model's {len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the model has "
                         f"{', '.join(l.name for l in self.layers)}")

    def build(self, input_shape=None, device: str | None = None) -> tuple:
        """Allocates the weights on the device; the output shape (as a layer's build returns it)."""
        if self.built:
            return tuple(self.output_shape)
        if input_shape is not None and tuple(input_shape) not in (tuple(self.input_shape), self._input_shapes()[0]):
            raise ValueError(f"build: the model's input shape is {self.input_shape}, got {input_shape}")
        self.device = resolve_device(device or self.device)
        for layer in self._graph.plan_layer_order():
            layer.build(layer.input_shape, self.device)
        self.built = True
        return tuple(self.output_shape)

    def _check_nestable(self, what: str) -> None:
        """A model used as a layer of another has one input and one output, so far."""
        self._graph.check_one_input_one_output(what)

    # ---- inputs and outputs, as lists (the trainer's view) ----
    def _input_shapes(self) -> list:
        return [tuple(t.shape[1:]) for t in self._graph.inputs]

    def _output_shapes(self) -> list:
        return [tuple(t.shape[1:]) for t in self._graph.outputs]

    def _input_names(self) -> list:
        return [t.node.layer.name for t in self._graph.inputs]

    def _output_names(self) -> list:
        return [t._keras_history[0].name for t in self._graph.outputs]

    def _output_layers(self) -> list:
        return [t.node.layer for t in self._graph.outputs]

    def _outputs_read_by_layers(self) -> list:
        """For each output, whether layers of the model also read it (its activation is theirs then)."""
        return [self._graph.is_read(t) for t in self._graph.outputs]

    def _add_to_plan(self, plan, input_values: list) -> list:
        """Adds the model's layer nodes to `plan`, its inputs being the plan's `input_values`; the values
        of its outputs."""
        return self._graph.add_to_plan(plan, input_values)

    def _plan_layers(self) -> list:
        """The layers in the order their parameters enter a plan (each once)."""
        return self._graph.plan_layer_order()

    def count_params(self) -> int:
        self.build()
        return sum(layer.count_params() for layer in self.layers)

    @property
    def trainable_weights(self) -> list:
        """The weights training changes (gt.Tensors), layer by layer in Keras's order."""
        self.build()
        return [layer.params[n] for layer in self.layers for n in layer.trainable_names]

    @property
    def non_trainable_weights(self) -> list:
        """Weights training does not change by gradients (batch normalisation's moving statistics)."""
        self.build()
        return [t for layer in self.layers for n, t in layer.params.items() if n not in layer.trainable_names]

    def _totals(self) -> tuple:
        return self.count_params(), sum(t.size for t in self.trainable_weights)

    def summary(self, print_fn=print, line_length: int = 98) -> None:
        """Keras's table for functional models: Layer (type), Output Shape, Param #, Connected to (one line
        per tensor a layer reads), then the totals."""
        self.build()
        rows = []
        for layer in self.layers:
            shape = _shape_text(layer.output_shape)
            if isinstance(layer, layers_module.InputLayer):
                shape = f"[{shape}]"  # Keras lists an input layer's output
            connections = self._graph.connections(layer)
            first = [f"{layer.name} ({_type_name(layer)})", shape, layer.count_params(),
                     connections[0] if connections else ""]
            rows.append([first] + [["", "", "", c] for c in connections[1:]])
        print_fn(f'Model: "{self.name}"')
        _table(print_fn, line_length, [0.33, 0.55, 0.67, 1.0], ["Layer (type)", "Output Shape", "Param #",
                                                                "Connected to"], rows, self._totals())

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
        nesting.changed()  # and every other model holding these layers builds its plans anew

    # ---- saving ----
    def get_config(self) -> dict:
        """Layers with what each call read (by layer index, call index and tensor index, so the
        architecture's key does not depend on automatic names), the inputs and the outputs."""
        index = {layer: i for i, layer in enumerate(self.layers)}
        inside = set(self._graph.nodes)
        # A call's number among its layer's calls within this model (a layer may also be called elsewhere).
        local = {node: k for layer in self.layers for k, node in
                 enumerate(n for n in layer._inbound_nodes if n in inside)}

        def ref(t):
            layer, _, tensor_index = t._keras_history
            return [index[layer], local[t.node], tensor_index]

        layers = [{"class_name": layers_module.config_name(l), "config": l.get_config(),
                   "inbound_nodes": [[ref(t) for t in node.inputs] for node in l._inbound_nodes
                                     if node in inside and not node.is_input], **nesting.frozen_entry(l)}
                  for l in self.layers]
        return {"class_name": "Functional", "name": self.name, "input_shape": list(self._input_shapes()[0]),
                "layers": layers, "inputs": [ref(t) for t in self._graph.inputs],
                "outputs": [ref(t) for t in self._graph.outputs]}

    def save(self, path, include_optimizer: bool = True) -> None:
        """Architecture, weights, optimizer state and training progress in one safetensors file, or with a
        .keras name in Keras 3's format; written to a temporary name and renamed, so a killed process
        leaves the previous file."""
        saving.save_model(self, path, include_optimizer)

    def save_weights(self, path) -> None:
        """The weights alone: Keras 3's HDF5 layout for a .h5 name (.weights.h5), else safetensors."""
        saving.save_weights(self, path)

    def load_weights(self, path) -> None:
        """Weights saved by save_weights, or by Keras 3 (.weights.h5, or the weights of a .keras file)."""
        saving.load_weights(self, path)


def _type_name(layer) -> str:
    """A layer's type as Keras's summary writes it: a nested model is "Functional" or "Sequential"."""
    return layer.config_name if isinstance(layer, Model) else type(layer).__name__


def _shape_text(shape) -> str:
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


def from_config(config: dict) -> Model:
    """The functional model a Model.get_config() describes (new layers, connected as they were)."""
    made = [nesting.layer_from_entry(l) for l in config["layers"]]
    return graph_from_layers(made, [l.get("inbound_nodes", []) for l in config["layers"]], config["inputs"],
                             config["outputs"], config["name"])


def graph_from_layers(made: list, calls_of: list, inputs: list, outputs: list, name) -> Model:
    """A functional model of new layers `made`, layer i called as `calls_of[i]` says (each call: the
    [layer index, call index, tensor index] of what it reads); `inputs` and `outputs` refer likewise."""
    values: dict = {}
    for i, layer in enumerate(made):
        if isinstance(layer, layers_module.InputLayer):
            values[(i, 0)] = layer.output
    pending = list(range(len(made)))
    while pending:  # a layer's calls once what they read exists (the listed order is by depth)
        progressed = False
        for i in list(pending):
            calls = calls_of[i]
            if all((r[0], r[1]) in values for call in calls for r in call):
                for n, call in enumerate(calls):
                    ins = [values[(r[0], r[1])] for r in call]
                    values[(i, n)] = made[i](ins if made[i].takes_list else ins[0])
                pending.remove(i)
                progressed = True
        if not progressed:
            raise ValueError("the layers' connections do not form a graph from the inputs")
    try:
        pick = [values[(r[0], r[1])] for r in outputs]
        picked_inputs = [values[(r[0], r[1])] for r in inputs]
    except KeyError as exc:
        raise ValueError(f"the model's inputs or outputs name a call {exc} that does not exist") from None
    return Model(picked_inputs if len(picked_inputs) > 1 else picked_inputs[0],
                 pick if len(pick) > 1 else pick[0], name=name)


class Sequential(Model):
    """A stack of layers, each reading the one before."""
    config_name = "Sequential"

    def __init__(self, layers=None, name: str | None = None):
        self._init_state(name, "sequential")
        self._layers: list = []
        for layer in layers or []:
            self.add(layer)

    # ---- structure ----
    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, layers_module.InputLayer)]

    @property
    def inputs(self) -> list:
        raise AttributeError("a Sequential model's inputs are its first layer's; build a gt.Model for tensors")

    def add(self, layer) -> None:
        """Appends a layer (or gt.Input(shape), which sets the input shape). As in Keras, also after
        summary() or build(), until the model is compiled."""
        if isinstance(layer, symbolic.KerasTensor) and isinstance(layer.node.layer, layers_module.InputLayer):
            layer = layer.node.layer
        if not isinstance(layer, (layers_module.Layer, Model)):  # a model is a layer too (nesting.py)
            raise TypeError(f"add: expected a gputrain layer or model, got {type(layer).__name__}")
        if self.optimizer is not None:
            raise ValueError("add: the model is compiled; add layers before compile")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"add: a layer named {layer.name!r} is already in the model")
        self._layers.append(layer)
        self.built = False  # the layers built so far keep their weights (Layer.build)

    def build(self, input_shape=None, device: str | None = None) -> tuple:
        if self.built:
            return tuple(self.output_shape)
        if not self._layers:
            raise ValueError("build: the model has no layers")
        shape = input_shape if input_shape is not None else self._layers[0].input_shape
        if shape is None:
            raise ValueError("build: the input shape is unknown; give the first layer input_shape=... "
                             "or start with gt.Input(shape)")
        self.shape_layers(shape)
        self.device = resolve_device(device or self.device)
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.build(shape, self.device)
        self.built = True
        return tuple(self.output_shape)

    def set_shapes(self, input_shape) -> tuple:
        """As a layer of another model: its layers shaped for `input_shape`; the output shape."""
        declared = self._layers[0].input_shape if self._layers else None
        if declared is not None and tuple(declared) != tuple(input_shape):
            raise ValueError(f"{self.name}: called on inputs of shape {tuple(input_shape)}, but it takes "
                             f"{tuple(declared)}")
        self.shape_layers(input_shape)
        return tuple(self.output_shape)

    def shape_layers(self, input_shape) -> None:
        """Every layer's input and output shape, checked, without allocating a weight."""
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self._layers:
            shape = layer.set_shapes(shape)
        self.output_shape = shape

    def _check_nestable(self, what: str) -> None:
        pass  # one input and one output by construction

    def _input_shape_unknown(self) -> bool:
        """Built from its first data (Keras's deferred build): no layer was given an input shape."""
        return not self.built and (not self._layers or self._layers[0].input_shape is None)

    def _input_shapes(self) -> list:
        return [tuple(self.input_shape)]

    def _output_shapes(self) -> list:
        return [tuple(self.output_shape)]

    def _input_names(self) -> list:
        return ["input"]

    def _output_names(self) -> list:
        return [self.layers[-1].name] if self.layers else ["output"]

    def _outputs_read_by_layers(self) -> list:
        return [False]

    def _add_to_plan(self, plan, input_values: list) -> list:
        value = input_values[0]
        for layer in self.layers:
            value = layers_module.add_to_plan(layer, plan, [value])
        return [value]

    def _plan_layers(self) -> list:
        return self.layers

    def _output_layers(self) -> list:
        return [self.layers[-1]]

    def summary(self, print_fn=print, line_length: int = 65) -> None:
        """Keras's table: Layer (type), Output Shape, Param #, then the totals."""
        self.build()
        rows = [[[f"{layer.name} ({_type_name(layer)})", _shape_text(layer.output_shape), layer.count_params()]]
                for layer in self.layers]
        print_fn(f'Model: "{self.name}"')
        _table(print_fn, line_length, [0.45, 0.85, 1.0], ["Layer (type)", "Output Shape", "Param #"], rows,
               self._totals())

    # ---- saving ----
    def get_config(self) -> dict:
        shape = self.input_shape if self.built else (self._layers[0].input_shape if self._layers else None)
        return {"name": self.name, "input_shape": None if shape is None else list(shape),
                "layers": [{"class_name": layers_module.config_name(l), "config": l.get_config(),
                            **nesting.frozen_entry(l)} for l in self._layers]}


def _sequential_from_config(name, input_shape, layers) -> Sequential:
    model = Sequential([nesting.layer_from_entry(l) for l in layers], name=name)
    if input_shape is not None:
        model.shape_layers(input_shape)
    return model


# Nested models in a checkpoint's layer list are made from their own configs.
layers_module.LAYERS["Functional"] = lambda **config: from_config(config)
layers_module.LAYERS["Sequential"] = _sequential_from_config
