"""Keras's regularizers (gt.regularizers: l1, l2, l1_l2 as kernel_regularizer, bias_regularizer and
activity_regularizer): the step's loss includes their penalties and its gradients equal the float64 finite
differences of the same total in an independent interpreter (graph_reference.py); a shared layer's weight
is penalised once, a frozen one not at all; configs round-trip as Keras serializes them."""
import numpy as np
import pytest

import graph_reference
import gputrain as gt
from gputrain import layers, regularizers

TOL = 1e-4  # as test_functional_gradients.py: float32 rounding against float64 central differences


def _regularized_model():
    inp = gt.Input((5, 5, 2))
    a = layers.Conv2D(3, 3, activation="tanh", kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.05),
                      activity_regularizer=regularizers.L1L2(l1=0.02, l2=0.01))(inp)
    shared = layers.Dense(3, activation="tanh", kernel_regularizer=regularizers.l1_l2(l1=0.01, l2=0.03),
                          activity_regularizer=regularizers.l2(0.04), name="shared")
    b = shared(layers.Dense(3, activation="tanh")(layers.Flatten()(a)))
    c = shared(b)  # called twice: its kernel penalised once, each call's output penalised
    out = layers.Dense(4, activation="softmax", bias_regularizer=regularizers.L2(0.1),
                       activity_regularizer=regularizers.L1(0.03))(layers.Add()([b, c]))
    return gt.Model(inp, out)


def test_penalties_join_the_loss_and_its_gradients(device):
    gt.utils.set_random_seed(4)
    model = _regularized_model()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 5, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 3)
    model.build(device=device)
    # Bias values away from 0, where l1's derivative (sign) jumps and a finite difference straddles it.
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"] = gt.tensor(rng.uniform(0.2, 0.5, layer.params["bias"].shape).astype(np.float32),
                                             device=device)
    params = {layer: {name: t.numpy().astype(np.float64) for name, t in layer.params.items()} for layer in model.layers}
    unregularized = -np.log(graph_reference._model(model, x, params, [])[np.arange(3), labels]).mean()
    assert graph_reference.loss(model, x, labels, params) - unregularized > 0.05  # the penalties are visible
    graph_reference.check_plan_gradients(model, x, labels, device, TOL)


def test_fit_logs_the_penalised_loss_and_frozen_weights_are_not_penalised():
    gt.utils.set_random_seed(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = gt.Sequential([gt.Input((6,)), layers.Dense(5, kernel_regularizer=regularizers.L2(0.5), name="first"),
                           layers.Dense(3, activation="softmax", name="head")])
    model.compile("sgd", "sparse_categorical_crossentropy", device="cpu")
    kernel = model.get_layer("first").params["kernel"].numpy().astype(np.float64)
    plain = -np.log(model.predict(x).astype(np.float64))[np.arange(32), y].mean()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(plain + 0.5 * np.square(kernel).sum(), rel=1e-5)
    model.get_layer("first").trainable = False  # Keras counts the penalties of trainable weights only
    assert model.evaluate(x, y, verbose=0) == pytest.approx(plain, rel=1e-5)
    model.get_layer("first").trainable = True
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0).history
    assert history["loss"][0] == pytest.approx(plain + 0.5 * np.square(kernel).sum(), rel=1e-5)
    assert history["loss"][-1] < history["loss"][0]


def test_regularizers_follow_keras_names_defaults_and_configs(tmp_path):
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.get("l1").get_config() == {"l1": 0.01}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.0, "l2": 0.0}  # the class's defaults, as Keras
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.get(None) is None
    with pytest.raises(ValueError, match="l2: expected a non-negative float"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="l1: expected a non-negative float"):
        regularizers.L1(float("inf"))
    with pytest.raises(ValueError, match="'orthogonal' is not supported; gputrain has l1, l2 and l1_l2"):
        layers.Dense(3, kernel_regularizer="orthogonal")
    dense = layers.Dense(3, kernel_regularizer=regularizers.L1L2(0.1, 0.2), activity_regularizer="l1")
    config = dense.get_config()
    assert config["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    assert config["activity_regularizer"] == {"class_name": "L1", "config": {"l1": 0.01}}
    assert "bias_regularizer" not in config and "kernel_regularizer" not in layers.Dense(3).get_config()
    model = gt.Sequential([gt.Input((4,)), dense, layers.Dense(2, bias_regularizer="l2")])
    model.compile("adam", "sparse_categorical_crossentropy", device="cpu")
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device="cpu")
    assert [l.get_config() for l in loaded.layers] == [l.get_config() for l in model.layers]
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    y = np.arange(8) % 2
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


def test_a_penalty_propagates_nan_and_gives_inf_for_an_infinite_weight_under_l2_alone(device):
    for l1, value, want in ((0.0, np.inf, np.inf), (0.1, np.nan, np.nan), (0.0, np.nan, np.nan)):
        plan = gt._core._TrainPlan(device, 2, [3], graphs=False, training=False)
        kernel = np.ones((3, 2), np.float32)
        kernel[1, 0] = value
        kernel = gt.tensor(kernel, device=device)
        plan.add_dense(kernel, None, None)
        plan.add_weight_penalty(kernel, l1, 0.5)
        plan.add_loss("binary_logits", False)
        plan.evaluate(gt.tensor(np.zeros((2, 3), np.float32), device=device),
                      gt.tensor(np.zeros((2, 2), np.float32), device=device))
        penalty = plan.metrics()[-1]
        assert (np.isnan(penalty) if np.isnan(want) else penalty == want), (l1, value, penalty)
    with pytest.raises(ValueError, match="l2"):
        gt._core._TrainPlan(device, 2, [3], training=False).add_weight_penalty(kernel, 0.0, -1.0)
