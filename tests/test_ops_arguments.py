"""Arguments every op family shares: hyper-parameters that are not numbers, window arguments that are
not ints, a device= that disagrees with the tensors given, integer label tensors of another width, and
None or a string given for any argument of any public op. Each raises a clear error naming the op and
the argument instead of a conversion error from inside (or a silent conversion: None into NaN)."""
import inspect
import re

import numpy as np
import pytest

import gputrain as gt

X = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(2, 6)


@pytest.mark.parametrize("call, name", [
    (lambda bad: gt.ops.dropout(X, bad, 0), "rate"),
    (lambda bad: gt.ops.dropout_grad(X, np.ones(X.shape, np.uint8), bad), "rate"),
    (lambda bad: gt.ops.batch_norm(X, training=True, momentum=bad), "momentum"),
    (lambda bad: gt.ops.batch_norm(X, training=True, epsilon=bad), "epsilon"),
    (lambda bad: gt.ops.sgd_update(X.copy(), X, learning_rate=bad), "learning_rate"),
    (lambda bad: gt.ops.sgd_update(X.copy(), X, np.zeros_like(X), momentum=bad), "momentum"),
    (lambda bad: gt.ops.adam_update(X.copy(), X, np.zeros_like(X), np.zeros_like(X), 1, beta_1=bad), "beta_1"),
    (lambda bad: gt.ops.adam_update(X.copy(), X, np.zeros_like(X), np.zeros_like(X), 1, beta_2=bad), "beta_2"),
    (lambda bad: gt.ops.rmsprop_update(X.copy(), X, np.zeros_like(X), rho=bad), "rho"),
])
@pytest.mark.parametrize("bad", ["0.1", None, True, [0.1]])
def test_hyper_parameters_must_be_numbers(call, name, bad):
    with pytest.raises(TypeError, match=f"^[a-z_]+: {name} must be a number, got "):
        call(bad)


def test_numpy_numbers_are_hyper_parameters():
    param = X.copy()
    gt.ops.sgd_update(param, X, learning_rate=np.float32(0.5), device="cpu")
    np.testing.assert_allclose(param, X * 0.5, rtol=1e-6)


@pytest.mark.parametrize("op", [gt.ops.max_pool2d, gt.ops.avg_pool2d])
@pytest.mark.parametrize("argument", ["pool_size", "strides"])
def test_window_arguments_must_be_ints(op, argument):
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(TypeError, match=f"{op.__name__}: {argument} must be an int or a pair of ints, got 'ab'"):
        op(x, **{argument: "ab"}, device="cpu")
    with pytest.raises(TypeError,
                       match=f"{op.__name__}: {argument} must be an int or a pair of ints, got \\(2.0, 2\\)"):
        op(x, **{argument: (2.0, 2)}, device="cpu")


def test_device_beside_tensors_must_be_theirs():
    t = gt.tensor(X, device="cpu")
    np.testing.assert_array_equal(gt.ops.relu(t, device="cpu").numpy(), np.maximum(X, 0))
    with pytest.raises(ValueError, match="device: 'bogus' is not a device name"):
        gt.ops.relu(t, device="bogus")
    with pytest.raises((ValueError, gt.DeviceUnavailableError), match="cuda"):
        gt.ops.relu(t, device="cuda:7")  # unusable here, or (with a GPU) not where the tensors are


def test_device_beside_tensors_on_another_device(device):
    if device == "cpu":
        pytest.skip("needs a GPU beside the CPU")
    t = gt.tensor(X, device=device)
    with pytest.raises(ValueError, match=f"device: 'cpu' was asked for, but the tensors are on {device}"):
        gt.ops.relu(t, device="cpu")


@pytest.mark.parametrize("dtype", ["int64", "uint8", "int32"])
def test_integer_label_tensors_of_any_width(device, rng, dtype):
    logits = rng.standard_normal((5, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=5)
    expected, expected_grad = gt.ops.softmax_cross_entropy(labels, logits, device="cpu")
    loss, grad = gt.ops.softmax_cross_entropy(gt.tensor(labels.astype(dtype), device=device),
                                              gt.tensor(logits, device=device))
    assert grad.device == device
    np.testing.assert_allclose(float(loss.numpy()), expected, rtol=1e-6)
    np.testing.assert_allclose(grad.numpy(), expected_grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match="labels: expected int32, got float32"):
        gt.ops.softmax_cross_entropy(gt.tensor(logits[:, 0], device=device), gt.tensor(logits, device=device))


def test_global_average_pooling_gradient_needs_cells():
    with pytest.raises(ValueError, match=r"x: height and width must be >= 1, got shape \(1, 0, 4, 3\)"):
        gt.ops.global_avg_pool2d_grad(np.zeros((1, 3), np.float32), np.zeros((1, 0, 4, 3), np.float32),
                                      device="cpu")


# ---- every public op: None and strings where arrays, numbers, flags or windows belong -----------------

def _valid_calls():
    """One valid call of every public op (fresh arrays: the in-place ops write theirs)."""
    f = lambda *shape: np.linspace(0.1, 0.9, int(np.prod(shape)), dtype=np.float32).reshape(shape)  # noqa: E731
    x4, mask = f(1, 4, 4, 2), np.ones((2, 3), np.uint8)
    return {
        "add": dict(a=f(2, 3), b=f(2, 3)),
        "matmul": dict(a=f(2, 3), b=f(3, 2), transpose_a=False, transpose_b=False),
        "matmul_grad": dict(dy=f(4, 2, 2), a=f(4, 2, 3), b=f(3, 2), transpose_a=False, transpose_b=False),
        "dense": dict(x=f(2, 3), kernel=f(3, 2), bias=f(2), activation="relu"),
        "dense_grad": dict(dy=f(2, 2), x=f(2, 3), kernel=f(3, 2)),
        "conv2d": dict(x=x4, kernel=f(1, 1, 2, 3), bias=f(3), strides=1, padding="valid", activation="relu"),
        "conv2d_grad": dict(dy=f(1, 4, 4, 3), x=x4, kernel=f(1, 1, 2, 3), strides=1, padding="valid"),
        "depthwise_conv2d": dict(x=x4, kernel=f(3, 3, 2, 2), bias=f(4), strides=1, padding="same",
                                 dilation_rate=2, activation="relu"),
        "depthwise_conv2d_backward_data": dict(dy=f(1, 4, 4, 4), kernel=f(3, 3, 2, 2), input_shape=(1, 4, 4, 2),
                                               strides=1, padding="same", dilation_rate=2),
        "depthwise_conv2d_backward_filter": dict(dy=f(1, 4, 4, 4), x=x4, kernel_size=3, strides=1, padding="same",
                                                 dilation_rate=2),
        "max_pool2d": dict(x=x4, pool_size=2, strides=2, padding="valid", return_argmax=False),
        "max_pool2d_grad": dict(dy=f(1, 2, 2, 2), x=x4, pool_size=2, strides=2, padding="valid",
                                argmax=np.zeros((1, 2, 2, 2), np.int32)),
        "avg_pool2d": dict(x=x4, pool_size=2, strides=2, padding=((1, 0), (0, 1)), count_include_pad=True),
        "avg_pool2d_grad": dict(dy=f(1, 2, 2, 2), x=x4, pool_size=2, strides=2, padding="valid", count_include_pad=True),
        "global_avg_pool2d": dict(x=x4),
        "global_avg_pool2d_grad": dict(dy=f(1, 2), x=x4),
        # Each element-wise activation of the list: the op, and its gradient from x or y.
        **{name: dict(x=f(2, 3)) for name in gt._core.activation_names()},
        **{f"{name}_grad": {"dy": f(2, 3), gt._core.activation_grad_argument(name): f(2, 3)}
           for name in gt._core.activation_names()},
        "softmax": dict(x=f(2, 3)),
        "softmax_grad": dict(dy=f(2, 3), y=f(2, 3)),
        "log_softmax": dict(x=f(2, 3), axis=0),
        "log_softmax_grad": dict(dy=f(2, 3), y=f(2, 3), axis=0),
        "dropout": dict(x=f(2, 3), rate=0.5, seed=1),
        "dropout_grad": dict(dy=f(2, 3), mask=mask, rate=0.5),
        "softmax_cross_entropy": dict(labels=np.array([0, 2]), logits=f(2, 3), class_weight=f(3), ignore_index=2,
                                      reduction="sum"),
        "binary_cross_entropy": dict(target=f(2, 3), output=f(2, 3), from_logits=False),
        "point_loss": dict(name="huber", y_true=f(2, 3), y_pred=f(2, 3), param=0.5),
        "batch_norm": dict(x=f(3, 2), gamma=f(2), beta=f(2), moving_mean=f(2), moving_var=f(2), training=True,
                           momentum=0.9, epsilon=1e-3),
        "batch_norm_grad": dict(dy=f(3, 2), x=f(3, 2), gamma=f(2), mean=f(2), var=f(2), epsilon=1e-3),
        "sgd_update": dict(param=f(2, 3), grad=f(2, 3), velocity=f(2, 3), learning_rate=0.1, momentum=0.9,
                           nesterov=True),
        "adam_update": dict(param=f(2, 3), grad=f(2, 3), m=f(2, 3), v=f(2, 3), step=1, learning_rate=0.1,
                            beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        "rmsprop_update": dict(param=f(2, 3), grad=f(2, 3), velocity=f(2, 3), learning_rate=0.1, rho=0.9,
                               momentum=0.5, epsilon=1e-7, centered=True, momentum_buffer=f(2, 3),
                               average_grad=f(2, 3)),
    }


PUBLIC_OPS = sorted(name for name, value in vars(gt.ops).items()
                    if callable(value) and not name.startswith("_")
                    and getattr(value, "__module__", "") == gt.ops.__name__)
STRING_ARGUMENTS = {"padding", "activation", "reduction", "name"}  # a wrong name is a ValueError from dispatch
NONE_MEANS_DEFAULT = {("batch_norm_grad", "gamma")}  # no default, but None means 1 as in batch_norm


def test_every_public_op_has_a_valid_call():
    assert sorted(_valid_calls()) == PUBLIC_OPS
    for op in PUBLIC_OPS:
        getattr(gt.ops, op)(**_valid_calls()[op], device="cpu")


@pytest.mark.parametrize("op", PUBLIC_OPS)
@pytest.mark.parametrize("bad", [None, "abc"])
def test_every_argument_of_every_op_rejects_none_and_strings(op, bad):
    """Each argument given None (where None means nothing) or a string: a TypeError naming the op and the
    argument, raised before the binding (which would turn None into NaN, or print its signatures)."""
    function = getattr(gt.ops, op)
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()}
    for name in _valid_calls()[op]:
        if bad is None and (defaults[name] is None or (op, name) in NONE_MEANS_DEFAULT):
            continue  # None is this argument's "not given"
        kwargs = dict(_valid_calls()[op], **{name: bad})
        if isinstance(bad, str) and name in STRING_ARGUMENTS:
            with pytest.raises(ValueError, match=f"^{name}: expected .* got 'abc'$"):
                function(**kwargs, device="cpu")
            continue
        with pytest.raises(TypeError, match=f"^{op}: {name} must be .*, got {re.escape(repr(bad))}$"):
            function(**kwargs, device="cpu")


@pytest.mark.parametrize("bad", [2**64, -2**64, 2**63])
def test_windows_beyond_64_bits_are_one_line_errors(bad):
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match=r"^max_pool2d: strides must fit a 64-bit integer, got \("):
        gt.ops.max_pool2d(x, 2, strides=bad, device="cpu")
    with pytest.raises(ValueError, match=r"^conv2d: strides must fit a 64-bit integer"):
        gt.ops.conv2d(x, np.ones((1, 1, 1, 1), np.float32), strides=(1, bad), device="cpu")


def test_integers_beyond_their_binding_type_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^dropout: seed must be in \[0, 18446744073709551615\], got -1$"):
        gt.ops.dropout(X, 0.5, -1, device="cpu")
    with pytest.raises(ValueError, match=r"^dropout: seed must be in .*, got 18446744073709551616$"):
        gt.ops.dropout(X, 0.5, 2**64, device="cpu")
    with pytest.raises(ValueError, match=r"^adam_update: step must be in .*, got 9223372036854775808$"):
        gt.ops.adam_update(X.copy(), X, np.zeros_like(X), np.zeros_like(X), 2**63, device="cpu")
    with pytest.raises(ValueError, match=r"^sgd_update: learning_rate is too large for a float"):
        gt.ops.sgd_update(X.copy(), X, learning_rate=10**400, device="cpu")


def test_python_lists_and_numbers_are_float32_arrays_but_not_text_or_bools():
    np.testing.assert_array_equal(gt.ops.relu([[-1, 2], [3.5, -4]], device="cpu"), [[0, 2], [3.5, 0]])
    assert gt.ops.relu(np.float64(-2.0), device="cpu") == 0.0
    with pytest.raises(TypeError, match=r"^relu: x must be an array or gputrain.Tensor, got True$"):
        gt.ops.relu(True, device="cpu")
    with pytest.raises(TypeError, match=r"^relu: x must be an array or gputrain.Tensor, got a list of <U1"):
        gt.ops.relu(["1", "2"], device="cpu")
    with pytest.raises(TypeError, match=r"^relu: x must be an array or gputrain.Tensor, got a list of object"):
        gt.ops.relu([1.0, None], device="cpu")
    with pytest.raises(ValueError, match=r"^relu: x: the list is not rectangular"):
        gt.ops.relu([[1.0, 2.0], [3.0]], device="cpu")
    with pytest.raises(ValueError, match=r"^relu: x holds values beyond float32's range"):
        gt.ops.relu([1e39], device="cpu")
