"""The model's plan (gputrain/plan.py, cpp/core/train_plan.cpp) against an op-by-op reference composed
from gputrain.ops (tests/reference_training.py): the same weights, optimizer state, losses and accuracies
after the same steps, for every layer, loss and optimizer; uint8 inputs converted on the device; buffers
allocated once; clear errors for bad input."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, plan as plan_module

import reference_training
from conftest import EMULATED_GPU


def _models(make, device, loss, optimizer, x_shape):
    """Two copies of one model with identical weights: one for fit, one for the reference."""
    gt.utils.set_random_seed(1)
    a, b = make(), make()
    for model in (a, b):
        model.compile(optimizer(), loss(), ["accuracy"], device=device)
    b.set_weights(a.get_weights())
    return a, b


def mlp_softmax():
    return gt.Sequential([layers.Flatten(input_shape=(6, 5)), layers.Dense(16, activation="relu"),
                          layers.Dense(12, activation="sigmoid"), layers.Dense(4, activation="softmax")])


def mlp_logits():
    return gt.Sequential([layers.Dense(9, activation="relu", input_shape=(7,)), layers.Dense(3)])


def cnn_binary():
    return gt.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(9, 8, 2)),
                          layers.MaxPooling2D(2, padding="same"), layers.Conv2D(3, 2, strides=2, padding="same"),
                          layers.Flatten(), layers.Dense(5, activation="relu"), layers.Dense(1, activation="sigmoid")])


def cnn_norm():
    return gt.Sequential([layers.Conv2D(5, 3, padding="same", use_bias=False, input_shape=(7, 7, 3)),
                          layers.BatchNormalization(), layers.ReLU(), layers.AveragePooling2D(2),
                          layers.Conv2D(6, 2, activation="softmax"), layers.GlobalAveragePooling2D(),
                          layers.Dense(2), layers.Activation("sigmoid")])


CASES = {
    "mlp_softmax_adam": (mlp_softmax, lambda: gt.losses.SparseCategoricalCrossentropy(),
                         lambda: gt.optimizers.Adam(0.01), (6, 5), 4),
    "mlp_logits_sgd_nesterov": (mlp_logits, lambda: gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                                lambda: gt.optimizers.SGD(0.1, momentum=0.9, nesterov=True), (7,), 3),
    "cnn_binary_rmsprop": (cnn_binary, lambda: gt.losses.BinaryCrossentropy(),
                           lambda: gt.optimizers.RMSprop(0.01, momentum=0.5, centered=True), (9, 8, 2), 2),
    "cnn_norm_sgd": (cnn_norm, lambda: gt.losses.BinaryCrossentropy(),
                     lambda: gt.optimizers.SGD(0.05), (7, 7, 3), 2),
}


def _data(rng, x_shape, classes, n=23):
    x = rng.standard_normal((n,) + x_shape).astype(np.float32)
    if classes == 2:
        y = rng.integers(0, 2, (n, 2 if x_shape == (7, 7, 3) else 1)).astype(np.float32)
    else:
        y = rng.integers(0, classes, n)
    return x, y


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_trains_as_the_op_by_op_reference(device, rng, case):
    make, loss, optimizer, x_shape, classes = CASES[case]
    planned, reference = _models(make, device, loss, optimizer, x_shape)
    x, y = _data(rng, x_shape, classes)
    # 23 samples in batches of 5: four full batches and one of 3, so two plans take part.
    h_plan = planned.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0).history
    h_ref = reference_training.fit(reference, x, y, batch_size=5, epochs=2)
    assert sorted(planned._plans) == [3, 5]
    # On a GPU every plan's step was recorded as a graph and replayed (a refused capture would fall back
    # to the same arithmetic, so the comparison below alone would not notice).
    expected_state = "off" if device == "cpu" else "replaying"
    assert {plan.graph_state for plan in planned._plans.values()} == {expected_state}, \
        [plan.graph_failure for plan in planned._plans.values()]
    assert planned.optimizer.iterations == reference.optimizer.iterations == 10
    for got, want in zip(planned.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(h_plan[key], h_ref[key], rtol=1e-4, atol=1e-6)
    for key, slots in reference.optimizer.slots.items():
        for name, tensor in slots.items():
            np.testing.assert_allclose(planned.optimizer.slots[key][name].numpy(), tensor.numpy(),
                                       rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_uint8_images_are_converted_on_the_device(device, rng, run_eagerly):
    make, loss, optimizer, x_shape, classes = CASES["mlp_softmax_adam"]
    a, b = _models(make, device, loss, optimizer, x_shape)
    a.run_eagerly = b.run_eagerly = run_eagerly
    x = rng.integers(0, 256, (20,) + x_shape).astype(np.uint8)
    y = rng.integers(0, classes, 20)
    a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    b.fit(x.astype(np.float32), y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_dropout_in_a_plan_is_reproducible_and_learns(device, rng):
    def run():
        gt.utils.set_random_seed(3)
        model = gt.Sequential([layers.Dense(32, activation="relu", input_shape=(10,)), layers.Dropout(0.5),
                               layers.Dense(2)])
        model.compile(gt.optimizers.Adam(0.01), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                      device=device)
        x = np.random.default_rng(0).standard_normal((64, 10)).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int64)
        history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
        return model.get_weights(), history.history["loss"]
    (w1, loss1), (w2, loss2) = run(), run()
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert loss1[-1] < 0.6 * loss1[0]


def test_out_of_range_label_is_a_clear_error(device):
    model = mlp_logits()
    model.compile("sgd", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x = np.zeros((6, 7), np.float32)
    with pytest.raises(ValueError, match=r"label 3 at index 2 of the batch is outside \[0, 3\)"):
        model.fit(x, np.array([0, 1, 3, 0, 0, 0]), batch_size=6, shuffle=False, verbose=0)


def test_cross_entropy_on_probabilities_no_softmax_made(device, rng):
    # Sparse cross-entropy on sigmoid outputs: the loss reads the probabilities themselves, clipped to
    # [1e-7, 1 - 1e-7] as Keras clips them; one SGD step checked against float64 NumPy.
    model = gt.Sequential([layers.Dense(3, activation="sigmoid", input_shape=(4,))])
    model.compile(gt.optimizers.SGD(0.5), "sparse_categorical_crossentropy", device=device)
    x, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    probs = 1.0 / (1.0 + np.exp(-(x @ kernel + bias)))
    picked = np.clip(probs[np.arange(10), y], 1e-7, 1 - 1e-7)
    dprobs = np.zeros_like(probs)
    dprobs[np.arange(10), y] = -1.0 / (picked * 10)
    dz = dprobs * probs * (1 - probs)
    history = model.fit(x.astype(np.float32), y, batch_size=10, verbose=0).history
    assert history["loss"][0] == pytest.approx(-np.log(picked).mean(), rel=1e-5)
    got_kernel, got_bias = model.get_weights()
    np.testing.assert_allclose(got_kernel, kernel - 0.5 * x.T @ dz, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_bias, bias - 0.5 * dz.sum(axis=0), rtol=1e-5, atol=1e-6)
    assert {plan.graph_state for plan in model._plans.values()} == {"off"}  # it reads them on the host


def test_uint8_to_float32_checks_its_input(device):
    x = gt.tensor(np.array([[0, 7], [255, 1]], np.uint8), device=device)
    np.testing.assert_array_equal(gt._core.uint8_to_float32(x).numpy(), [[0.0, 7.0], [255.0, 1.0]])
    with pytest.raises(TypeError, match="x"):
        gt._core.uint8_to_float32(gt.tensor(np.zeros(2, np.float32), device=device))


def _plan(device, batch=4):
    model = mlp_logits()
    model.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  device=device)
    return model, plan_module.build(model, batch, lambda i, name: f"layers/{i}/{name}")


def test_plan_step_allocates_nothing(device):
    if device == "cpu":
        pytest.skip("the CPU has no allocator statistics; its buffers are the same objects every step")
    model, plan = _plan(device)
    x = gt.tensor(np.ones((4, 7), np.float32), device=device)
    y = gt.tensor(np.array([0, 1, 2, 0], np.int32), device=device)
    plan.step(x, y, 1, 0.01)
    before = gt.memory_stats(device)["num_allocations"]
    for i in range(2, 6):
        plan.step(x, y, i, 0.01)
    assert gt.memory_stats(device)["num_allocations"] == before
    loss_sum, hits, penalties = plan.metrics()  # one loss term with its accuracy, then the penalties (none)
    assert penalties == 0.0
    assert np.isfinite(loss_sum) and 0 <= hits <= 5 * 4


def test_plan_rejects_bad_steps(device):
    model, plan = _plan(device)
    y = gt.tensor(np.zeros(4, np.int32), device=device)
    with pytest.raises(ValueError, match=r"x: expected shape \(4, 7\), got \(3, 7\)"):
        plan.step(gt.tensor(np.zeros((3, 7), np.float32), device=device), y, 1, 0.1)
    with pytest.raises(TypeError, match="x: expected float32 or uint8, got int32"):
        plan.step(gt.tensor(np.zeros((4, 7), np.int32), device=device), y, 1, 0.1)
    with pytest.raises((TypeError, ValueError), match="y"):
        plan.step(gt.tensor(np.zeros((4, 7), np.float32), device=device),
                  gt.tensor(np.zeros(4, np.float32), device=device), 1, 0.1)
    with pytest.raises(ValueError, match="iteration"):
        plan.step(gt.tensor(np.zeros((4, 7), np.float32), device=device), y, 0, 0.1)
    incomplete = gt._core._TrainPlan(device, 4, [7])
    incomplete.add_dense(model.layers[0].params["kernel"], None, "relu")
    with pytest.raises(ValueError, match="loss and optimizer first"):
        incomplete.step(gt.tensor(np.zeros((4, 7), np.float32), device=device), y, 1, 0.1)
    with pytest.raises(ValueError, match="batch"):
        gt._core._TrainPlan(device, 0, [7])
    with pytest.raises(ValueError, match="does not fit"):
        incomplete.add_dense(model.layers[0].params["kernel"], None, "relu")


def test_plans_follow_replaced_weights(device, rng):
    """set_weights/load_weights give layers new tensors: plans built on the old ones are dropped."""
    model = mlp_logits()
    model.compile("sgd", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    x, y = rng.standard_normal((8, 7)).astype(np.float32), rng.integers(0, 3, 8)
    model.fit(x, y, batch_size=8, verbose=0)
    assert model._plans
    zeros = [np.zeros_like(w) for w in model.get_weights()]
    model.set_weights(zeros)
    assert not model._plans
    model.fit(x, y, batch_size=8, verbose=0, shuffle=False)
    # From all-zero weights one SGD step moves only the last bias (every other gradient is zero).
    w = model.get_weights()
    assert not np.any(w[0]) and not np.any(w[2]) and np.any(w[3])
