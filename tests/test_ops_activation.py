"""relu, sigmoid, swish, softmax and dropout, forward and backward, on every backend."""
import numpy as np
import pytest

import gputrain
import reference as ref
import reference_training
from cases import normal
from conftest import assert_close

SHAPES = [(1,), (7,), (3, 5), (2, 3, 4, 5), (40000,)]


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_and_grad(device, rng, shape):
    x, dy = normal(rng, shape, 3.0), normal(rng, shape)
    assert_close(gputrain.ops.relu(x, device=device), ref.relu(x))
    assert_close(gputrain.ops.relu_grad(dy, x, device=device), ref.relu_grad(dy, x))


@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_and_grad(device, rng, shape):
    x, dy = normal(rng, shape, 5.0), normal(rng, shape)
    y = gputrain.ops.sigmoid(x, device=device)
    assert_close(y, ref.sigmoid(x))
    # The backward is judged on the y it is given (ours, float32): 1 − y of a float32 y near 1 carries
    # y's rounding (2⁻²⁴) relative to a small number, which is not the backward's error.
    assert_close(gputrain.ops.sigmoid_grad(dy, y, device=device), ref.sigmoid_grad(dy, y))


def test_sigmoid_saturates_without_overflow(device):
    x = np.array([-1000.0, -90.0, 0.0, 90.0, 1000.0], np.float32)
    np.testing.assert_allclose(gputrain.ops.sigmoid(x, device=device), ref.sigmoid(x), rtol=1e-6, atol=1e-38)


@pytest.mark.parametrize("shape", SHAPES)
def test_swish_and_grad(device, rng, shape):
    x, dy = normal(rng, shape, 4.0), normal(rng, shape)
    assert_close(gputrain.ops.swish(x, device=device), ref.swish(x))
    assert_close(gputrain.ops.swish_grad(dy, x, device=device), ref.swish_grad(dy, x))


def test_swish_grad_matches_finite_differences(rng):
    x = rng.standard_normal(50) * 3
    h = 1e-6
    numeric = (ref.swish(x + h) - ref.swish(x - h)) / (2 * h)
    np.testing.assert_allclose(ref.swish_grad(np.ones(50), x), numeric, rtol=1e-6, atol=1e-9)
    got = gputrain.ops.swish_grad(np.ones(50, np.float32), x.astype(np.float32))
    np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-6)


def test_swish_at_the_extremes_as_numpy(device):
    # x·sigmoid(x): -inf·0 is NaN in NumPy and PyTorch alike; NaN stays NaN; no overflow.
    x = np.array([-np.inf, -1000.0, -90.0, 0.0, 90.0, 1000.0, np.inf, np.nan], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        want = x.astype(np.float64) / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(gputrain.ops.swish(x, device=device), want, rtol=1e-6, atol=1e-38)


@pytest.mark.parametrize("layer", ["dense", "conv2d"])
def test_layers_train_with_swish(device, rng, layer):
    # A new activation is usable in a layer at once: fit through the plan (where swish is applied over
    # the kept pre-activation, as its derivative reads it) against the op-by-op reference.
    def make():
        first = (gputrain.layers.Dense(6, activation="swish", input_shape=(5,)) if layer == "dense" else
                 gputrain.layers.Conv2D(3, (2, 1), activation="swish", input_shape=(5, 1, 1)))
        return gputrain.Sequential([first, gputrain.layers.Flatten(), gputrain.layers.Dense(2)])
    gputrain.utils.set_random_seed(5)
    planned, reference = make(), make()
    for model in (planned, reference):
        model.compile(gputrain.optimizers.SGD(0.1), gputrain.losses.SparseCategoricalCrossentropy(from_logits=True),
                      ["accuracy"], device=device)
    reference.set_weights(planned.get_weights())
    x = rng.standard_normal((12, 5) if layer == "dense" else (12, 5, 1, 1)).astype(np.float32)
    y = rng.integers(0, 2, 12)
    history = planned.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    expected = reference_training.fit(reference, x, y, batch_size=4, epochs=2)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    for got, want in zip(planned.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    activation = gputrain.layers.Activation("swish")
    assert activation.activation == "swish"


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 3, 10), (4, 1000), (7, 3333)])
def test_softmax_and_grad(device, rng, shape):
    x, dy = normal(rng, shape, 4.0), normal(rng, shape)
    y = gputrain.ops.softmax(x, device=device)
    assert_close(y, ref.softmax(x))
    assert_close(gputrain.ops.softmax_grad(dy, y, device=device), ref.softmax_grad(dy, y))


def test_softmax_is_shift_invariant_for_large_logits(device):
    x = np.array([[1000.0, 1001.0, 999.0]], np.float32)
    assert_close(gputrain.ops.softmax(x, device=device), ref.softmax(x - 1000.0))


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_dropout_mask_is_the_documented_hash(device, rng, rate):
    x = normal(rng, (3, 7, 11))
    seed = int(rng.integers(0, 2**63))
    y, mask = gputrain.ops.dropout(x, rate, seed, device=device)
    expected = ref.dropout_mask(x.size, rate, seed).reshape(x.shape)
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.uint8
    assert_close(y, np.where(expected == 1, x.astype(np.float64) / (1.0 - rate), 0.0), 1e-6)
    dy = normal(rng, x.shape)
    assert_close(gputrain.ops.dropout_grad(dy, mask, rate, device=device),
                 np.where(expected == 1, dy.astype(np.float64) / (1.0 - rate), 0.0), 1e-6)


def test_dropout_keeps_the_right_fraction_and_depends_on_seed(device):
    x = np.ones(200_000, np.float32)
    _, mask_a = gputrain.ops.dropout(x, 0.3, 1, device=device)
    _, mask_b = gputrain.ops.dropout(x, 0.3, 2, device=device)
    _, mask_a2 = gputrain.ops.dropout(x, 0.3, 1, device=device)
    # 200,000 Bernoulli(0.7) draws: the standard deviation of the kept fraction is 0.001.
    assert abs(mask_a.mean() - 0.7) < 0.006
    np.testing.assert_array_equal(mask_a, mask_a2)
    assert (mask_a != mask_b).mean() > 0.3


def test_dropout_same_mask_on_every_backend(device, rng):
    x = normal(rng, (5, 1001))
    _, mask_here = gputrain.ops.dropout(x, 0.4, 12345, device=device)
    _, mask_cpu = gputrain.ops.dropout(x, 0.4, 12345, device="cpu")
    np.testing.assert_array_equal(mask_here, mask_cpu)


def _tensor_on(t, device):
    """t's values, after checking that it is a gputrain.Tensor on `device` (Tensors in, Tensors out)."""
    assert isinstance(t, gputrain.Tensor), f"expected a gputrain.Tensor, got {type(t).__name__}"
    assert t.device == device, f"result on {t.device}, inputs on {device}"
    return t.numpy()


def test_activations_tensors_in_tensors_out_on_their_device(device, rng):
    x, dy = normal(rng, (3, 4, 5), 3.0), normal(rng, (3, 4, 5))
    tx, tdy = gputrain.tensor(x, device=device), gputrain.tensor(dy, device=device)
    assert_close(_tensor_on(gputrain.ops.relu(tx), device), ref.relu(x))
    assert_close(_tensor_on(gputrain.ops.relu_grad(tdy, tx), device), ref.relu_grad(dy, x))
    y = gputrain.ops.sigmoid(tx)
    assert_close(_tensor_on(y, device), ref.sigmoid(x))
    assert_close(_tensor_on(gputrain.ops.sigmoid_grad(tdy, y), device), ref.sigmoid_grad(dy, y.numpy()))
    s = gputrain.ops.softmax(tx)
    assert_close(_tensor_on(s, device), ref.softmax(x))
    assert_close(_tensor_on(gputrain.ops.softmax_grad(tdy, s), device), ref.softmax_grad(dy, s.numpy()))


def test_dropout_tensors_in_tensors_out_on_their_device(device, rng):
    rate, seed = 0.3, int(rng.integers(0, 2**63))
    x, dy = normal(rng, (4, 9, 5)), normal(rng, (4, 9, 5))
    y, mask = gputrain.ops.dropout(gputrain.tensor(x, device=device), rate, seed)
    expected = ref.dropout_mask(x.size, rate, seed).reshape(x.shape)
    assert mask.dtype == "uint8"
    np.testing.assert_array_equal(_tensor_on(mask, device), expected)
    assert_close(_tensor_on(y, device), np.where(expected == 1, x.astype(np.float64) / (1.0 - rate), 0.0), 1e-6)
    dx = gputrain.ops.dropout_grad(gputrain.tensor(dy, device=device), mask, rate)  # the mask stays where it is
    assert_close(_tensor_on(dx, device), np.where(expected == 1, dy.astype(np.float64) / (1.0 - rate), 0.0), 1e-6)


def test_activation_errors():
    with pytest.raises(ValueError, match=r"dy and x must have the same shape"):
        gputrain.ops.relu_grad(np.zeros(3, np.float32), np.zeros(4, np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"rate: expected a number in \[0, 1\)"):
        gputrain.ops.dropout(np.zeros(3, np.float32), 1.0, 0, device="cpu")
    with pytest.raises(ValueError, match=r"seed"):
        gputrain.ops.dropout(np.zeros(3, np.float32), 0.5, -1, device="cpu")
    with pytest.raises(TypeError, match=r"mask: expected uint8"):
        gputrain.ops.dropout_grad(np.zeros(3, np.float32), np.zeros(3, np.float32), 0.5, device="cpu")
