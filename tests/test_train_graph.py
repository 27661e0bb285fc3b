"""Training steps recorded as a GPU graph and replayed (cpp/core/step_graph.*, the plan's step): the
replay computes exactly what launching each kernel computes, step after step, while the learning rate,
Adam's factor and dropout's masks change; a step costs one graph launch; a runtime that refuses graphs
gives a warning and the same training. Under the CPU emulator the launches are counted."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, plan as plan_module

from conftest import EMULATED_GPU


def _gpu_only(device):
    if device == "cpu":
        pytest.skip("graphs record GPU work; on the CPU a plan runs its kernels directly")


def _model(device):
    gt.utils.set_random_seed(5)
    model = gt.Sequential([layers.Conv2D(4, 3, padding="same", input_shape=(6, 6, 2)), layers.BatchNormalization(),
                           layers.ReLU(), layers.Activation("linear"), layers.Flatten(),
                           layers.Dense(16, activation="relu"), layers.Dropout(0.3), layers.Dense(3)])
    model.compile(gt.optimizers.Adam(0.02), gt.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"],
                  device=device)
    return model


def _train(device, rng_seed=0):
    """Three epochs with a learning rate that changes between them; the weights, slots and history."""
    data = np.random.default_rng(rng_seed)
    x = data.standard_normal((21, 6, 6, 2)).astype(np.float32)
    y = data.integers(0, 3, 21)
    model = _model(device)
    history = []
    for lr in (0.02, 0.005, 0.05):
        model.optimizer.learning_rate = lr
        gt.utils.set_random_seed(9)
        history.append(model.fit(x, y, batch_size=6, epochs=1, verbose=0).history)
    slots = [t.numpy() for key in sorted(model.optimizer.slots) for t in model.optimizer.slots[key].values()]
    return model, model.get_weights() + slots, history


def test_replayed_steps_compute_what_direct_launches_compute(device, monkeypatch):
    _gpu_only(device)
    replayed, replayed_state, replayed_history = _train(device)
    assert {plan.graph_state for plan in replayed._plans.values()} == {"replaying"}
    monkeypatch.setenv("GPUTRAIN_GPU_GRAPHS", "0")
    direct, direct_state, direct_history = _train(device)
    assert {plan.graph_state for plan in direct._plans.values()} == {"off"}
    # The same kernels in the same order: equal to the last bit, though every step had its own
    # dropout mask, Adam factor and (between epochs) learning rate.
    assert len(replayed_state) == len(direct_state)
    for got, want in zip(replayed_state, direct_state):
        np.testing.assert_array_equal(got, want)
    assert replayed_history == direct_history


def test_a_plan_on_the_cpu_has_no_graph():
    model = _model("cpu")
    model.fit(np.zeros((4, 6, 6, 2), np.float32), np.zeros(4, np.int64), batch_size=4, verbose=0)
    assert [plan.graph_state for plan in model._plans.values()] == ["off"]


@pytest.mark.skipif(not EMULATED_GPU, reason="launch counts come from the CPU emulator of the GPU kernels")
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_a_replayed_step_is_one_graph_launch(device, dtype):
    _gpu_only(device)
    from gputrain import _gpuemu
    model = _model(device)
    plan = plan_module.build(model, 4, lambda i, name: f"layers/{i}/{name}")
    assert plan.graph_state == "pending"
    x = gt.tensor(np.random.default_rng(1).integers(0, 9, (4, 6, 6, 2)).astype(dtype), device=device)
    y = gt.tensor(np.array([0, 2, 1, 2], np.int32), device=device)
    before = _gpuemu.counters()
    plan.step(x, y, 1, 0.01)
    assert plan.graph_state == "replaying", plan.graph_failure
    after_first = _gpuemu.counters()
    assert after_first["graph_launches"] == before["graph_launches"] + 1
    for i in range(2, 6):
        plan.step(x, y, i, 0.01)
    now = _gpuemu.counters()
    assert now["graph_launches"] - after_first["graph_launches"] == 4
    # Per step outside the graph: the step values, and the uint8 conversion when x is uint8 (the copies
    # of x and y are copies, not kernels).
    per_step = 2 if dtype == np.uint8 else 1
    assert now["kernel_launches"] - after_first["kernel_launches"] == 4 * per_step


@pytest.mark.skipif(not EMULATED_GPU, reason="the CPU emulator stands in for a runtime without graphs")
def test_a_runtime_without_graphs_trains_the_same_after_a_warning(device, monkeypatch):
    _gpu_only(device)
    _, replayed_state, _ = _train(device)
    monkeypatch.setenv("GT_EMU_GRAPHS", "uninstantiable")
    with pytest.warns(RuntimeWarning, match="GPU graph failed.*not supported"):
        fallback, fallback_state, _ = _train(device)
    assert {plan.graph_state for plan in fallback._plans.values()} == {"failed"}
    assert all("GT_EMU_GRAPHS=uninstantiable" in plan.graph_failure for plan in fallback._plans.values())
    for got, want in zip(fallback_state, replayed_state):
        np.testing.assert_array_equal(got, want)
