"""Arguments every op family shares: hyper-parameters that are not numbers, window arguments that are
not ints, a device= that disagrees with the tensors given, integer label tensors of another width.
Each raises a clear error naming the argument (GUIDE §3) instead of a conversion error from inside."""
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
    with pytest.raises(TypeError, match=f"^{name}: expected a number, got "):
        call(bad)


def test_numpy_numbers_are_hyper_parameters():
    param = X.copy()
    gt.ops.sgd_update(param, X, learning_rate=np.float32(0.5), device="cpu")
    np.testing.assert_allclose(param, X * 0.5, rtol=1e-6)


@pytest.mark.parametrize("op", [gt.ops.max_pool2d, gt.ops.avg_pool2d])
@pytest.mark.parametrize("argument", ["pool_size", "strides"])
def test_window_arguments_must_be_ints(op, argument):
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(TypeError, match=f"{argument}: expected an int or a pair of ints, got 'ab'"):
        op(x, **{argument: "ab"}, device="cpu")
    with pytest.raises(TypeError, match=f"{argument}: expected an int or a pair of ints, got \\(2.0, 2\\)"):
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
