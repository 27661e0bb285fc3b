"""relu, sigmoid, swish, Keras's relu6, elu, selu, gelu, tanh, softplus, softsign, hard_sigmoid and
leaky_relu, softmax and dropout, forward and backward, on every backend."""
import numpy as np
import pytest

import gputrain
from gputrain import _core
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


# Keras's activations added after swish: what each derivative reads (as the list in
# cpp/core/activations.h declares it: "x", "y" or "either"), the scale of the random inputs, and the
# points where the function has a kink, which finite differences keep away from.
KERAS = {
    "relu6": ("either", 4.0, (0.0, 6.0)),
    "elu": ("y", 3.0, (0.0,)),
    "selu": ("x", 3.0, (0.0,)),
    "gelu": ("x", 3.0, ()),
    "tanh": ("y", 3.0, ()),
    "softplus": ("x", 5.0, ()),
    "softsign": ("x", 3.0, ()),
    "hard_sigmoid": ("y", 4.0, (-3.0, 3.0)),
    "leaky_relu": ("either", 3.0, (0.0,)),
}
EXTREMES = np.array([-np.inf, -1000.0, -90.0, -6.0, -3.0, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0, 3.0, 6.0,
                     90.0, 1000.0, np.inf, np.nan], np.float32)


def _grad_input(name, x, device):
    """What <name>_grad is given besides dy: our float32 output where the derivative reads it (judged on
    the y it is given, as sigmoid's), else the input."""
    return getattr(gputrain.ops, name)(x, device=device) if KERAS[name][0] == "y" else x


def test_each_keras_activation_is_listed_reading_what_it_should():
    names = _core.activation_names()
    for name, (reads, _, _) in KERAS.items():
        assert name in names, name
        # EITHER is bound as "x", the historical name (relu's).
        assert _core.activation_grad_argument(name) == ("y" if reads == "y" else "x"), name


@pytest.mark.parametrize("name", KERAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_keras_activation_and_grad(device, rng, name, shape):
    x, dy = normal(rng, shape, KERAS[name][1]), normal(rng, shape)
    op, grad = getattr(gputrain.ops, name), getattr(gputrain.ops, f"{name}_grad")
    assert_close(op(x, device=device), getattr(ref, name)(x))
    t = _grad_input(name, x, device)
    assert_close(grad(dy, t, device=device), getattr(ref, f"{name}_grad")(dy, t))


@pytest.mark.parametrize("name", KERAS)
def test_keras_activation_grad_matches_finite_differences(device, rng, name):
    reads, scale, kinks = KERAS[name]
    x = rng.standard_normal(60) * scale
    for kink in kinks:  # a central difference across a kink measures neither side
        x[np.abs(x - kink) < 1e-3] += 1e-2
    forward, backward = getattr(ref, name), getattr(ref, f"{name}_grad")
    h = 1e-6
    numeric = (forward(x + h) - forward(x - h)) / (2 * h)
    np.testing.assert_allclose(backward(np.ones(60), forward(x) if reads == "y" else x), numeric,
                               rtol=1e-6, atol=1e-9)
    x32 = x.astype(np.float32)
    got = getattr(gputrain.ops, f"{name}_grad")(np.ones(60, np.float32), _grad_input(name, x32, device),
                                                 device=device)
    np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", KERAS)
def test_keras_activation_at_the_extremes_as_numpy(device, name):
    # ±inf, NaN, ±1000 and values that underflow: the float64 formula's value, NaN where it gives NaN
    # (gelu(-inf) = -inf·0, softsign(±inf) = inf/inf), never an overflow; gradients likewise, a NaN
    # input passing dy on where a comparison picks the derivative. rtol 1e-5 per element: gelu's tail is
    # ill-conditioned (rounding x/√2 to float32 costs about x²·2⁻²⁴ relative: 2e-6 at x = -6).
    x, dy = EXTREMES, np.ones(EXTREMES.size, np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        want = getattr(ref, name)(x)
        y = getattr(gputrain.ops, name)(x, device=device)
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-38)
        t = y if KERAS[name][0] == "y" else x
        want_grad = getattr(ref, f"{name}_grad")(dy, t)
    np.testing.assert_allclose(getattr(gputrain.ops, f"{name}_grad")(dy, t, device=device), want_grad,
                               rtol=1e-5, atol=1e-38)


def test_keras_constants_to_float32_precision(device):
    # The tests above allow 1e-5; a constant mistyped in its 6th digit would pass them, not this.
    ops, f32 = gputrain.ops, np.float32
    one = np.ones(1, f32)
    assert ops.selu(one, device=device)[0] == f32(ref.SELU_SCALE)
    np.testing.assert_allclose(ops.selu(f32([-np.inf]), device=device), [-ref.SELU_SCALE * ref.SELU_ALPHA],
                               rtol=1.2e-7)
    assert ops.leaky_relu(-one, device=device)[0] == f32(-ref.LEAKY_RELU_SLOPE)
    assert ops.leaky_relu_grad(one, -one, device=device)[0] == f32(ref.LEAKY_RELU_SLOPE)
    np.testing.assert_array_equal(ops.hard_sigmoid(f32([-3, 0, 3]), device=device), [0, 0.5, 1])
    assert ops.hard_sigmoid_grad(one, one / 2, device=device)[0] == f32(1 / 6)
    x = f32([-2, -1, 1, 2])  # erfcf is within a few ulp on every backend (CUDA's within 4)
    np.testing.assert_allclose(ops.gelu(x, device=device), ref.gelu(x), rtol=1e-6)
    np.testing.assert_allclose(ops.gelu_grad(np.ones(4, f32), x, device=device), ref.gelu_grad(1, x), rtol=1e-6)


@pytest.mark.parametrize("name", [name for name, spec in KERAS.items() if spec[0] == "either"])
def test_either_grad_is_the_same_from_input_or_output(device, rng, name):
    # A layer fuses such an activation and hands its backward the output; gt.ops hands it the input.
    # Both must give the same gradient to the bit, at the bounds, for tiny negatives that the forward
    # rounds to -0, and for the specials.
    tiny = np.array([-1e-45, -1e-40, -1e-38, 6.0 - 2**-21, 6.0 + 2**-21, 2**-149], np.float32)
    x = np.concatenate([EXTREMES, tiny, normal(rng, (500,), 4.0)])
    dy = normal(rng, x.shape)
    y = getattr(gputrain.ops, name)(x, device=device)
    grad = getattr(gputrain.ops, f"{name}_grad")
    np.testing.assert_array_equal(grad(dy, y, device=device), grad(dy, x, device=device))


def test_silu_is_the_keras_name_of_swish():
    assert gputrain.layers.Dense(3, activation="silu").activation == "swish"
    assert gputrain.layers.Activation("silu").get_config()["activation"] == "swish"


@pytest.mark.parametrize("activation", ["swish", *KERAS])
@pytest.mark.parametrize("layer", ["dense", "conv2d", "activation"])
def test_layers_train_with_each_activation(device, rng, layer, activation):
    # A new activation is usable in a layer at once: fit through the plan (fused into the kernel's store
    # where the derivative reads the output, applied over the kept pre-activation where it reads the
    # input, or an Activation layer's own node) against the op-by-op reference.
    def make():
        if layer == "dense":
            first = [gputrain.layers.Dense(6, activation=activation, input_shape=(5,))]
        elif layer == "conv2d":
            first = [gputrain.layers.Conv2D(3, (2, 1), activation=activation, input_shape=(5, 1, 1))]
        else:
            first = [gputrain.layers.Dense(6, input_shape=(5,)), gputrain.layers.Activation(activation)]
        return gputrain.Sequential([*first, gputrain.layers.Flatten(), gputrain.layers.Dense(2)])
    gputrain.utils.set_random_seed(5)
    planned, reference = make(), make()
    for model in (planned, reference):
        model.compile(gputrain.optimizers.SGD(0.1), gputrain.losses.SparseCategoricalCrossentropy(from_logits=True),
                      ["accuracy"], device=device)
    reference.set_weights(planned.get_weights())
    x = rng.standard_normal((12, 5, 1, 1) if layer == "conv2d" else (12, 5)).astype(np.float32)
    y = rng.integers(0, 2, 12)
    history = planned.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    expected = reference_training.fit(reference, x, y, batch_size=4, epochs=2)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    for got, want in zip(planned.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert planned.layers[1 if layer == "activation" else 0].activation == activation


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
