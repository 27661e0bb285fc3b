"""An op-by-op reference for whole training steps, independent of the model's plan: each layer's forward
and backward composed from gputrain.ops (every op is tested against NumPy on its own), the loss and the
optimizer update likewise, with Keras's rules (a softmax or sigmoid output taken over by the loss).
Tests train one copy of a model through fit and another through `fit` here, and compare."""
import numpy as np

from gputrain import _core, layers, losses, ops, optimizers, saving
from gputrain.tensor import tensor


def _activation(name, z):
    """(output, backward from output gradient to z's)."""
    if name is None:
        return z, lambda dy: dy
    if name == "softmax":
        a = ops.softmax(z)
        return a, lambda dy: ops.softmax_grad(dy, a)
    a = getattr(ops, name)(z)  # an element-wise one: its gradient reads its input or its output
    reads = a if _core.activation_grad_argument(name) == "y" else z
    return a, lambda dy: getattr(ops, f"{name}_grad")(dy, reads)


def _layer_forward(layer, x):
    """(output, pre-activation or None, backward: dy -> (dx, {param: grad}))."""
    p = layer.params
    if isinstance(layer, (layers.Dense, layers.Conv2D)):
        if isinstance(layer, layers.Dense):
            z = ops.dense(x, p["kernel"], p.get("bias"))
            grad = lambda dz: ops.dense_grad(dz, x, p["kernel"])  # noqa: E731
        else:
            window = {"strides": layer.strides, "padding": layer.padding, "dilation_rate": layer.dilation_rate,
                      "groups": layer.groups}
            z = ops.conv2d(x, p["kernel"], p.get("bias"), **window)
            grad = lambda dz: ops.conv2d_grad(dz, x, p["kernel"], **window)  # noqa: E731
        a, act_back = _activation(layer.activation, z)

        def backward(dy, pre_activation=False):
            dx, dkernel, dbias = grad(dy if pre_activation else act_back(dy))
            return dx, {"kernel": dkernel, **({"bias": dbias} if layer.use_bias else {})}
        return a, z, backward
    if isinstance(layer, layers.DepthwiseConv2D):
        window = {"strides": layer.strides, "padding": layer.padding, "dilation_rate": layer.dilation_rate}
        z = ops.depthwise_conv2d(x, p["kernel"], p.get("bias"), **window)
        a, act_back = _activation(layer.activation, z)

        def backward(dy, pre_activation=False):
            dz = dy if pre_activation else act_back(dy)
            dx = ops.depthwise_conv2d_backward_data(dz, p["kernel"], list(x.shape), **window)
            dkernel, dbias = ops.depthwise_conv2d_backward_filter(dz, x, layer.kernel_size, **window)
            return dx, {"kernel": dkernel, **({"bias": dbias} if layer.use_bias else {})}
        return a, z, backward
    if isinstance(layer, layers.Activation):
        a, act_back = _activation(layer.activation, x)
        return a, x, lambda dy, pre_activation=False: (dy if pre_activation else act_back(dy), {})
    if isinstance(layer, layers.MaxPooling2D):
        window = {"pool_size": layer.pool_size, "strides": layer.strides, "padding": layer.padding}
        return ops.max_pool2d(x, **window), None, lambda dy: (ops.max_pool2d_grad(dy, x, **window), {})
    if isinstance(layer, layers.AveragePooling2D):
        window = {"pool_size": layer.pool_size, "strides": layer.strides, "padding": layer.padding}
        return ops.avg_pool2d(x, **window), None, lambda dy: (ops.avg_pool2d_grad(dy, x, **window), {})
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return ops.global_avg_pool2d(x), None, lambda dy: (ops.global_avg_pool2d_grad(dy, x), {})
    if isinstance(layer, layers.Flatten):
        shape = list(x.shape)
        return x.reshape([shape[0], int(np.prod(shape[1:]))]), None, lambda dy: (dy.reshape(shape), {})
    if isinstance(layer, layers.BatchNormalization):
        y, mean, var = ops.batch_norm(x, p["gamma"], p["beta"], p["moving_mean"], p["moving_variance"],
                                      training=True, momentum=layer.momentum, epsilon=layer.epsilon)

        def backward(dy):
            dx, dgamma, dbeta = ops.batch_norm_grad(dy, x, p["gamma"], mean, var, epsilon=layer.epsilon)
            return dx, {"gamma": dgamma, "beta": dbeta}
        return y, None, backward
    if isinstance(layer, layers.InputLayer):
        return x, None, lambda dy: (dy, {})
    raise NotImplementedError(f"the reference has no {type(layer).__name__}")


def _loss(model, output, logits, labels):
    """(mean loss, gradient, gradient is for the logits)."""
    loss = model.loss
    last = model.layers[-1]
    fused = not loss.from_logits and getattr(last, "activation", None) == (
        "sigmoid" if isinstance(loss, losses.BinaryCrossentropy) else "softmax")
    if isinstance(loss, losses.BinaryCrossentropy):
        if loss.from_logits or fused:
            value, grad = ops.binary_cross_entropy(labels, logits if fused else output, from_logits=True)
        else:
            value, grad = ops.binary_cross_entropy(labels, output, from_logits=False)
        return float(value.numpy()), grad, fused
    if loss.from_logits or fused:
        value, grad = ops.softmax_cross_entropy(labels, logits if fused else output)
        return float(value.numpy()), grad, fused
    raise NotImplementedError("the reference has no cross-entropy on probabilities")


def _correct(model, output, labels):
    out, y = output.numpy(), labels.numpy()
    if isinstance(model.loss, losses.BinaryCrossentropy):
        return int(np.sum((out > (0.0 if model.loss.from_logits else 0.5)) == (y > 0.5)))
    return int(np.sum(np.argmax(out, axis=-1) == y))


def _update(optimizer, param, grad, slots, iteration):
    if isinstance(optimizer, optimizers.Adam):
        ops.adam_update(param, grad, slots["m"], slots["v"], iteration, learning_rate=optimizer.learning_rate,
                        beta_1=optimizer.beta_1, beta_2=optimizer.beta_2, epsilon=optimizer.epsilon)
    elif isinstance(optimizer, optimizers.SGD):
        ops.sgd_update(param, grad, slots["velocity"], learning_rate=optimizer.learning_rate,
                       momentum=optimizer.momentum, nesterov=optimizer.nesterov)
    else:
        ops.rmsprop_update(param, grad, slots["velocity"], learning_rate=optimizer.learning_rate,
                           rho=optimizer.rho, momentum=optimizer.momentum, epsilon=optimizer.epsilon,
                           centered=optimizer.centered, momentum_buffer=slots["momentum"],
                           average_grad=slots["average_gradient"])


def train_step(model, x, labels):
    """One step on float32 x and converted labels (host arrays); (mean loss, correct predictions)."""
    out = tensor(np.asarray(x, np.float32), device=model.device)
    tape = []
    for layer in model.layers:
        out, z, backward = _layer_forward(layer, out)
        tape.append(backward)
    labels_t = tensor(labels, device=model.device)
    loss, grad, for_logits = _loss(model, out, z, labels_t)
    grads = {}
    for i in reversed(range(len(model.layers))):
        grad, layer_grads = tape[i](grad, pre_activation=True) if (i == len(tape) - 1 and for_logits) \
            else tape[i](grad)
        grads.update({(i, name): g for name, g in layer_grads.items()})
    opt = model.optimizer
    opt.iterations += 1
    for i, layer in enumerate(model.layers):
        for name in layer.trainable_names:
            param = layer.params[name]
            _update(opt, param, grads[(i, name)], opt.slots_for(saving.weight_key(i, name), param), opt.iterations)
    return loss, _correct(model, out, labels_t)


def fit(model, x, y, batch_size, epochs):
    """Trains in order (no shuffling); the per-epoch mean loss and accuracy, as fit's history has them."""
    history = {"loss": [], "accuracy": []}
    units = model.loss.units_per_sample(tuple(model.output_shape))
    for _ in range(epochs):
        loss_sum = correct = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            loss, hits = train_step(model, xb, model.loss.labels(yb))
            loss_sum += loss * len(xb)
            correct += hits
        history["loss"].append(loss_sum / len(x))
        history["accuracy"].append(correct / (len(x) * units))
    return history


def check_trains_as_reference(make_model, x, y, device):
    """Two copies of make_model()'s model with the same weights, one trained by fit through its plan and one
    here (SGD with momentum, logits, 2 epochs of batches of 4, in order), end with the same losses,
    accuracies and weights; the first weight moved, so they are not two untouched copies. The planned model."""
    import gputrain as gt

    gt.utils.set_random_seed(5)
    planned, reference = make_model(), make_model()
    for model in (planned, reference):
        model.compile(gt.optimizers.SGD(0.05, momentum=0.9), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], device=device)
    reference.set_weights(planned.get_weights())
    initial = planned.get_weights()[0].copy()
    history = planned.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    expected = fit(reference, x, y, batch_size=4, epochs=2)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(history["accuracy"], expected["accuracy"])
    for got, want in zip(planned.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    assert not np.allclose(planned.get_weights()[0], initial)
    return planned

