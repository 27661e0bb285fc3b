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


# ---- softmax_cross_entropy's class weights, ignore_index and reduction (PyTorch's cross_entropy) ----

def _labels_with_ignored(rng, rows, classes, ignore_index):
    labels = rng.integers(0, classes, size=rows)
    labels[rng.random(rows) < 0.3] = ignore_index
    return labels


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("rows,classes", [(1, 3), (33, 10), (7, 365), (5, 2000)])
def test_softmax_cross_entropy_options(device, rng, reduction, weighted, ignore_index, rows, classes):
    logits = normal(rng, (rows, classes), 3.0)
    labels = (rng.integers(0, classes, size=rows) if ignore_index is None
               else _labels_with_ignored(rng, rows, classes, ignore_index))
    class_weight = rng.uniform(0.2, 3.0, classes).astype(np.float32) if weighted else None
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, device=device, class_weight=class_weight,
                                                    ignore_index=ignore_index, reduction=reduction)
    ref_loss, ref_grad = ref.softmax_cross_entropy(labels, logits, class_weight, ignore_index, reduction)
    if reduction == "none":
        assert loss.shape == (rows,)
        assert_close(loss, ref_loss) if np.any(ref_loss) else np.testing.assert_array_equal(loss, 0.0)
    elif np.isnan(ref_loss):  # every row ignored: the mean of nothing
        assert np.isnan(loss) and not grad.any()
        return
    else:
        assert np.shape(loss) == ()
        assert abs(float(loss) - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    assert_close(grad, ref_grad) if np.any(ref_grad) else np.testing.assert_array_equal(grad, 0.0)


def test_softmax_cross_entropy_options_by_hand(device):
    """Worked by hand, as PyTorch's F.cross_entropy(logits, labels, weight=w, ignore_index=-1) gives it:
    rows 0 and 2 count with weights 2 and 0.5; row 1 (label -1) counts for nothing."""
    logits = np.array([[0.0, 0.0], [5.0, -5.0], [0.0, np.log(3.0)]], np.float32)
    labels = np.array([1, -1, 0])
    w = np.array([0.5, 2.0], np.float32)
    l0, l2 = np.log(2.0), np.log(4.0)  # -log(1/2), -log(1/4)
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1, device=device)
    np.testing.assert_allclose(float(loss), (2.0 * l0 + 0.5 * l2) / 2.5, rtol=1e-6)
    np.testing.assert_allclose(grad, [[1.0 / 2.5, -1.0 / 2.5], [0.0, 0.0], [0.5 * -0.75 / 2.5, 0.5 * 0.75 / 2.5]],
                               rtol=1e-6, atol=1e-7)
    loss, _ = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1, reduction="sum",
                                                 device=device)
    np.testing.assert_allclose(float(loss), 2.0 * l0 + 0.5 * l2, rtol=1e-6)
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1,
                                                    reduction="none", device=device)
    np.testing.assert_allclose(loss, [2.0 * l0, 0.0, 0.5 * l2], rtol=1e-6)
    np.testing.assert_allclose(grad[0], [1.0, -1.0], rtol=1e-6)


def test_softmax_cross_entropy_defaults_are_unchanged(device, rng):
    """No weights, no ignored label, the mean: the plain mean over the batch, and -100 (PyTorch's default
    ignore_index) is still an out-of-range label unless asked for."""
    logits, labels = normal(rng, (6, 4)), rng.integers(0, 4, size=6)
    plain = gputrain.ops.softmax_cross_entropy(labels, logits, device=device)
    explicit = gputrain.ops.softmax_cross_entropy(labels, logits, device=device, class_weight=np.ones(4, np.float32),
                                                  ignore_index=None, reduction="mean")
    assert abs(float(plain[0]) - float(explicit[0])) <= 1e-6 * abs(float(plain[0]))
    assert_close(plain[1], explicit[1])
    with pytest.raises(ValueError, match=r"label -100 at index 0 is outside \[0, 4\) for logits \(6, 4\)$"):
        gputrain.ops.softmax_cross_entropy(np.full(6, -100), logits, device=device)


def test_softmax_cross_entropy_option_errors(device):
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"label 3 at index 1 is outside \[0, 3\) for logits \(2, 3\) and is not "
                                         r"ignore_index -1$"):
        gputrain.ops.softmax_cross_entropy(np.array([-1, 3]), logits, ignore_index=-1, device=device)
    with pytest.raises(ValueError, match=r"^class_weight: .*\(3,\)"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 1]), logits, class_weight=np.ones(2, np.float32),
                                           device=device)
    with pytest.raises(ValueError, match=r"^reduction: expected 'mean', 'sum' or 'none', got 'avg'$"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 1]), logits, reduction="avg", device=device)
    with pytest.raises(TypeError, match=r"^softmax_cross_entropy: ignore_index must be an int, got 1.5$"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 1]), logits, ignore_index=1.5, device=device)
    with pytest.raises(TypeError, match=r"^softmax_cross_entropy: reduction must be 'mean', 'sum' or 'none', got 1$"):
        gputrain.ops.softmax_cross_entropy(np.array([0, 1]), logits, reduction=1, device=device)


def test_softmax_cross_entropy_options_with_specials(device, rng):
    """A NaN weight or logit makes its row's loss NaN (and the mean or sum); an ignored row's NaN logits
    count for nothing."""
    logits = normal(rng, (4, 5), 2.0)
    labels = np.array([0, 1, -1, 3])
    w = rng.uniform(0.5, 2.0, 5).astype(np.float32)
    logits[2, :] = np.nan  # ignored
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1, device=device)
    assert np.isfinite(loss) and np.isfinite(grad).all() and not grad[2].any()
    w[3] = np.nan
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1,
                                                    reduction="none", device=device)
    assert np.isnan(loss[3]) and np.isfinite(loss[[0, 1, 2]]).all() and np.isnan(grad[3]).all()
    loss, grad = gputrain.ops.softmax_cross_entropy(labels, logits, class_weight=w, ignore_index=-1, device=device)
    assert np.isnan(loss) and np.isnan(grad[0]).all()  # the mean's divisor is NaN


def test_softmax_cross_entropy_sum_and_none_of_empty_batches(device):
    empty_labels, empty = np.zeros(0, np.int32), np.zeros((0, 3), np.float32)
    loss, grad = gputrain.ops.softmax_cross_entropy(empty_labels, empty, reduction="sum", device=device)
    assert float(loss) == 0.0 and grad.shape == (0, 3)
    loss, grad = gputrain.ops.softmax_cross_entropy(empty_labels, empty, reduction="none", device=device)
    assert loss.shape == (0,) and grad.shape == (0, 3)


def test_softmax_cross_entropy_options_take_tensors(device, rng):
    logits, labels = normal(rng, (5, 4)), np.array([0, 3, 7, 1, 7])
    w = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    loss, grad = gputrain.ops.softmax_cross_entropy(gputrain.tensor(labels.astype(np.int32), device=device),
                                                    gputrain.tensor(logits, device=device),
                                                    class_weight=gputrain.tensor(w, device=device), ignore_index=7,
                                                    reduction="none")
    assert isinstance(loss, gputrain.Tensor) and loss.shape == (5,) and grad.device == device
    ref_loss, ref_grad = ref.softmax_cross_entropy(labels, logits, w, 7, "none")
    assert_close(loss.numpy(), ref_loss)
    assert_close(grad.numpy(), ref_grad)
