"""The graph of a functional model: the nodes (layer calls, symbolic.Node) between its inputs and outputs,
in Keras's order. A node's depth is the longest path from it to an output; nodes run by decreasing depth
(every node after the nodes it reads), and model.layers lists layers by decreasing depth, ties broken by
when a walk back from the outputs first met them, as Keras orders them (so summaries list layers as
Keras's do)."""
from __future__ import annotations

from . import layers
from .symbolic import KerasTensor


def _tensors(value, name: str) -> list:
    """A model's inputs or outputs: one symbolic tensor, or a list, tuple or dict of them."""
    items = list(value.values()) if isinstance(value, dict) else (list(value) if isinstance(value, (list, tuple))
                                                                  else [value])
    if not items:
        raise ValueError(f"{name}: expected at least one tensor")
    for t in items:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"{name}: expected symbolic tensors (from gt.Input and layer calls), got "
                            f"{type(t).__name__}")
    return items


class Graph:
    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = _tensors(inputs, "inputs"), _tensors(outputs, "outputs")
        for t in self.inputs:
            if not t.node.is_input:
                raise ValueError(f"inputs: {t.name} is a layer's output; a model's inputs come from gt.Input")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError("inputs: the same input is given twice")
        order, first_seen = self._walk_back()
        depth: dict = {}
        layer_depth: dict = {}
        for node in reversed(order):  # from the outputs: a node is deeper than every node reading it
            d = max(depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
            depth[node] = layer_depth[node.layer] = d
            for parent in node.parents():
                depth[parent] = max(depth.get(parent, 0), d + 1)
        for t in self.inputs:  # an input no output depends on still belongs to the model
            if t.node not in depth:
                depth[t.node], layer_depth[t.node.layer], first_seen[t.node.layer] = 0, 0, -1
        position = {node: i for i, node in enumerate(order)}
        self.nodes = sorted(depth, key=lambda n: (-depth[n], position.get(n, -1)))
        self.layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_seen[layer]))
        self._check_computable()

    def _walk_back(self):
        """The nodes the outputs depend on, each after the nodes it reads (a depth-first walk back from the
        outputs), and each layer's position in the walk's first visits."""
        order, done, active, first_seen = [], set(), set(), {}

        def visit(tensor):
            node = tensor.node
            if node in done:
                return
            if node in active:
                raise ValueError(f"the graph has a cycle through layer {node.layer.name!r}")
            first_seen.setdefault(node.layer, len(first_seen))
            active.add(node)
            for parent in node.inputs:
                visit(parent)
            active.discard(node)
            done.add(node)
            order.append(node)

        for t in self.outputs:
            visit(t)
        return order, first_seen

    def _check_computable(self) -> None:
        known = {id(t) for t in self.inputs}
        for node in self.nodes:
            if node.is_input:
                if id(node.output) not in known:
                    raise ValueError(f"Graph disconnected: the outputs depend on input {node.output.name!r}, which "
                                     f"is not among the model's inputs")
                continue
            for t in node.inputs:
                if id(t) not in known:
                    raise ValueError(f"Graph disconnected: layer {node.layer.name!r} reads {t.name!r}, which the "
                                     f"model's inputs do not lead to")
            known.add(id(node.output))

    def connections(self, layer) -> list[str]:
        """What each call of `layer` within this graph read, as Keras's summary writes it:
        layer_name[node_index][tensor_index]."""
        inside = set(self.nodes)
        return [f"{t._keras_history[0].name}[{t._keras_history[1]}][{t._keras_history[2]}]"
                for node in layer._inbound_nodes if node in inside for t in node.inputs]

    def check_one_input_one_output(self, what: str) -> None:
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ValueError(f"{what}: this model has {len(self.inputs)} inputs and {len(self.outputs)} outputs; "
                             f"gputrain nests models of one input and one output in other models so far")

    def add_to_plan(self, plan, input_values: list) -> list:
        """Adds every node to `plan`, the model's inputs being the plan's `input_values`; the outputs'
        values."""
        values = {id(t): v for t, v in zip(self.inputs, input_values)}
        for node in self.nodes:
            if node.is_input:
                continue
            values[id(node.output)] = layers.add_to_plan(node.layer, plan, [values[id(t)] for t in node.inputs])
        return [values[id(t)] for t in self.outputs]

    def is_read(self, tensor) -> bool:
        """Whether a layer call of this graph reads `tensor`."""
        return any(t is tensor for node in self.nodes if not node.is_input for t in node.inputs)

    def plan_layer_order(self) -> list:
        """The layers in the order the plan meets them (first calls first): the order of its parameters."""
        seen, order = set(), []
        for node in self.nodes:
            if not node.is_input and node.layer not in seen:
                seen.add(node.layer)
                order.append(node.layer)
        return order
