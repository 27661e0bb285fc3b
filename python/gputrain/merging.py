"""Keras's merging layers: Add, Subtract, Average, Multiply, Maximum, Minimum (inputs of one shape) and
Concatenate (along an axis).
Each is called on a list of tensors and adds one node of the plan that reads them all; a value read by
several layers gets the sum of their gradients there."""
from __future__ import annotations

from .layers import Layer


class _Merge(Layer):
    takes_list = True
    plan_kind = None  # the plan's name of the merge: "add", "subtract" or "average"
    fewest = 1

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)

    def compute_output_shape(self, input_shape):
        shapes = list(input_shape)
        if len(shapes) < self.fewest:
            raise ValueError(f"{self.name}: expected at least {self.fewest} inputs, got {len(shapes)}")
        for shape in shapes[1:]:
            if tuple(shape) != tuple(shapes[0]):
                raise ValueError(f"{self.name}: inputs of different shapes {tuple(shapes[0])} and {tuple(shape)}")
        return tuple(shapes[0])

    def add_to_plan(self, plan, inputs):
        return plan.add_merge(self.plan_kind, list(inputs))


class Add(_Merge):
    plan_kind = "add"


class Average(_Merge):
    plan_kind = "average"


class Subtract(_Merge):
    plan_kind = "subtract"
    fewest = 2

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: expected exactly 2 inputs, got {len(input_shape)}")
        return super().compute_output_shape(input_shape)


class Multiply(_Merge):
    plan_kind = "multiply"
    fewest = 2


class Maximum(_Merge):
    """Element-wise maximum (NaN where any input is NaN, as np.maximum); the gradient goes to the first
    input holding the maximum."""
    plan_kind = "maximum"
    fewest = 2


class Minimum(_Merge):
    plan_kind = "minimum"
    fewest = 2


class Concatenate(Layer):
    """Along `axis` of the tensors with the batch as axis 0 (-1: the last, Keras's default)."""
    takes_list = True

    def __init__(self, axis: int = -1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis: expected an int, got {axis!r}")
        self.axis = axis

    def _sample_axis(self, rank: int) -> int:
        """The axis among a sample's axes (the batch not counted)."""
        axis = self.axis + rank + 1 if self.axis < 0 else self.axis
        if not 1 <= axis <= rank:
            raise ValueError(f"{self.name}: axis {self.axis} is not an axis of samples of rank {rank} (the batch, "
                             f"axis 0, cannot be concatenated)")
        return axis - 1

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if not shapes:
            raise ValueError(f"{self.name}: expected at least 1 input, got 0")
        axis = self._sample_axis(len(shapes[0]))
        for shape in shapes[1:]:
            if len(shape) != len(shapes[0]) or any(a != b for i, (a, b) in enumerate(zip(shape, shapes[0]))
                                                   if i != axis):
                raise ValueError(f"{self.name}: inputs {shapes[0]} and {shape} differ beside axis {self.axis}")
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return tuple(out)

    def add_to_plan(self, plan, inputs):
        return plan.add_concatenate(list(inputs), self._sample_axis(len(self.input_shape[0])) + 1)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}

