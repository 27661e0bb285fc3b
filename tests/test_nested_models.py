"""Models used as layers of other models (Keras's `features = base_model(inputs)`): one layer in the outer
model's layers, summary, weights and files, its own layers' nodes in the outer model's plan; trained,
saved, loaded and resumed like any layer, with gradients equal to finite differences."""
import json

import numpy as np
import pytest

import graph_reference
import gputrain as gt
from gputrain import checkpoint_format, layers

DEVICE = "cpu"


def _base(name="base"):
    inp = gt.Input((6, 6, 2))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="base_conv")(inp)
    x = layers.Add(name="base_add")([x, layers.Conv2D(4, 1, name="base_short")(inp)])
    return gt.Model(inp, layers.GlobalAveragePooling2D(name="base_pool")(x), name=name)


def _head(base):
    inp = gt.Input((6, 6, 2))
    features = base(inp)
    again = base(layers.Activation("tanh", name="squash")(inp))  # called twice: one set of weights
    tail = gt.Sequential([gt.Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(3)], name="tail")
    return gt.Model(inp, layers.Activation("softmax")(tail(layers.Add()([features, again]))), name="outer")


def test_a_nested_model_is_one_layer_of_the_outer_model():
    base = _base()
    model = _head(base)
    assert base in model.layers and model.get_layer("tail").config_name == "Sequential"
    assert model.count_params() == base.count_params() + 4 * 5 + 5 + 5 * 3 + 3
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "base (Functional)               (None, 4)            88          input_layer" in text  # its first call
    assert " " * 65 + "squash[0][0]" in text  # its second call
    assert "tail (Sequential)               (None, 3)            43" in text
    assert sorted(base.params) == ["1/bias", "1/kernel", "2/bias", "2/kernel"]


def test_gradients_through_nested_models_equal_finite_differences(device):
    gt.utils.set_random_seed(4)
    model = _head(_base())
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((3, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 3)
    _, got = graph_reference.plan_gradients(model, x, labels, device)
    want = graph_reference.gradients(model, x, labels)
    assert set(got) == set(want) and len(got) == 8
    for key, expected in want.items():
        assert np.linalg.norm(got[key] - expected) <= 1e-4 * np.linalg.norm(expected), key


def test_transfer_learning_trains_the_base_and_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 32)
    base = _base()
    inp = gt.Input((6, 6, 2))
    model = gt.Model(inp, layers.Dense(3, activation="softmax")(base(inp)), name="transfer")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device=DEVICE)
    before = base.get_layer("base_conv").params["kernel"].numpy().copy()
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert not np.array_equal(before, base.get_layer("base_conv").params["kernel"].numpy())
    model.save(tmp_path / "t.safetensors")
    loaded = gt.models.load_model(tmp_path / "t.safetensors", device=DEVICE)
    assert isinstance(loaded.layers[1], gt.Model) and loaded.layers[1].name == "base"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)  # its optimizer state came with it


def test_training_argument_is_refused_where_it_would_be_ignored():
    inp = gt.Input((6, 6, 2))
    base = _base()
    assert base(inp, training=False).shape == (None, 4)  # no batch norm or dropout: nothing changes
    normed = gt.Sequential([gt.Input((4,)), layers.BatchNormalization()])
    with pytest.raises(ValueError, match="training=False in a model definition is not supported yet"):
        normed(base(inp), training=False)
    with pytest.raises(ValueError, match="training=True"):
        layers.Dropout(0.5)(base(inp), training=True)


def test_checkpoints_refuse_models_nested_too_deep(tmp_path):
    config = {"name": "m", "input_shape": [2], "layers": [{"class_name": "Dense", "config": {"units": 1}}]}
    for depth in range(checkpoint_format.MAX_NESTING + 1):
        config = {"name": f"m{depth}", "input_shape": [2], "layers": [{"class_name": "Functional", "config": config}]}
    text = json.dumps({"format": checkpoint_format.FORMAT, "model": config})
    with pytest.raises(ValueError, match="nested at most 8 deep"):
        checkpoint_format.parse_info(text, tmp_path / "deep.safetensors")


def _normed_base():
    inp = gt.Input((6, 6, 2))
    x = layers.BatchNormalization(name="base_bn")(layers.Conv2D(4, 3, name="base_conv")(inp))
    return gt.Model(inp, layers.GlobalAveragePooling2D()(layers.Activation("relu")(x)), name="normed")


def test_a_frozen_base_keeps_its_weights_and_statistics_until_unfrozen(tmp_path):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((32, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 32)
    base = _normed_base()
    inp = gt.Input((6, 6, 2))
    model = gt.Model(inp, layers.Dense(3, activation="softmax", name="head")(base(inp)))
    model.compile("adam", "sparse_categorical_crossentropy", device=DEVICE)
    base.trainable = False
    frozen = [w.copy() for w in base.get_weights()]  # kernel, bias, gamma, beta, moving mean and variance
    head = model.get_layer("head").params["kernel"].numpy().copy()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for before, after in zip(frozen, base.get_weights()):
        np.testing.assert_array_equal(before, after)  # batch norm ran in inference mode: statistics kept
    assert not np.array_equal(head, model.get_layer("head").params["kernel"].numpy())
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 15" in lines and f"Total params: {model.count_params():,}" in lines
    model.save(tmp_path / "frozen.safetensors")
    assert gt.models.load_model(tmp_path / "frozen.safetensors").layers[1].get_layer("base_conv").trainable is False
    base.trainable = True  # the next fit trains the base too, without a new compile
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.array_equal(frozen[0], base.get_weights()[0])
    assert not np.array_equal(frozen[4], base.get_weights()[4])  # moving mean updated again


def test_gradients_through_a_frozen_batch_norm_equal_finite_differences(device):
    gt.utils.set_random_seed(6)
    inp = gt.Input((6, 6, 2))
    conv = layers.Conv2D(3, 3, name="conv")
    bn = layers.BatchNormalization(name="bn")
    out = layers.Dense(3, activation="softmax")(layers.Flatten()(bn(conv(inp))))
    model = gt.Model(inp, out)
    model.build(device=device)
    rng = np.random.default_rng(7)
    bn.params = {name: gt.tensor(rng.uniform(0.5, 1.5, 3).astype(np.float32), device=device)
                 for name in ("gamma", "beta", "moving_mean", "moving_variance")}
    bn.trainable = False
    x, labels = rng.standard_normal((4, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, 4)
    _, got = graph_reference.plan_gradients(model, x, labels, device)
    want = graph_reference.gradients(model, x, labels)
    assert set(got) == set(want) and (bn, "gamma") not in got
    for key, expected in want.items():
        assert np.linalg.norm(got[key] - expected) <= 1e-4 * np.linalg.norm(expected), key
