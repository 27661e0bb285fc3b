"""Conv2D with groups (Keras's grouped convolution) as a layer: its gradients in a compiled functional model
against the float64 finite differences of graph_reference.py, training as the op-by-op reference trains it
(tests/reference_training.py), inference against NumPy, Keras's kernel shape and parameter count (summary
included), its arguments as Keras checks them, its config (groups only when not 1, so the architecture keys
of plain models stay) and a save/load round trip."""
import numpy as np
import pytest

import graph_reference
import gputrain as gt
import reference as ref
import reference_training
from gputrain import layers, saving


def _grouped_model():
    inp = gt.Input((7, 6, 4))
    a = layers.Conv2D(6, 3, padding="same", groups=2, activation="tanh")(inp)          # 2 groups of 2 -> 3
    b = layers.Conv2D(6, (2, 3), strides=(2, 1), groups=3, use_bias=False)(a)          # strided, 2 -> 2 a group
    c = layers.Conv2D(6, 3, padding="same", dilation_rate=2, groups=6, activation="swish")(b)  # one channel a group
    d = layers.Conv2D(4, 1, groups=2)(c)                                               # pointwise, 3 -> 2 a group
    out = layers.Dense(3, activation="softmax")(layers.Flatten()(d))
    return gt.Model(inp, out)


def test_grouped_conv2d_gradients_equal_finite_differences(device):
    gt.utils.set_random_seed(11)
    model = _grouped_model()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 6, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 2)
    graph_reference.check_plan_gradients(model, x, labels, device)


def _model(first, input_shape=(9, 8, 6)):
    return gt.Sequential([layers.Input(input_shape), first, layers.Flatten(), layers.Dense(3)])


MODELS = {
    "relu_same_groups_3": lambda: layers.Conv2D(9, 3, padding="same", groups=3, activation="relu"),
    "swish_strided_groups_2": lambda: layers.Conv2D(4, (2, 3), strides=2, groups=2, activation="swish",
                                                    use_bias=False),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_grouped_conv2d_layer_trains_as_the_op_by_op_reference(device, rng, case):
    x = rng.standard_normal((10, 9, 8, 6)).astype(np.float32)
    reference_training.check_trains_as_reference(lambda: _model(MODELS[case]()), x, rng.integers(0, 3, 10), device)


def test_grouped_conv2d_layer_predicts_as_numpy(device, rng):
    model = gt.Sequential([layers.Input((9, 8, 6)), layers.Conv2D(4, (3, 2), padding="same", groups=2)])
    model.build(device=device)
    kernel = model.get_weights()[0]
    assert kernel.shape == (3, 2, 3, 4)
    bias = rng.standard_normal(4).astype(np.float32)
    model.set_weights([kernel, bias])
    x = rng.standard_normal((3, 9, 8, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), ref.conv2d(x, kernel, bias, (1, 1), "same", (1, 1), 2),
                               rtol=1e-5, atol=1e-5)


def test_grouped_conv2d_layer_shapes_and_parameters_as_keras():
    layer = layers.Conv2D(8, 3, groups=4, name="g")
    model = gt.Sequential([layers.Input((10, 10, 12)), layer])
    model.build(device="cpu")
    assert model.output_shape == (8, 8, 8)
    # Keras: kernel (3, 3, 12/4, 8) and bias (8,).
    assert tuple(layer.params["kernel"].shape) == (3, 3, 3, 8)
    assert model.count_params() == 3 * 3 * 3 * 8 + 8
    lines = []
    model.summary(print_fn=lines.append)
    assert any(line.startswith("g (Conv2D)") and line.rstrip().endswith(" 224") for line in lines), lines
    assert any("Total params: 224" in line for line in lines), lines


def test_grouped_conv2d_layer_arguments():
    # Keras 3's order: filters, kernel_size, strides, padding, (data_format,) dilation_rate, groups, activation.
    assert layers.Conv2D(4, 3, 1, "same", 1, 2).groups == 2
    assert layers.Conv2D(4, 3).groups == 1
    with pytest.raises(ValueError, match=r"groups: expected an integer >= 1, got 0"):
        layers.Conv2D(4, 3, groups=0)
    with pytest.raises(TypeError, match=r"groups"):
        layers.Conv2D(4, 3, groups=2.0)
    with pytest.raises(ValueError, match=r"groups: the number of filters must be divisible by the number of "
                                         r"groups, got groups=3 and filters=4"):
        layers.Conv2D(4, 3, groups=3)
    with pytest.raises(ValueError, match=r"groups: the number of input channels must be divisible by the number of "
                                         r"groups, got groups=2 and an input of 5 channels"):
        gt.Sequential([layers.Input((6, 6, 5)), layers.Conv2D(4, 3, groups=2)]).build(device="cpu")


def test_grouped_conv2d_config_and_save_load_round_trip(tmp_path, device, rng):
    plain = layers.Conv2D(4, 3, name="c")
    assert "groups" not in plain.get_config()  # plain models keep their architecture keys
    layer = layers.Conv2D(4, (3, 2), padding="same", groups=2, activation="relu")
    config = layer.get_config()
    assert config["groups"] == 2
    assert layers.from_config("Conv2D", config).get_config() == config
    model = _model(layer)
    plain_model = _model(layers.Conv2D(4, (3, 2), padding="same", activation="relu"))
    assert saving.architecture_key(model.get_config()) != saving.architecture_key(plain_model.get_config())
    model.compile(gt.optimizers.Adam(0.01), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x, y = rng.standard_normal((6, 9, 8, 6)).astype(np.float32), rng.integers(0, 3, 6)
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=device)
    assert type(loaded.layers[0]) is layers.Conv2D and loaded.layers[0].groups == 2
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
