"""One executor: fit (compiled, or run eagerly one node at a time), evaluate and predict all run the same
layer nodes of the model's plan, so they agree exactly, share one seeding rule for dropout, and refuse a
bad hyper-parameter with the same message."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers


def cnn(seed=7):
    return gt.Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2)), layers.MaxPooling2D(2),
        layers.BatchNormalization(), layers.Flatten(), layers.Dense(16, activation="relu"),
        layers.Dropout(0.5, seed=seed), layers.Dense(3, activation="softmax")])


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 8, 8, 2)).astype(np.float32), rng.integers(0, 3, n)


def trained(device, eagerly, optimizer="adam", epochs=1):
    gt.utils.set_random_seed(4)
    model = cnn()
    model.compile(optimizer, "sparse_categorical_crossentropy", ["accuracy"], device=device, run_eagerly=eagerly)
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)  # 16, 16 and 8: two plans
    return model, history.history


def test_compiled_and_eager_training_end_with_identical_weights(device):
    compiled, h_compiled = trained(device, eagerly=False)
    eager, h_eager = trained(device, eagerly=True)
    assert h_compiled == h_eager
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert compiled.layers[5].seed == eager.layers[5].seed == 7  # training never changes a layer's seed
    if device != "cpu":  # the compiled steps were replayed as graphs, the eager ones launched one by one
        assert {p.graph_state for p in compiled._plans.values()} == {"replaying"}
        assert {p.graph_state for p in eager._plans.values()} == {"off"}


def test_dropout_masks_follow_the_seed_and_the_step(device):
    a, _ = trained(device, eagerly=False, epochs=2)
    b, _ = trained(device, eagerly=True, epochs=2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    gt.utils.set_random_seed(4)
    other = cnn(seed=8)
    other.compile("adam", "sparse_categorical_crossentropy", device=device)
    other.fit(*data(), batch_size=16, epochs=2, verbose=0)
    assert not np.array_equal(other.get_weights()[-2], a.get_weights()[-2])  # another seed, other masks


@pytest.mark.parametrize("setting, message", [
    (lambda m: setattr(m.optimizer, "rho", 1.5), "rho"),
    (lambda m: setattr(m.optimizer, "epsilon", -1.0), "epsilon"),
    (lambda m: setattr(m.layers[5], "rate", 1.0), "rate"),
    (lambda m: setattr(m.layers[2], "momentum", 2.0), "momentum"),
], ids=["rmsprop_rho", "rmsprop_epsilon", "dropout_rate", "batch_norm_momentum"])
def test_both_ways_refuse_a_bad_hyper_parameter_alike(device, setting, message):
    # Set behind the constructors' backs: the plan, which both ways build, is the one that checks.
    errors = []
    for eagerly in (False, True):
        model = cnn()
        model.compile("rmsprop", "sparse_categorical_crossentropy", device=device, run_eagerly=eagerly)
        setting(model)
        with pytest.raises(ValueError, match=message) as caught:
            model.fit(*data(), batch_size=16, verbose=0)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_predict_and_evaluate_run_the_nodes_in_inference(device):
    model, _ = trained(device, eagerly=False)
    x, y = data(n=13, seed=1)
    conv_kernel, conv_bias, gamma, beta, mean, var, k1, b1, k2, b2 = \
        (w.astype(np.float64) for w in model.get_weights())
    # The model by hand in float64: dropout passes through, batch normalisation uses moving statistics.
    z = np.zeros((13, 6, 6, 4))
    for i in range(3):
        for j in range(3):
            z += np.einsum("nhwc,ck->nhwk", x[:, i:i + 6, j:j + 6, :], conv_kernel[i, j])
    h = np.maximum(z + conv_bias, 0).reshape(13, 3, 2, 3, 2, 4).max(axis=(2, 4))
    h = (h - mean) / np.sqrt(var + 1e-3) * gamma + beta
    h = np.maximum(h.reshape(13, -1) @ k1 + b1, 0)
    logits = h @ k2 + b2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, batch_size=5), probs, rtol=1e-4, atol=1e-6)
    loss, accuracy = model.evaluate(x, y, batch_size=5, verbose=0)
    assert loss == pytest.approx(-np.log(probs[np.arange(13), y]).mean(), rel=1e-4)
    assert accuracy == pytest.approx(np.mean(np.argmax(probs, axis=1) == y))
    assert sorted(model._inference_plans["predict"]) == sorted(model._inference_plans["evaluate"]) == [3, 5]
    assert not any(p.training for kind in model._inference_plans.values() for p in kind.values())


def test_a_plan_runs_one_node_at_a_time_and_shows_each_output(device):
    model = gt.Sequential([layers.Dense(5, activation="relu", input_shape=(4,)), layers.Dense(2)])
    model.compile("sgd", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    plan = model._plan("predict", 3)
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    out = plan.predict(gt.tensor(x, device=device)).numpy()
    kernel, bias = model.layers[0].params["kernel"].numpy(), model.layers[0].params["bias"].numpy()
    np.testing.assert_allclose(plan.node_output(0).numpy(), np.maximum(x @ kernel + bias, 0), rtol=1e-5)
    np.testing.assert_array_equal(plan.node_output(1).numpy(), out)
    assert plan.node_count == 2
    with pytest.raises(ValueError, match="node 2"):
        plan.node_output(2)
    with pytest.raises(ValueError, match="inference plan"):
        plan.backward_node(0)


def test_plan_values_are_checked_and_a_loss_keeps_the_activation_layers_read(device):
    plan = gt._core._TrainPlan(device, 2, [4], training=False)
    kernel = gt.tensor(np.ones((4, 3), np.float32), device=device)
    first = plan.add_dense(kernel, None, "relu", input=0)
    second = plan.add_dense(kernel, None, "relu", input=0)  # a value may have several readers
    assert (first, second) == (1, 2)
    merged = plan.add_merge("add", [first, second])
    with pytest.raises(ValueError, match="no value 7"):
        plan.add_flatten(input=7)
    with pytest.raises(ValueError, match="value 1 is read by other layers, so the loss cannot take over its"):
        plan.add_loss("binary_probabilities", True, first)
    with pytest.raises(ValueError, match="no layer's value 0"):
        plan.add_loss("binary_probabilities", False, 0)
    with pytest.raises(ValueError, match="inputs of different shapes"):
        plan.add_merge("add", [merged, 0])
    with pytest.raises(ValueError, match="expected exactly 2 inputs"):
        plan.add_merge("subtract", [first, second, merged])


def test_binary_targets_of_an_image_shaped_output(device, rng):
    # A per-pixel sigmoid output (batch, 3, 3, 1): targets come as the same shape or one row per sample.
    model = gt.Sequential([layers.Conv2D(1, 1, activation="sigmoid", input_shape=(3, 3, 1))])
    model.compile(gt.optimizers.SGD(0.1), "binary_crossentropy", ["accuracy"], device=device)
    x = rng.standard_normal((6, 3, 3, 1)).astype(np.float32)
    y = (rng.random((6, 3, 3, 1)) > 0.5).astype(np.float32)
    model.fit(x, y, batch_size=3, verbose=0)
    p = np.clip(model.predict(x).astype(np.float64), 1e-7, 1 - 1e-7)
    loss, accuracy = model.evaluate(x, y.reshape(6, 9), batch_size=3, verbose=0)
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-4)
    assert accuracy == pytest.approx(np.mean((p > 0.5) == (y > 0.5)))
