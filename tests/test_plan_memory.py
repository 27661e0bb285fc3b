"""Memory planning of a plan's buffers: values and gradients whose lifetimes in the step do not overlap share
memory, which changes no result (the same steps with and without reuse give identical weights) and cuts
what a plan holds."""
import numpy as np

import gputrain as gt
from gputrain import applications, layers

ROW = 1000


def _plan_bytes(device, reuse, training=False, count=10, batch=4):
    plan = gt._core._TrainPlan(device, batch, [ROW], graphs=False, training=training, reuse_memory=reuse)
    for _ in range(count):
        plan.add_activation("relu")
    plan.predict(gt.tensor(np.ones((batch, ROW), np.float32), device=device))  # completes the plan
    return plan.buffer_bytes, batch * ROW * 4


def test_a_chain_of_layers_reuses_two_buffers(device):
    # Each value lives from its layer to the next: two buffers (and the input) serve ten layers.
    reused, size = _plan_bytes(device, True)
    separate, _ = _plan_bytes(device, False)
    assert separate >= 11 * size and reused < 3.5 * size


def test_reuse_changes_no_result_of_training(device):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 8, 8, 3)).astype(np.float32), rng.integers(0, 10, 24)
    weights = []
    for reuse in (True, False):
        gt.utils.set_random_seed(1)
        inp = gt.Input((8, 8, 3))
        out = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(
            layers.Add()([layers.Conv2D(3, 3, padding="same")(inp), inp])))
        model = gt.Model(inp, out)
        model.compile("adam", "sparse_categorical_crossentropy", device=device, run_eagerly=not reuse)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        plan = next(iter(model._plans.values()))
        weights.append((model.get_weights(), plan.buffer_bytes))
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_array_equal(a, b)
    assert weights[0][1] < weights[1][1]


def test_resnet50_training_plan_holds_a_third_of_its_unplanned_activation_buffers():
    model = applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10)
    model.compile(gt.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy", device="cpu")
    held = {}
    for reuse in (True, False):
        plan = gt._core._TrainPlan("cpu", 2, [64, 64, 3], graphs=False, training=True, reuse_memory=reuse)
        model._add_to_plan(plan, [0])
        plan.predict(gt.tensor(np.zeros((2, 64, 64, 3), np.float32)))
        held[reuse] = plan.buffer_bytes
    gradients = sum(t.size * 4 for t in model.trainable_weights)  # the parameters' gradients: never shared
    assert held[True] - gradients < 0.35 * (held[False] - gradients)
