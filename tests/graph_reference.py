"""A float64 NumPy interpreter of functional models, independent of gputrain's plan: it walks the model's
nodes and computes each layer from tests/reference.py and NumPy, in training mode (batch statistics for
BatchNormalization), then the mean sparse cross-entropy. Its finite differences are the exact gradients
the plan's backward is judged against."""
import numpy as np
import pytest

import gputrain as gt
import reference as ref
from gputrain import layers

ACTIVATIONS = {None: lambda z: z, "relu": ref.relu, "sigmoid": ref.sigmoid, "swish": ref.swish,
               "tanh": np.tanh, "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
               "softmax": ref.softmax}


def bilinear_weights(out_size, in_size):
    """(out_size, in_size): output row o is Σ_i w[o, i]·input row i under TensorFlow's bilinear resize
    (half-pixel centres: row o samples (o + 0.5)·in/out − 0.5, clamped to the image)."""
    w = np.zeros((out_size, in_size))
    for o in range(out_size):
        src = (o + 0.5) * in_size / out_size - 0.5
        low = int(np.floor(src))
        w[o, min(max(low, 0), in_size - 1)] += 1 - (src - low)
        w[o, min(max(low + 1, 0), in_size - 1)] += src - low
    return w


def _layer(layer, xs, p):
    """The layer's float64 output for inputs xs (a list) and parameters p (name -> float64 array)."""
    x = xs[0]
    if isinstance(layer, layers.Dense):
        z = ref.dense(x, p["kernel"], p.get("bias"))
    elif isinstance(layer, layers.Conv2DTranspose):
        big = np.zeros((x.shape[0],) + tuple(layer.output_shape))
        z = ref.conv2d_grad(x, big, p["kernel"], layer.strides, layer.padding)[0]
        z = z + p["bias"] if "bias" in p else z
    elif isinstance(layer, layers.SeparableConv2D):
        middle = ref.depthwise_conv2d(x, p["depthwise_kernel"], None, layer.strides, layer.padding, layer.dilation_rate)
        z = ref.conv2d(middle, p["pointwise_kernel"], p.get("bias"))
    elif isinstance(layer, layers.DepthwiseConv2D):
        z = ref.depthwise_conv2d(x, p["kernel"], p.get("bias"), layer.strides, layer.padding, layer.dilation_rate)
    elif isinstance(layer, layers.Conv2D):
        z = ref.conv2d(x, p["kernel"], p.get("bias"), layer.strides, layer.padding, layer.dilation_rate,
                       layer.groups)
    elif isinstance(layer, layers.BatchNormalization):
        if not layer.trainable:  # frozen: inference mode, as Keras's
            return ref.batch_norm(x, p["gamma"], p["beta"], p["moving_mean"], p["moving_variance"], layer.epsilon)
        return ref.batch_norm_train(x, p["gamma"], p["beta"], layer.epsilon)
    elif isinstance(layer, layers.LeakyReLU):
        return np.where(x >= 0, x, layer.negative_slope * x)
    elif isinstance(layer, layers.PReLU):  # alpha (the sample shape, shared axes 1) broadcasts over them
        return np.where(x > 0, x, p["alpha"] * x)
    elif isinstance(layer, layers.Permute):
        return x.transpose((0,) + tuple(layer.dims))
    elif isinstance(layer, layers.Activation):
        z = x
    elif isinstance(layer, layers.Add):
        return sum(xs)
    elif isinstance(layer, layers.Subtract):
        return xs[0] - xs[1]
    elif isinstance(layer, layers.Multiply):
        return np.prod(xs, axis=0)
    elif isinstance(layer, layers.Maximum):
        return np.max(xs, axis=0)
    elif isinstance(layer, layers.Minimum):
        return np.min(xs, axis=0)
    elif isinstance(layer, layers.Average):
        return sum(xs) / len(xs)
    elif isinstance(layer, layers.Concatenate):
        return np.concatenate(xs, axis=layer.axis)
    elif isinstance(layer, layers.ZeroPadding2D):
        top, bottom, left, right = layer.sides
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    elif isinstance(layer, layers.Cropping2D):
        top, bottom, left, right = layer.sides
        return x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :]
    elif isinstance(layer, layers.UpSampling2D) and layer.interpolation == "bilinear":
        rows, cols = (bilinear_weights(n * s, n) for n, s in zip(x.shape[1:3], layer.size))
        return np.einsum("oi,pj,nijc->nopc", rows, cols, x)
    elif isinstance(layer, layers.UpSampling2D):
        return x.repeat(layer.size[0], axis=1).repeat(layer.size[1], axis=2)
    elif isinstance(layer, (layers.Reshape, layers.Flatten)):
        return x.reshape((x.shape[0],) + tuple(layer.output_shape))
    elif isinstance(layer, layers.GlobalAveragePooling2D):
        return x.mean(axis=(1, 2))
    elif isinstance(layer, layers.GlobalMaxPooling2D):
        return x.max(axis=(1, 2))
    elif isinstance(layer, layers.MaxPooling2D):
        return ref.pool2d(x, "max", layer.pool_size, layer.strides, layer.padding)
    else:
        raise NotImplementedError(f"the graph reference has no {type(layer).__name__}")
    return ACTIVATIONS[layer.activation](z)


def penalty(regularizer, value) -> float:
    """Keras's l1·Σ|x| + l2·Σx²."""
    return float(regularizer.l1 * np.abs(value).sum() + regularizer.l2 * np.square(value).sum())


def _model(model, x, params, penalties):
    """A model's float64 output; params: its layers -> {name: array}. A nested model is a layer whose
    params are named "<inner layer index>/<name>". Each call's activity penalty (divided by the batch)
    is appended to `penalties`."""
    if isinstance(model, gt.Sequential):
        for layer in model.layers:
            x = _call(layer, [x], params[layer], penalties)
        return x
    values = {id(model.inputs[0]): np.asarray(x, np.float64)}
    for node in model._graph.nodes:
        if not node.is_input:
            values[id(node.output)] = _call(node.layer, [values[id(t)] for t in node.inputs], params[node.layer],
                                            penalties)
    return values[id(model.outputs[0])]


def _call(layer, xs, p, penalties):
    if isinstance(layer, gt.Model):
        inner = {l: {} for l in layer.layers}
        for key, value in p.items():
            index, name = key.split("/", 1)
            inner[layer.layers[int(index)]][name] = value
        return _model(layer, xs[0], inner, penalties)
    out = _layer(layer, xs, p)
    if layer.activity_regularizer is not None:
        penalties.append(penalty(layer.activity_regularizer, out) / len(out))
    return out


def loss(model, x, labels, params) -> float:
    """Mean sparse cross-entropy of the model's softmax output plus the regularizers' penalties (of
    trainable weights, once each; of every call's output); params: layer -> {name: float64 array}."""
    penalties: list = []
    out = _model(model, x, params, penalties)
    picked = out[np.arange(len(labels)), labels]
    weights = sum(penalty(regularizer, params[layer][name]) for layer in model.layers
                  for name, regularizer in getattr(layer, "param_regularizers", {}).items()
                  if name in layer.trainable_names)
    return float(-np.log(picked).mean()) + sum(penalties) + weights


def gradients(model, x, labels, h=1e-6) -> dict:
    """d loss / d each trainable parameter by central differences in float64: (layer, name) -> array."""
    params = {layer: {name: t.numpy().astype(np.float64) for name, t in layer.params.items()}
              for layer in model.layers}
    grads = {}
    for layer in model.layers:
        for name in layer.trainable_names:
            value = params[layer][name]
            grad = np.zeros_like(value)
            flat, gflat = value.reshape(-1), grad.reshape(-1)
            for i in range(flat.size):
                keep = flat[i]
                flat[i] = keep + h
                up = loss(model, x, labels, params)
                flat[i] = keep - h
                down = loss(model, x, labels, params)
                flat[i] = keep
                gflat[i] = (up - down) / (2 * h)
            grads[(layer, name)] = grad
    return grads


def plan_gradients(model, x, labels, device):
    """The loss (with the regularizers' penalties) and the parameter gradients of one training step of
    `model` through its plan, with learning rate 0: (loss, {(layer, name): array}), in the plan's
    parameter order."""
    model.compile("sgd", "sparse_categorical_crossentropy", device=device)
    plan = model._plan("train", len(x))
    plan.step(gt.tensor(x, device=device), gt.tensor(np.asarray(labels).astype(np.int32), device=device), 1, 0.0)
    grads = iter(plan.gradients())
    got = {(layer, name): next(grads).numpy() for layer in model._plan_layers() for name in layer.trainable_names}
    sums = plan.metrics()  # the loss term's sum, then the penalties'
    return sums[0] + sums[-1], got


def check_plan_gradients(model, x, labels, device, tol: float = 1e-4, floor: float = 0.0) -> dict:
    """One training step of `model` through its plan against this interpreter: the loss within 1e-5 and
    each parameter gradient within `tol` of the float64 central differences, relative to the larger of
    its norm and `floor` times the norm of all the gradients (a gradient that is exactly zero needs a
    floor). Returns the reference gradients."""
    loss_value, got = plan_gradients(model, x, labels, device)
    params = {layer: {n: t.numpy().astype(np.float64) for n, t in layer.params.items()} for layer in model.layers}
    assert loss_value == pytest.approx(loss(model, x, labels, params), rel=1e-5)
    want = gradients(model, x, labels)
    assert set(got) == set(want)
    scale = floor * np.sqrt(sum(np.linalg.norm(g) ** 2 for g in want.values()))
    for key, expected in want.items():
        error = np.linalg.norm(got[key] - expected) / max(np.linalg.norm(expected), scale)
        assert error < tol, f"{key[0].name}/{key[1]}: relative error {error:.2e}"
    return want
