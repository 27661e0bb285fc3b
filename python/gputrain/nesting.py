"""A model used as a layer of another model (Keras's `x = base_model(inputs)`): its weights seen as one
layer's, named "<index of the inner layer>/<weight>" (recursively for deeper nesting), so the outer model's
weights, optimizer slots, files and summary treat the nested model as one layer while the plan adds its
layers' nodes in place of it. Also what walks through nesting: the leaf layers, and which are frozen."""
from __future__ import annotations

from collections.abc import MutableMapping


class NestedParams(MutableMapping):
    """The nested model's weights as one dict: "i/name" is model.layers[i].params[name]. Setting one sets
    the inner layer's (and drops the nested model's own plans, which held the old tensor)."""

    def __init__(self, model):
        self.model = model

    def _split(self, key: str):
        index, _, name = key.partition("/")
        layers = self.model.layers
        if not index.isdigit() or int(index) >= len(layers) or name not in layers[int(index)].params:
            raise KeyError(key)
        return layers[int(index)], name

    def __getitem__(self, key):
        layer, name = self._split(key)
        return layer.params[name]

    def __setitem__(self, key, value):
        layer, name = self._split(key)
        layer.params[name] = value
        self.model._forget_plans()

    def __delitem__(self, key):
        raise TypeError("a nested model's weights cannot be removed")

    def __iter__(self):
        for i, layer in enumerate(self.model.layers):
            for name in layer.params:
                yield f"{i}/{name}"

    def __len__(self):
        return sum(len(layer.params) for layer in self.model.layers)


_version = 0  # counts changes that plans cannot follow: a layer frozen or unfrozen, weights replaced


def changed() -> None:
    """A layer was frozen or unfrozen, or its weights replaced: models build their plans anew."""
    global _version
    _version += 1


def version() -> int:
    return _version


def trainable_names(model) -> tuple:
    """The nested model's trainable weights in the order its layers' nodes enter a plan (the order of the
    plan's parameters, and so of the optimizer's slots)."""
    index = {layer: i for i, layer in enumerate(model.layers)}
    return tuple(f"{index[layer]}/{name}" for layer in model._plan_layers() for name in layer.trainable_names)


def param_shapes(model) -> dict:
    return {f"{i}/{name}": shape for i, layer in enumerate(model.layers)
            for name, shape in layer.param_shapes(layer.input_shape).items()}


def depends_on_mode(layer) -> bool:
    """Whether a layer (or a nested model's layers) computes differently in training and inference."""
    from .layers import BatchNormalization, Dropout
    if isinstance(layer, (BatchNormalization, Dropout)):
        return True
    return hasattr(layer, "_plan_layers") and any(depends_on_mode(inner) for inner in layer.layers)


def check_training_argument(layer, training) -> None:
    """training= in a model's definition fixes a layer's mode inside fit, which gputrain's plans do not
    do yet: refused where it would matter (batch normalisation, dropout), so nothing silently differs."""
    if training is not None and depends_on_mode(layer):
        raise ValueError(f"{layer.name}: training={training} in a model definition is not supported yet: in fit, "
                         f"its batch normalisation and dropout would still run in training mode. Call it without "
                         f"training=, or build the model without those layers")


def leaf_layers(model):
    """The model's layers, those of nested models in their place (each layer once)."""
    seen = set()
    for layer in model.layers:
        inner = leaf_layers(layer) if hasattr(layer, "_plan_layers") else [layer]
        for leaf in inner:
            if id(leaf) not in seen:
                seen.add(id(leaf))
                yield leaf


def freeze_in_plan(model, plan) -> None:
    """Tells the plan which parameters belong to frozen layers (before any layer is added)."""
    for layer in leaf_layers(model):
        if not layer.trainable:
            for tensor in layer.params.values():
                plan.freeze(tensor)


def frozen_entry(layer) -> dict:
    """What a checkpoint's layer entry adds for a frozen layer (nothing otherwise, so the files and
    architecture keys of models that freeze nothing stay as they were)."""
    return {} if getattr(layer, "trainable", True) or hasattr(layer, "_plan_layers") else {"trainable": False}


def layer_from_entry(entry: dict):
    from .layers import from_config
    layer = from_config(entry["class_name"], entry["config"])
    if entry.get("trainable") is False:
        layer.trainable = False
    return layer
