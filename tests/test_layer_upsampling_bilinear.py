"""UpSampling2D(interpolation="bilinear"): its output against a float64 NumPy reference of TensorFlow's
tf.image.resize "bilinear" (half-pixel centres, no antialiasing, what Keras's layer calls) and against
TensorFlow's output for a 2x2 image written out by hand (PyTorch's with align_corners=False too), NaN and
infinities kept where the taps read them, its gradient (the transpose, gathered) against finite
differences of the graph reference, its arguments, its config and eager calls.

Tolerance: each output is three float32 interpolations of four values (a few roundings, 1e-6 relative);
gputrain computes the sample positions exactly (TensorFlow in float32, ~1e-7 of a cell off), the
reference in float64. Gradients as tests/test_functional_gradients.py argues (1e-4
of the norm)."""
import numpy as np
import pytest

import graph_reference
from graph_reference import bilinear_weights as weights  # TensorFlow's rule, one matrix per axis
import gputrain as gt
from gputrain import layers

TOL = 1e-4


def _bilinear(x, size):
    n, h, w, c = x.shape
    return np.einsum("oi,pj,nijc->nopc", weights(h * size[0], h), weights(w * size[1], w), x.astype(np.float64))


def _model(input_shape, size, device):
    model = gt.Sequential([gt.Input(input_shape), layers.UpSampling2D(size, interpolation="bilinear")])
    model.build(device=device)
    return model


def test_bilinear_upsampling_matches_tensorflow_on_a_known_image(device):
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
    want = [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]]
    np.testing.assert_allclose(_model((2, 2, 1), 2, device).predict(x)[0, :, :, 0], want, rtol=1e-6)


@pytest.mark.parametrize("input_shape,size", [((5, 7, 3), (2, 3)), ((1, 4, 2), (3, 1)), ((6, 1, 5), (1, 4)),
                                              ((3, 3, 1), (5, 5)), ((4, 5, 2), (1, 1))])
def test_bilinear_upsampling_predicts_as_numpy(device, rng, input_shape, size):
    model = _model(input_shape, size, device)
    x = rng.standard_normal((3,) + input_shape).astype(np.float32)
    got = model.predict(x)
    assert got.shape == (3, input_shape[0] * size[0], input_shape[1] * size[1], input_shape[2])
    np.testing.assert_allclose(got, _bilinear(x, size), rtol=1e-5, atol=1e-6)


def test_bilinear_upsampling_keeps_nan_and_infinities_where_they_are_read(device, rng):
    size = (3, 2)
    x = rng.standard_normal((1, 6, 5, 2)).astype(np.float32)
    x[0, 1, 1, 0], x[0, 4, 3, 0], x[0, 4, 3, 1] = np.nan, np.inf, -np.inf
    reads = np.einsum("oi,pj->opij", weights(18, 6) != 0, weights(10, 5) != 0)  # does output (o, p) read (i, j)
    got = _model((6, 5, 2), size, device).predict(x)[0]
    nan_at, inf_at = reads[:, :, 1, 1], reads[:, :, 4, 3]
    assert not (nan_at & inf_at).any()
    np.testing.assert_array_equal(np.isnan(got[:, :, 0]), nan_at)
    assert (got[:, :, 0][inf_at] == np.inf).all() and (got[:, :, 1][inf_at] == -np.inf).all()
    finite = x.copy()
    finite[~np.isfinite(finite)] = 0.0
    want = _bilinear(finite, size)[0]
    clean = ~(nan_at | inf_at)
    np.testing.assert_allclose(got[:, :, 0][clean], want[:, :, 0][clean], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[:, :, 1][~inf_at], want[:, :, 1][~inf_at], rtol=1e-5, atol=1e-6)


def test_bilinear_upsampling_gradients_equal_finite_differences(device):
    gt.utils.set_random_seed(17)
    inp = gt.Input((3, 4, 2))
    a = layers.Conv2D(3, 2, padding="same")(inp)
    b = layers.UpSampling2D((2, 3), interpolation="bilinear")(a)  # 6x12
    b = layers.Conv2D(2, 3, strides=2, padding="same")(b)          # 3x6
    c = layers.UpSampling2D((3, 1), interpolation="bilinear")(b)  # 9x6: edge rows read one input row alone
    out = layers.Dense(3, activation="softmax")(layers.Flatten()(c))
    model = gt.Model(inp, out)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 2)
    graph_reference.check_plan_gradients(model, x, labels, device, TOL)


def test_upsampling_interpolation_argument_and_config():
    layer = layers.UpSampling2D((2, 3), interpolation="Bilinear", name="up")
    assert layer.interpolation == "bilinear"
    assert layer.get_config() == {"name": "up", "size": [2, 3], "interpolation": "bilinear"}
    assert layers.from_config("UpSampling2D", layer.get_config()).get_config() == layer.get_config()
    for bad in ("bicubic", "area", "linear"):
        with pytest.raises(ValueError, match="interpolation"):
            layers.UpSampling2D(2, interpolation=bad)
    with pytest.raises(TypeError, match="interpolation"):
        layers.UpSampling2D(2, interpolation=None)
    with pytest.raises(ValueError, match="size"):
        layers.UpSampling2D((0, 2), interpolation="bilinear")
    model = gt.Sequential([gt.Input((5, 7, 3)), layer])
    model.build(device="cpu")
    lines = []
    model.summary(print_fn=lines.append)
    row = next(line for line in lines if line.startswith("up "))
    assert "(None, 10, 21, 3)" in row and row.split()[-1] == "0"


def test_bilinear_upsampling_called_eagerly(device, rng):
    layer = layers.UpSampling2D(2, interpolation="bilinear")
    layer.build((3, 4, 2), device)
    x = rng.standard_normal((2, 3, 4, 2)).astype(np.float32)
    got = layer(gt.tensor(x, device=device))
    np.testing.assert_allclose(got.numpy(), _bilinear(x, (2, 2)), rtol=1e-5, atol=1e-6)
