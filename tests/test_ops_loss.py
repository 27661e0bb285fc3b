"""softmax_cross_entropy and binary_cross_entropy: loss and gradient on every backend."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import normal
from conftest import assert_close


@pytest.mark.parametrize("rows,classes", [(1, 1), (1, 10), (32, 10), (7, 365), (300, 3), (2, 5000)])
def test_softmax_cross_entropy(device, rng, rows, classes):
    logits = normal(rng, (rows, classes), 3.0)
    labels = rng.integers(0, classes, size=rows)
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, device=device)
    ref_loss, ref_grad = ref.softmax_cross_entropy(labels, logits)
    # One class: the loss is exactly 0, so the bound is absolute there.
    assert abs(float(loss) - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    if classes > 1:
        assert_close(grad, ref_grad)
    else:
        assert not grad.any()


def test_softmax_cross_entropy_accepts_int64_labels_and_checks_their_range(device):
    logits = np.zeros((2, 3), np.float32)
    loss, _ = gputrain.ops.softmax_cross_entropy(np.array([0, 2], np.int64), logits, device=device)
    assert abs(float(loss) - np.log(3.0)) < 1e-6
    with pytest.raises(ValueError, match=r"label 3 at index 1 is outside \[0, 3\)"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 3]), logits, device=device)
    with pytest.raises(ValueError, match=r"labels: expected shape \(2,\)"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 1, 2]), logits, device=device)
    with pytest.raises(TypeError, match=r"softmax_cross_entropy: labels must be integer class indices, got dtype float64"):
        gputrain.ops.softmax_cross_entropy(np.array([0.0, 1.0]), logits, device=device)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(1,), (32, 1), (5, 7), (50000,)])
def test_binary_cross_entropy(device, rng, from_logits, shape):
    target = rng.random(shape).astype(np.float32)
    if from_logits:
        output = normal(rng, shape, 4.0)
    else:
        output = rng.uniform(0.0, 1.0, shape).astype(np.float32)
        output.flat[0] = 0.0  # clipped by Keras: finite loss, zero gradient
    loss, grad = gputrain.ops.binary_cross_entropy(target, output, from_logits=from_logits, device=device)
    ref_loss, ref_grad = ref.binary_cross_entropy(target, output, from_logits)
    assert abs(float(loss) - ref_loss) <= 1e-5 * abs(ref_loss)
    assert_close(grad, ref_grad)


def test_losses_return_tensors_for_tensors(device, rng):
    logits = gputrain.tensor(normal(rng, (4, 3)), device=device)
    labels = gputrain.tensor(np.array([0, 1, 2, 1], np.int32), device=device)
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits)
    assert isinstance(loss, gputrain.Tensor) and loss.shape == () and grad.shape == (4, 3)
    ref_loss, _ = ref.softmax_cross_entropy(labels.numpy(), logits.numpy())
    assert abs(float(loss.numpy()) - ref_loss) < 1e-5 * abs(ref_loss)


def test_binary_cross_entropy_shape_mismatch_names_both():
    with pytest.raises(ValueError, match=r"target \(3,\) and logits \(4,\)"):
        gputrain.ops.binary_cross_entropy(np.zeros(3, np.float32), np.zeros(4, np.float32), True, device="cpu")


def test_binary_cross_entropy_near_the_clip_bound_is_keras_3(device):
    # Keras 3 clips p to [1e-7, 1 − 1e-7] and takes log(p) itself; Keras 2 added 1e-7 inside the log
    # (−log(3e-7) = 15.02 here instead of −log(2e-7) = 15.42).
    p = np.array([2e-7], np.float32)
    loss, grad = gputrain.ops.binary_cross_entropy(np.ones(1, np.float32), p, device=device)
    expected = -np.log(np.float64(p[0]))
    assert abs(float(loss) - expected) < 1e-5 * expected
    assert abs(float(grad[0]) + 1.0 / np.float64(p[0])) < 1e-5 / np.float64(p[0])
