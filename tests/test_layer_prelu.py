"""The PReLU layer: its output against float64 NumPy for every kind of shared axes (NaN and infinities
included), alpha's and the input's gradients against finite differences of the graph reference
(graph_reference.py), alpha trained, frozen, saved and loaded, Keras's weight shapes and parameter
counts, its arguments, its config and eager calls.

Tolerance: one comparison and one float32 product per element forward (exact up to rounding, 1e-6);
the gradients as tests/test_functional_gradients.py argues (1e-4 of the norm)."""
import numpy as np
import pytest

import graph_reference
import gputrain as gt
from gputrain import layers

TOL = 1e-4
SHARED = [None, [1, 2], [2], [3], [1, 3], [1, 2, 3]]


def _prelu(x, alpha):
    return np.where(x > 0, x, alpha * x)


def _built(layer, input_shape, device, rng):
    model = gt.Sequential([gt.Input(input_shape), layer])
    model.build(device=device)
    alpha = rng.uniform(-1.5, 1.5, layer.params["alpha"].shape).astype(np.float32)  # not the zeros it starts from
    model.set_weights([alpha])
    return model, alpha


@pytest.mark.parametrize("shared_axes", SHARED)
def test_prelu_predicts_as_numpy(device, rng, shared_axes):
    model, alpha = _built(layers.PReLU(shared_axes=shared_axes), (5, 7, 3), device, rng)
    x = rng.standard_normal((4, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), _prelu(x.astype(np.float64), alpha), rtol=1e-6)


@pytest.mark.parametrize("input_shape,shared_axes", [((6,), None), ((6,), 1), ((3, 4), [1]), ((3, 4), 2),
                                                     ((2, 3, 4, 5), [2, 4])])
def test_prelu_on_other_ranks(device, rng, input_shape, shared_axes):
    model, alpha = _built(layers.PReLU(shared_axes=shared_axes), input_shape, device, rng)
    x = rng.standard_normal((3,) + input_shape).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), _prelu(x.astype(np.float64), alpha), rtol=1e-6)


def test_prelu_keeps_nan_and_infinities(device, rng):
    model, alpha = _built(layers.PReLU(shared_axes=[1, 2]), (2, 3, 4), device, rng)
    x = rng.standard_normal((2, 2, 3, 4)).astype(np.float32)
    x[0, 0, 0, :] = np.nan
    x[1, 1, 2, 0], x[1, 1, 2, 1] = np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        want = _prelu(x.astype(np.float64), alpha)
    got = model.predict(x)
    assert np.isnan(got[0, 0, 0]).all() and got[1, 1, 2, 0] == np.inf
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _gradient_model():
    inp = gt.Input((4, 5, 2))
    a = layers.Conv2D(3, 3, padding="same", bias_initializer="ones")(inp)
    # Per element, per channel (shared over the image), and shared over the middle axis only (a walk
    # that is not the input's own order).
    b = layers.PReLU()(a)
    c = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(3, 2, padding="same")(b))
    d = layers.PReLU(shared_axes=2)(c)
    e = layers.PReLU(shared_axes=[1, 2, 3])(d)  # one alpha for all
    out = layers.Dense(4, activation="softmax")(layers.Flatten()(e))
    return gt.Model(inp, out)


def test_prelu_gradients_equal_finite_differences(device):
    gt.utils.set_random_seed(11)
    model = _gradient_model()
    model.build(device=device)
    rng = np.random.default_rng(2)
    for layer in model.layers:  # alphas of both signs and sizes, not zeros
        if isinstance(layer, layers.PReLU):
            layer.params["alpha"] = gt.tensor(rng.uniform(-1, 1.5, layer.params["alpha"].shape).astype(np.float32),
                                              device=device)
    x = rng.standard_normal((3, 4, 5, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 3)
    want = graph_reference.check_plan_gradients(model, x, labels, device, TOL)
    assert all(np.linalg.norm(g) > 0 for g in want.values())  # every gradient checked is one that moves


def test_prelu_alpha_trains_saves_and_freezes(tmp_path, device, rng):
    layer = layers.PReLU(shared_axes=[1, 2])
    model = gt.Sequential([gt.Input((4, 4, 3)), layers.Conv2D(3, 3, padding="same"), layer, layers.Flatten(),
                           layers.Dense(3)])
    model.compile(gt.optimizers.SGD(0.5), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x, y = rng.standard_normal((8, 4, 4, 3)).astype(np.float32), rng.integers(0, 3, 8)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    alpha = layer.params["alpha"].numpy()
    assert alpha.shape == (1, 1, 3) and np.abs(alpha).min() > 0  # moved off its zeros
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=device)
    assert type(loaded.layers[1]) is layers.PReLU and loaded.layers[1].get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.layers[1].params["alpha"].numpy(), alpha)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    layer.trainable = False
    model.compile(gt.optimizers.SGD(0.5), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(layer.params["alpha"].numpy(), alpha)


@pytest.mark.parametrize("input_shape,shared_axes,alpha_shape", [
    ((32, 32, 16), None, (32, 32, 16)), ((32, 32, 16), [1, 2], (1, 1, 16)), ((10,), None, (10,)),
    ((8, 6), 1, (1, 6)), ((32, 32, 16), (1, 2, 3), (1, 1, 1))])
def test_prelu_weights_as_keras(input_shape, shared_axes, alpha_shape):
    layer = layers.PReLU(shared_axes=shared_axes)
    model = gt.Sequential([gt.Input(input_shape), layer])
    model.build(device="cpu")
    assert list(layer.params) == ["alpha"] and layer.trainable_names == ("alpha",)
    assert layer.params["alpha"].shape == alpha_shape and not layer.params["alpha"].numpy().any()
    assert model.output_shape == input_shape and model.count_params() == int(np.prod(alpha_shape))
    lines = []
    model.summary(print_fn=lines.append)
    row = next(line for line in lines if line.startswith(layer.name))
    assert "(PReLU)" in row and row.split()[-1] == str(int(np.prod(alpha_shape)))


def test_prelu_arguments_and_config():
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=[0])
    with pytest.raises(TypeError, match="shared_axes"):
        layers.PReLU(shared_axes=[1.0])
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=[1, 1])
    with pytest.raises(ValueError, match="shared_axes"):
        gt.Sequential([gt.Input((4, 4)), layers.PReLU(shared_axes=3)]).build(device="cpu")
    with pytest.raises(ValueError, match="initializer"):
        layers.PReLU(alpha_initializer="random")
    layer = layers.PReLU(alpha_initializer="ones", shared_axes=2, name="p")
    assert layer.get_config() == {"name": "p", "shared_axes": [2]}
    assert layers.from_config("PReLU", layer.get_config()).get_config() == layer.get_config()
    assert layers.PReLU().get_config()["shared_axes"] is None


def test_prelu_called_eagerly(device, rng):
    layer = layers.PReLU(alpha_initializer="ones", shared_axes=[1])
    layer.build((3, 4), device)
    layer.params["alpha"] = gt.tensor(np.array([[0.5, -2.0, 0.0, 3.0]], np.float32), device=device)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    got = layer(gt.tensor(x, device=device))
    assert isinstance(got, gt.Tensor) and got.device.startswith(device.split(":")[0])
    np.testing.assert_allclose(got.numpy(), _prelu(x.astype(np.float64), layer.params["alpha"].numpy()), rtol=1e-6)
