"""Conv2D with dilation_rate (atrous convolution): trained through the model's plan as the op-by-op
reference trains it (tests/reference_training.py), its inference output against NumPy, Keras's output
shapes, its arguments, its config (unchanged for undilated layers, so old checkpoints keep their
architecture keys) and a save/load round trip."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, saving
import reference as ref
import reference_training


def _model(first, input_shape=(9, 8, 3)):
    return gt.Sequential([layers.Input(input_shape), first, layers.Flatten(), layers.Dense(3)])


MODELS = {
    # relu fused into the store; "same" padding for the dilated extent 5.
    "relu_same_dilation_2": lambda: layers.Conv2D(4, 3, padding="same", dilation_rate=2, activation="relu"),
    # swish keeps its pre-activation; "valid" over the dilated extents (4, 5); no bias.
    "swish_valid_asymmetric": lambda: layers.Conv2D(5, (2, 3), dilation_rate=(3, 2), activation="swish",
                                                    use_bias=False),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_dilated_conv2d_layer_trains_as_the_op_by_op_reference(device, rng, case):
    x = rng.standard_normal((10, 9, 8, 3)).astype(np.float32)
    # 10 samples in batches of 4: two full batches and one of 2, so two plans take part.
    planned = reference_training.check_trains_as_reference(lambda: _model(MODELS[case]()), x,
                                                           rng.integers(0, 3, 10), device)
    assert sorted(planned._plans) == [2, 4]


@pytest.mark.parametrize("activation", [None, "relu"])
def test_dilated_conv2d_layer_predicts_as_numpy(device, rng, activation):
    layer = layers.Conv2D(6, (3, 2), padding="same", dilation_rate=(2, 3), activation=activation)
    model = gt.Sequential([layers.Input((9, 8, 5)), layer])
    model.build(device=device)
    kernel = model.get_weights()[0]
    bias = rng.standard_normal(6).astype(np.float32)  # not the zeros it starts from
    model.set_weights([kernel, bias])
    x = rng.standard_normal((3, 9, 8, 5)).astype(np.float32)
    expected = ref.conv2d(x, kernel, bias, (1, 1), "same", (2, 3))
    np.testing.assert_allclose(model.predict(x), ref.relu(expected) if activation == "relu" else expected,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("input_shape,kwargs,output_shape", [
    # Keras: "valid" leaves n − (k − 1)·d outputs; "same" ceil(n / stride) whatever the dilation.
    ((32, 32, 3), dict(filters=8, kernel_size=3, dilation_rate=2), (28, 28, 8)),
    ((10, 9, 4), dict(filters=2, kernel_size=(2, 3), dilation_rate=(3, 1)), (7, 7, 2)),
    ((10, 9, 4), dict(filters=2, kernel_size=3, dilation_rate=(1, 4), padding="same"), (10, 9, 2)),
    ((7, 7, 1), dict(filters=1, kernel_size=3, dilation_rate=3), (1, 1, 1)),
])
def test_dilated_conv2d_layer_shapes_as_keras(input_shape, kwargs, output_shape):
    layer = layers.Conv2D(**kwargs)
    model = gt.Sequential([layers.Input(input_shape), layer])
    model.build(device="cpu")
    assert model.output_shape == output_shape
    # Dilation spreads the taps, it adds no weights.
    kh, kw = layer.kernel_size
    assert model.count_params() == kh * kw * input_shape[-1] * kwargs["filters"] + kwargs["filters"]


def test_conv2d_layer_dilation_arguments():
    # Keras 3's order: filters, kernel_size, strides, padding, (data_format,) dilation_rate, ...
    assert layers.Conv2D(2, 3, 1, "same", 2).dilation_rate == (2, 2)
    assert layers.Conv2D(2, 3, dilation_rate=(1, 3)).dilation_rate == (1, 3)
    assert layers.Conv2D(2, 3, activation="relu").activation == "relu"  # keywords as before
    with pytest.raises(ValueError, match=r"strides \(2, 2\) and dilation_rate \(2, 2\): strides > 1 together "
                                         r"with dilation_rate > 1 are not supported"):
        layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"dilation_rate"):
        layers.Conv2D(2, 3, dilation_rate=0)
    with pytest.raises(TypeError, match=r"dilation_rate"):
        layers.Conv2D(2, 3, dilation_rate=1.5)
    with pytest.raises(ValueError, match=r"gives an empty output"):
        gt.Sequential([layers.Input((4, 4, 2)), layers.Conv2D(2, 3, dilation_rate=2)]).build(device="cpu")


def test_undilated_conv2d_config_and_architecture_key_are_unchanged():
    # The config of an undilated Conv2D has no dilation_rate key: the architecture key of a model saved
    # before dilation existed (fixed here) is still the one its checkpoints are found by.
    layer = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="c")
    assert layer.get_config() == {"name": "c", "filters": 4, "kernel_size": [3, 3], "strides": [2, 2],
                                  "padding": "same", "activation": "relu", "use_bias": True}
    model = gt.Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                           layers.Flatten(), layers.Dense(2)])
    assert saving.architecture_key(model.get_config()) == "e16fd5905e"  # computed before dilation existed
    dilated = gt.Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3, padding="same", activation="relu",
                                                                    dilation_rate=2),
                             layers.Flatten(), layers.Dense(2)])
    assert saving.architecture_key(dilated.get_config()) != saving.architecture_key(model.get_config())


def test_dilated_conv2d_config_and_save_load_round_trip(tmp_path, device, rng):
    layer = layers.Conv2D(4, (3, 2), padding="same", dilation_rate=(2, 1), activation="relu")
    config = layer.get_config()
    assert config["dilation_rate"] == [2, 1]
    assert layers.from_config("Conv2D", config).get_config() == config
    model = _model(layer)
    model.compile(gt.optimizers.Adam(0.01), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x, y = rng.standard_normal((6, 9, 8, 3)).astype(np.float32), rng.integers(0, 3, 6)
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=device)
    assert type(loaded.layers[0]) is layers.Conv2D and loaded.layers[0].get_config() == config
    assert loaded.layers[0].dilation_rate == (2, 1)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
