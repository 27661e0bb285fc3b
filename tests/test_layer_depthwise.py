"""The DepthwiseConv2D layer: trained through the model's plan as the op-by-op reference trains it
(tests/reference_training.py), its inference output against NumPy, Keras's output shapes, parameter counts
and weight names, Glorot-uniform kernels, its config and a save/load round trip."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers
import reference as ref
import reference_training


def _model(first, input_shape=(7, 6, 3)):
    return gt.Sequential([layers.Input(input_shape), first, layers.Flatten(), layers.Dense(3)])


MODELS = {
    # relu fused into the kernel's store; two filters per channel; "same" padding.
    "relu_same_multiplier_2": lambda: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2,
                                                              activation="relu"),
    # swish keeps its pre-activation (its derivative reads its input); strided, no bias.
    "swish_strided_no_bias": lambda: layers.DepthwiseConv2D((3, 2), strides=2, activation="swish", use_bias=False),
    # dilated taps, "same" padding over the dilated extent, multiplier 3, no activation.
    "dilated_multiplier_3": lambda: layers.DepthwiseConv2D(2, padding="same", dilation_rate=(2, 3),
                                                            depth_multiplier=3),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_depthwise_layer_trains_as_the_op_by_op_reference(device, rng, case):
    gt.utils.set_random_seed(3)
    planned, reference = _model(MODELS[case]()), _model(MODELS[case]())
    for model in (planned, reference):
        model.compile(gt.optimizers.SGD(0.05, momentum=0.9),
                      gt.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"], device=device)
    reference.set_weights(planned.get_weights())
    x = rng.standard_normal((10, 7, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 10)
    # 10 samples in batches of 4: two full batches and one of 2, so two plans take part.
    history = planned.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    expected = reference_training.fit(reference, x, y, batch_size=4, epochs=2)
    assert sorted(planned._plans) == [2, 4]
    expected_state = "off" if device == "cpu" else "replaying"
    assert {plan.graph_state for plan in planned._plans.values()} == {expected_state}
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(history["accuracy"], expected["accuracy"])
    for got, want in zip(planned.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_depthwise_layer_training_changes_its_weights(device, rng):
    model = _model(layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2))
    model.compile(gt.optimizers.SGD(0.1), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    before = [w.copy() for w in model.get_weights()[:2]]
    model.fit(rng.standard_normal((8, 7, 6, 3)).astype(np.float32), rng.integers(0, 3, 8), batch_size=4,
              epochs=1, shuffle=False, verbose=0)
    for old, new in zip(before, model.get_weights()[:2]):
        assert not np.allclose(old, new)


@pytest.mark.parametrize("activation", [None, "relu"])
def test_depthwise_layer_predicts_as_numpy(device, rng, activation):
    layer = layers.DepthwiseConv2D((3, 2), strides=(2, 1), padding="same", depth_multiplier=2,
                                   activation=activation)
    model = gt.Sequential([layers.Input((9, 8, 4)), layer])
    model.build(device=device)
    kernel = model.get_weights()[0]
    bias = rng.standard_normal(8).astype(np.float32)  # not the zeros it starts from
    model.set_weights([kernel, bias])
    x = rng.standard_normal((3, 9, 8, 4)).astype(np.float32)
    expected = ref.depthwise_conv2d(x, kernel, bias, (2, 1), "same")
    got = model.predict(x)
    np.testing.assert_allclose(got, ref.relu(expected) if activation == "relu" else expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("input_shape,kwargs,output_shape,params", [
    # Keras: kh·kw·c·depth_multiplier weights, plus c·depth_multiplier biases.
    ((32, 32, 16), dict(kernel_size=3, depth_multiplier=2), (30, 30, 32), 3 * 3 * 16 * 2 + 32),
    ((15, 15, 8), dict(kernel_size=3, strides=2, padding="same"), (8, 8, 8), 3 * 3 * 8 + 8),
    ((10, 9, 4), dict(kernel_size=3, dilation_rate=2), (6, 5, 4), 3 * 3 * 4 + 4),
    ((10, 9, 4), dict(kernel_size=(2, 3), dilation_rate=(3, 1), padding="same", use_bias=False), (10, 9, 4),
     2 * 3 * 4),
    ((112, 112, 32), dict(kernel_size=3, padding="same", depth_multiplier=1), (112, 112, 32), 320),  # MobileNetV2
])
def test_depthwise_layer_shapes_and_parameters_as_keras(input_shape, kwargs, output_shape, params):
    layer = layers.DepthwiseConv2D(**kwargs)
    model = gt.Sequential([layers.Input(input_shape), layer])
    model.build(device="cpu")
    assert model.output_shape == output_shape
    assert model.count_params() == params
    c, m = input_shape[-1], kwargs.get("depth_multiplier", 1)
    names = ["kernel", "bias"] if kwargs.get("use_bias", True) else ["kernel"]
    assert list(layer.params) == names and layer.trainable_names == tuple(names)
    assert layer.params["kernel"].shape == layer.kernel_size + (c, m)


def test_depthwise_kernel_is_glorot_uniform_over_its_fans():
    # Keras's fans for a (kh, kw, c, m) kernel: kh·kw·c in, kh·kw·m out.
    layer = layers.DepthwiseConv2D(5, depth_multiplier=4)
    gt.Sequential([layers.Input((9, 9, 16)), layer]).build(device="cpu")
    kernel = layer.params["kernel"].numpy()
    limit = np.sqrt(6.0 / (25 * 16 + 25 * 4))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert not layer.params["bias"].numpy().any()


def test_depthwise_layer_arguments():
    layer = layers.DepthwiseConv2D(3, padding="SAME")
    assert layer.padding == "same"
    with pytest.raises(ValueError, match=r"strides > 1 together with dilation_rate > 1"):
        layers.DepthwiseConv2D(3, strides=(1, 2), dilation_rate=(2, 1))
    with pytest.raises(ValueError, match=r"padding: expected 'valid' or 'same', got 'full'"):
        layers.DepthwiseConv2D(3, padding="full")
    with pytest.raises(ValueError, match=r"depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"activation"):
        layers.DepthwiseConv2D(3, activation="tanhh")
    with pytest.raises(ValueError, match=r"gives an empty output"):
        gt.Sequential([layers.Input((4, 4, 2)), layers.DepthwiseConv2D(3, dilation_rate=2)]).build(device="cpu")


def test_conv2d_padding_in_any_case():
    assert layers.Conv2D(2, 3, padding="Same").padding == "same"
    assert layers.Conv2D(2, 3, padding="VALID").padding == "valid"


def test_depthwise_config_and_save_load_round_trip(tmp_path, device, rng):
    layer = layers.DepthwiseConv2D((3, 2), padding="same", depth_multiplier=2, dilation_rate=(2, 1),
                                   activation="relu", use_bias=True)
    config = layer.get_config()
    assert layers.from_config("DepthwiseConv2D", config).get_config() == config
    model = _model(layer)
    model.compile(gt.optimizers.Adam(0.01), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x, y = rng.standard_normal((6, 7, 6, 3)).astype(np.float32), rng.integers(0, 3, 6)
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=device)
    assert type(loaded.layers[0]) is layers.DepthwiseConv2D and loaded.layers[0].get_config() == config
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
