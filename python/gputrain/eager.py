"""Models and layers called on data (Keras's model(x) and layer(x)): the batch brought to the device and
checked, and a layer run alone through a plan of its one node."""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device
from .tensor import Tensor, tensor as _tensor


def as_device_batch(inputs, device: str, sample_shape, who: str) -> Tensor:
    """A batch of samples as a float32 gt.Tensor on `device` (uint8 images converted there), checked
    against the sample shape when one is given."""
    if isinstance(inputs, Tensor):
        if inputs.device != device:
            inputs = inputs.to(device)
        if inputs.dtype == "uint8":
            inputs = _core.uint8_to_float32(inputs)
        elif inputs.dtype != "float32":
            raise TypeError(f"{who}: expected float32 or uint8 samples, got {inputs.dtype}")
    else:
        array = np.asarray(inputs)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{who}: expected an array of numbers, got {array.dtype}")
        inputs = (_core.uint8_to_float32(_tensor(array, device=device)) if array.dtype == np.uint8
                  else _tensor(array.astype(np.float32, copy=False), device=device))
    if inputs.ndim < 1 or inputs.shape[0] < 1 or (sample_shape is not None and
                                                   tuple(inputs.shape[1:]) != tuple(sample_shape)):
        want = f"samples of shape {tuple(sample_shape)}" if sample_shape is not None else "samples"
        raise ValueError(f"{who}: expected a batch of {want}, got an array of shape {tuple(inputs.shape)}")
    return inputs


def call_layer(layer, inputs, training: bool) -> Tensor:
    """The layer's output for a batch, as a gt.Tensor: built on first call (Keras builds a layer for the
    shape it is first called on, on the default device), then run as a plan of its one node."""
    if layer.takes_list:
        raise TypeError(f"{layer.name}: merging layers are called on arrays inside a model only; build a "
                        f"gt.Model and call it")
    device = layer.device if layer.built else resolve_device(None)
    x = as_device_batch(inputs, device, layer.input_shape if layer.built else None, layer.name)
    layer.build(tuple(x.shape[1:]), device)
    plan = _core._TrainPlan(device, x.shape[0], list(layer.input_shape), graphs=False, training=training)
    layer.add_to_plan(plan, [0])
    return plan.predict(x)
