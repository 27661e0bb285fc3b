"""gt.metrics objects: in compile (on the device, logged under their name, checked against the loss) and on
their own (update_state / result / reset_state) for the mean errors, Mean and Sum."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, metrics
from gputrain.unsupported import NotSupportedError


def test_metric_objects_in_compile_are_logged_under_their_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    gt.utils.set_random_seed(0)
    model = gt.Sequential([gt.Input((4,)), layers.Dense(3)])
    model.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[metrics.SparseCategoricalAccuracy(name="acc"), "accuracy"], device="cpu")
    history = model.fit(x, y, epochs=1, verbose=0).history
    assert list(history) == ["loss", "acc", "accuracy"] and history["acc"] == history["accuracy"]
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device="cpu")
    assert loaded.metrics == ["sparse_categorical_accuracy", "accuracy"]  # an object's own name is not kept
    regression = gt.Sequential([gt.Input((4,)), layers.Dense(1)])
    regression.compile("sgd", "mse", metrics=[metrics.RootMeanSquaredError(), metrics.MeanAbsoluteError(name="e")],
                       device="cpu")
    targets = x[:, :1] * 2
    logs = regression.evaluate(x, targets, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "root_mean_squared_error", "e"]
    assert logs["root_mean_squared_error"] == pytest.approx(np.sqrt(logs["loss"]), rel=1e-6)
    with pytest.raises(ValueError, match="CategoricalAccuracy needs categorical labels, but the loss "
                                         "sparse_categorical_crossentropy takes sparse labels"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[metrics.CategoricalAccuracy()])
    with pytest.raises(ValueError, match="Mean aggregates values you give it"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[metrics.Mean()])


def test_mean_errors_mean_and_sum_on_their_own():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 2)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    ta, tb = rng.standard_normal((5, 2)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    mae, rmse = metrics.MeanAbsoluteError(), metrics.RootMeanSquaredError()
    for m in (mae, rmse):
        m.update_state(ta, a)
        m.update_state(tb, b)
    errors = np.concatenate([a - ta, b - tb]).astype(np.float64)
    assert mae.result() == pytest.approx(np.abs(errors).mean(), rel=1e-5)
    assert rmse.result() == pytest.approx(np.sqrt((errors ** 2).mean()), rel=1e-5)
    mae.reset_state()
    assert mae.result() == 0.0
    mean, total = metrics.Mean(), metrics.Sum()
    mean.update_state([1.0, 2.0, 3.0])
    mean.update_state([10.0], sample_weight=[3.0])
    total.update_state([1.0, 2.0])
    assert mean.result() == pytest.approx((6 + 30) / 6) and total.result() == 3.0
    with pytest.raises(NotSupportedError, match="update_state outside compile is not supported yet"):
        metrics.SparseCategoricalAccuracy().update_state([0], [[1.0, 0.0]])
    with pytest.raises(NotSupportedError, match="AUC is not supported yet"):
        metrics.AUC()
