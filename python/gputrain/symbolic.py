"""Symbolic tensors, as Keras's functional API passes them between layers: `gt.Input(shape)` makes one, and
calling a layer on symbolic tensors records a Node (which layer read which tensors and made which) and
returns the layer's symbolic output. `gt.Model(inputs, outputs)` (functional.py) walks the nodes back
from its outputs. Nothing is computed here: shapes only, with None for the batch."""
from __future__ import annotations


class KerasTensor:
    """A layer's output in a model being defined: its shape (the batch as None), dtype, and the node that
    makes it (`_keras_history`: layer, node index, tensor index, as Keras names them)."""

    def __init__(self, shape: tuple, layer, node_index: int, name: str):
        self.shape = tuple(shape)
        self.dtype = "float32"
        self.name = name
        self._keras_history = (layer, node_index, 0)

    @property
    def node(self) -> "Node":
        layer, index, _ = self._keras_history
        return layer._inbound_nodes[index]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numpy(self):
        raise TypeError(f"{self.name} is symbolic (a layer's output in a model being defined) and has no "
                        f"values; call the model on data, or use model.predict")

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer on symbolic tensors: the tensors it read and the one it made."""

    def __init__(self, layer, inputs: list):
        self.layer, self.inputs = layer, list(inputs)
        self.output: KerasTensor | None = None

    @property
    def is_input(self) -> bool:
        return not self.inputs

    def parents(self) -> list:
        return [t.node for t in self.inputs]


def is_symbolic(value) -> bool:
    """Whether a layer is being called on symbolic tensors (one, or a list or tuple of them)."""
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, KerasTensor) for v in value)
    return isinstance(value, KerasTensor)


def call(layer, inputs) -> KerasTensor:
    """Records `layer` called on `inputs` and returns its symbolic output. A layer called again (a shared
    layer) must get inputs of the shape it was first called on: it has one set of weights."""
    many = isinstance(inputs, (list, tuple))
    tensors = list(inputs) if many else [inputs]
    for t in tensors:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"{layer.name}: expected symbolic tensors (from gt.Input or another layer), got "
                            f"{type(t).__name__} among them")
    if layer.takes_list != many:
        raise TypeError(f"{layer.name}: expected " + ("a list of tensors" if layer.takes_list else "one tensor") +
                        f", got {'a list' if many else 'one tensor'}")
    shapes = [t.shape[1:] for t in tensors]
    shape = shapes if many else shapes[0]
    if layer._inbound_nodes and layer.input_shape != shape:
        raise ValueError(f"{layer.name}: called on inputs of shape {shape}, but it was first called on "
                         f"{layer.input_shape}; a layer called more than once shares its weights, so its "
                         f"inputs must keep one shape")
    out_shape = layer.set_shapes(shape)
    node = Node(layer, tensors)
    layer._inbound_nodes.append(node)
    index = len(layer._inbound_nodes) - 1
    node.output = KerasTensor((None,) + tuple(out_shape), layer, index,
                              layer.name if index == 0 else f"{layer.name}_{index}")
    return node.output
