"""Keras's functional API: gt.Input and gt.Model(inputs, outputs), layers called on symbolic tensors, shared
layers, Keras's layer order and summary with its "Connected to" column, saving and resuming, and the
errors a wrong graph gets."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers

DEVICE = "cpu"


def _block_model(name=None):
    """A residual block as Keras's ResNets write it: a projection shortcut beside two convolutions."""
    inp = gt.Input((6, 6, 2), name="images")
    x = layers.Conv2D(4, 3, padding="same", name="a_conv")(inp)
    x = layers.Activation("relu", name="a_relu")(x)
    x = layers.Conv2D(4, 3, padding="same", name="b_conv")(x)
    shortcut = layers.Conv2D(4, 1, name="short_conv")(inp)
    x = layers.Add(name="add")([shortcut, x])
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return gt.Model(inp, layers.Dense(3, activation="softmax", name="predictions")(x), name=name)


def test_input_is_a_symbolic_tensor_with_a_free_batch():
    x = gt.Input(shape=(28, 28, 1))
    assert x.shape == (None, 28, 28, 1) and x.dtype == "float32"
    assert gt.Input(batch_shape=(None, 5)).shape == (None, 5)
    y = layers.Dense(4)(layers.Flatten()(x))
    assert y.shape == (None, 4)
    with pytest.raises(TypeError, match="symbolic"):
        y.numpy()
    with pytest.raises(ValueError, match="float32"):
        gt.Input((3,), dtype="int32")


def test_layers_are_listed_in_keras_order_and_found_by_name():
    model = _block_model()
    # By decreasing depth, ties in the order a walk back from the output first meets them.
    assert [l.name for l in model.layers] == ["images", "a_conv", "a_relu", "short_conv", "b_conv", "add", "pool",
                                              "predictions"]
    assert model.get_layer("add") is model.layers[5] and model.get_layer(index=-1).name == "predictions"
    assert model.inputs[0].shape == (None, 6, 6, 2) and model.outputs[0].shape == (None, 3)
    assert isinstance(model, gt.Model) and isinstance(gt.Sequential(), gt.Model)
    assert gt.models.Model is gt.Model
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")


def test_summary_has_keras_connected_to_column():
    lines = []
    _block_model(name="block").summary(print_fn=lines.append)
    assert lines[:4] == ['Model: "block"', "_" * 98,
                         "Layer (type)                    Output Shape         Param #     Connected to".ljust(98),
                         "=" * 98]
    assert lines[4] == "images (InputLayer)             [(None, 6, 6, 2)]    0".ljust(98)
    add = lines.index("add (Add)                       (None, 6, 6, 4)      0           short_conv[0][0]".ljust(98))
    assert lines[add + 1] == (" " * 65 + "b_conv[0][0]").ljust(98)
    assert lines[-4:] == ["Total params: 251", "Trainable params: 251", "Non-trainable params: 0", "_" * 98]


def test_a_shared_layer_has_one_set_of_weights_trained_by_both_calls():
    shared = layers.Dense(4, activation="relu", name="shared")
    a, b = gt.Input((4,)), gt.Input((4,))
    model = gt.Model(a, layers.Dense(2, activation="softmax")(layers.Add()([shared(a), shared(a)])))
    assert len(shared._inbound_nodes) == 2 and model.count_params() == 20 + 10
    with pytest.raises(ValueError, match="first called on"):
        shared(gt.Input((5,)))
    del b


def test_functional_fit_compiled_and_eager_agree():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 40)
    runs = []
    for eagerly in (False, True):
        gt.utils.set_random_seed(1)
        model = _block_model()
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device=DEVICE, run_eagerly=eagerly)
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
        runs.append((history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][0]["loss"][-1] < runs[0][0]["loss"][0]


def test_functional_model_saves_loads_and_resumes(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 32)
    model = _block_model(name="resumable")
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"], device=DEVICE)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=DEVICE)
    assert type(loaded) is gt.Model and [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    # Resume: a second fit with resume=True continues from the checkpoint the first wrote.
    checkpoint = gt.callbacks.ModelCheckpoint(str(tmp_path / "ckpt"))
    first = _block_model(name="resumable")
    first.compile("sgd", "sparse_categorical_crossentropy", device=DEVICE)
    first.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[checkpoint])
    again = _block_model(name="resumable")
    again.compile("sgd", "sparse_categorical_crossentropy", device=DEVICE)
    again.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(str(tmp_path / "ckpt"))],
              resume=True)
    assert again.optimizer.iterations == 8 and again.training_state["epoch"] == 2


def test_wrong_graphs_are_refused_with_clear_errors():
    a, b = gt.Input((4,)), gt.Input((4,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        gt.Model(a, layers.Add()([a, b]))
    with pytest.raises(ValueError, match="different shapes"):
        layers.Add()([a, gt.Input((5,))])
    with pytest.raises(TypeError, match="a list of tensors"):
        layers.Add()(a)
    with pytest.raises(TypeError, match="Model\\(inputs, outputs\\)"):
        gt.Model()
    with pytest.raises(ValueError, match="differ beside axis"):
        layers.Concatenate(axis=1)([gt.Input((2, 3)), gt.Input((2, 4))])
    with pytest.raises(TypeError, match="expected symbolic tensors"):
        layers.Add()([a, np.zeros((1, 4), np.float32)])
    two = gt.Model([a, b], layers.Add()([a, b]))  # trained and run (test_multiple_outputs), not nested yet
    assert two.count_params() == 0 and len(two.inputs) == 2
    with pytest.raises(ValueError, match="call: this model has 2 inputs and 1 outputs; gputrain nests"):
        two([gt.Input((4,)), gt.Input((4,))])


def test_calling_a_model_on_data_returns_tensors_in_inference_or_training():
    gt.utils.set_random_seed(2)
    model = gt.Sequential([gt.Input((4,)), layers.Dense(3, name="d"), layers.BatchNormalization(momentum=0.5, name="bn")])
    model.build(device=DEVICE)
    x = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    out = model(x)
    assert isinstance(out, gt.Tensor) and out.shape == (6, 3)
    np.testing.assert_array_equal(out.numpy(), model.predict(x))  # moving statistics: 0 and 1 so far
    kernel, bias = (model.get_layer("d").params[n].numpy().astype(np.float64) for n in ("kernel", "bias"))
    z = x @ kernel + bias
    trained = model(gt.tensor(x), training=True).numpy()  # batch statistics, as Keras's training=True
    np.testing.assert_allclose(trained, (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_layer("bn").params["moving_mean"].numpy(), 0.5 * z.mean(0), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"samples of shape \(4,\)"):
        model(np.zeros((2, 5), np.float32))


def test_calling_a_layer_on_data_builds_it_and_computes_alone():
    x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
    dense = layers.Dense(2, activation="relu")
    y = dense(x)
    assert dense.built and dense.input_shape == (5,)
    kernel, bias = dense.params["kernel"].numpy(), dense.params["bias"].numpy()
    np.testing.assert_allclose(y.numpy(), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    images = np.random.default_rng(5).integers(0, 255, (2, 4, 4, 1)).astype(np.uint8)
    padded = layers.ZeroPadding2D(((1, 0), (0, 2)))(images).numpy()  # uint8 arrives as float32
    np.testing.assert_array_equal(padded, np.pad(images, ((0, 0), (1, 0), (0, 2), (0, 0))).astype(np.float32))
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(images).numpy(),
                                  images.repeat(2, axis=1).repeat(3, axis=2).astype(np.float32))
    with pytest.raises(ValueError, match=r"samples of shape \(5,\)"):
        dense(np.zeros((3, 6), np.float32))
    with pytest.raises(TypeError, match="merging layers"):
        layers.Add()([x, x])


def test_separable_conv2d_has_keras_weights_and_round_trips(tmp_path):
    model = gt.Sequential([gt.Input((8, 8, 3)), layers.SeparableConv2D(4, 3, depth_multiplier=2, name="sep"),
                           layers.GlobalAveragePooling2D(), layers.Dense(2, activation="softmax")])
    sep = model.get_layer("sep")
    model.build(device=DEVICE)
    assert sep.output_shape == (6, 6, 4) and sep.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4
    assert list(sep.params) == ["depthwise_kernel", "pointwise_kernel", "bias"]
    model.compile("sgd", "sparse_categorical_crossentropy", device=DEVICE)
    x = np.random.default_rng(6).standard_normal((4, 8, 8, 3)).astype(np.float32)
    model.save(tmp_path / "sep.safetensors")
    np.testing.assert_array_equal(gt.models.load_model(tmp_path / "sep.safetensors").predict(x), model.predict(x))


@pytest.mark.parametrize("merge, numpy_op", [("Maximum", np.maximum), ("Minimum", np.minimum),
                                             ("Multiply", np.multiply)])
def test_product_and_extrema_merges_follow_numpy_with_nan(device, merge, numpy_op):
    inp = gt.Input((5,))
    zero_or_nan = layers.Subtract()([inp, inp])  # 0, or NaN where x is NaN or infinite
    shifted = layers.Activation("tanh")(inp)
    model = gt.Model(inp, getattr(layers, merge)()([shifted, inp, zero_or_nan]))
    model.build(device=device)
    x = np.array([[0.5, -2.0, np.nan, np.inf, -np.inf], [3.0, -0.25, 0.0, -1.0, 7.0]], np.float32)
    with np.errstate(invalid="ignore"):
        want = numpy_op(numpy_op(np.tanh(x), x), x - x)
    np.testing.assert_allclose(model(x).numpy(), want, rtol=1e-6)


def test_conv2d_transpose_shapes_and_weights_as_keras():
    for padding, strides, want in (("valid", (2, 2), (11, 11, 5)), ("same", (2, 3), (10, 15, 5)),
                                   ("valid", (1, 1), (7, 7, 5))):
        layer = layers.Conv2DTranspose(5, 3, strides=strides, padding=padding)
        model = gt.Sequential([gt.Input((5, 5, 2)), layer])
        model.build(device=DEVICE)
        assert layer.output_shape == want and layer.params["kernel"].shape == (3, 3, 5, 2)
    x = np.random.default_rng(8).standard_normal((2, 5, 5, 2)).astype(np.float32)
    # stride 1, 'valid': each input cell spreads its kernel over the output, i.e. a full convolution.
    kernel = layer.params["kernel"].numpy()
    want = np.zeros((2, 7, 7, 5))
    for i in range(3):
        for j in range(3):
            want[:, i:i + 5, j:j + 5, :] += x @ kernel[i, j].T
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("slope", [0.3, 0.0, 2.5])
def test_leaky_relu_layer_as_keras(device, slope):
    model = gt.Sequential([gt.Input((6,)), layers.LeakyReLU(slope)])
    model.build(device=device)
    x = np.array([[-2.0, -0.5, 0.0, 0.5, np.nan, -np.inf], [3.0, -1e-30, 1e30, -7.0, 1.0, np.inf]], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        want = np.where(x >= 0, x, np.float32(slope) * x) if slope else np.maximum(x, 0)  # slope 0: relu
    np.testing.assert_array_equal(model(x).numpy(), want)
    assert layers.LeakyReLU().negative_slope == 0.3 and layers.LeakyReLU(alpha=0.1).negative_slope == 0.1


def test_elu_and_softmax_layers_take_only_what_gputrain_computes():
    assert layers.ELU().activation == "elu" and layers.Softmax().activation == "softmax"
    with pytest.raises(ValueError, match="alpha=0.5 is not supported"):
        layers.ELU(alpha=0.5)
    with pytest.raises(ValueError, match="axis=1 is not supported"):
        layers.Softmax(axis=1)
