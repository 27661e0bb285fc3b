"""Keras's element-wise losses (mean squared / absolute / absolute percentage / squared logarithmic error,
Huber, log-cosh, Poisson) and the metrics computed beside a loss (mae, mse, rmse, ..., and accuracy by the
names Keras knows), against float64 NumPy formulas written here from Keras's definitions, on every
backend: value, gradient, NaN, and their names and checks in compile and in the logs."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, losses

EPS = 1e-7


def _huber(p, t, delta=1.0):
    e = p - t
    return np.where(np.abs(e) <= delta, 0.5 * e * e, delta * np.abs(e) - 0.5 * delta * delta)


# f(p, t) per element, in float64, as keras.losses defines them (before the mean).
FORMULAS = {
    "mean_squared_error": lambda p, t: (p - t) ** 2,
    "mean_absolute_error": lambda p, t: np.abs(p - t),
    "mean_absolute_percentage_error": lambda p, t: 100 * np.abs((t - p) / np.maximum(np.abs(t), EPS)),
    "mean_squared_logarithmic_error":
        lambda p, t: (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2,
    "huber": _huber,
    "log_cosh": lambda p, t: np.log(np.cosh(p - t)),
    "poisson": lambda p, t: p - t * np.log(p + EPS),
}


def _plan_loss(device, name, predictions, targets, param=0.0, metrics=()):
    """(loss, d loss / d predictions, metric values) of one plan step whose output is `predictions`: a
    dense layer over the identity, whose kernel is the predictions, so its gradient is the output's."""
    k = len(predictions)
    plan = gt._core._TrainPlan(device, k, [k], graphs=False)
    kernel = gt.tensor(predictions.astype(np.float32), device=device)
    plan.add_dense(kernel, None, None)
    plan.add_loss(name, False, -1, 1.0, list(metrics), param)
    plan.set_optimizer("sgd", {}, [[], [], []])
    plan.step(gt.tensor(np.eye(k, dtype=np.float32), device=device),
              gt.tensor(targets.astype(np.float32), device=device), 1, 0.0)
    sums = plan.metrics()
    return sums[0], plan.gradients()[0].numpy(), sums[1:1 + len(metrics)]


def _numeric_grad(f, p, t, h=1e-6):
    grad = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up, t).mean() - f(down, t).mean()) / (2 * h)
    return grad


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_each_loss_and_its_gradient_equal_the_float64_formula(device, rng, name):
    k = 7
    # Predictions and targets positive where the formula takes logs; kept away from kinks (|p − t| = delta
    # for Huber, p = t for the absolute errors), where a derivative is a choice.
    p = rng.uniform(0.2, 3.0, (k, k)) if name in ("poisson", "mean_squared_logarithmic_error") else \
        rng.standard_normal((k, k)) * 2
    t = rng.uniform(0.1, 3.0, (k, k)) if name != "mean_absolute_percentage_error" else rng.standard_normal((k, k))
    p = np.where(np.abs(np.abs(p - t) - 1.0) < 0.05, p + 0.2, p)
    metrics = [] if name == "huber" else [name]  # Keras has no Huber metric (it would need the delta)
    loss, grad, metric = _plan_loss(device, name, p, t, 1.0 if name == "huber" else 0.0, metrics=metrics)
    want = FORMULAS[name](p.astype(np.float32).astype(np.float64), t.astype(np.float32).astype(np.float64))
    assert loss == pytest.approx(want.mean(), rel=2e-6)
    for value in metric:
        assert value == pytest.approx(want.mean(), rel=2e-6)  # the same formula as a metric (no gradient)
    want_grad = _numeric_grad(FORMULAS[name], p.astype(np.float64), t.astype(np.float64))
    assert np.linalg.norm(grad - want_grad) <= 1e-5 * np.linalg.norm(want_grad)


def test_huber_delta_and_nan_propagate(device):
    p = np.array([[0.0, 3.0], [-5.0, np.nan]])
    t = np.zeros((2, 2))
    loss, grad, _ = _plan_loss(device, "huber", np.nan_to_num(p), t, param=2.0)
    assert loss == pytest.approx(_huber(np.nan_to_num(p), t, 2.0).mean())
    np.testing.assert_allclose(grad, np.array([[0.0, 2.0], [-2.0, 0.0]]) / 4)
    for name in FORMULAS:
        loss, grad, (metric,) = _plan_loss(device, name, np.abs(p) + 0.5, t + 1.0, 1.0,
                                           metrics=["mean_absolute_error"])
        assert np.isnan(loss) and np.isnan(metric) and np.isnan(grad[1, 1]), name
        # the other elements' gradients stay numbers (the kernel's column 1 meets the NaN in the dense layer's
        # product with the identity, 0·NaN)
        assert np.isfinite(grad[:, 0]).all(), name


def test_regression_fit_logs_keras_metric_names_and_their_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 0.3).astype(np.float32)
    gt.utils.set_random_seed(1)
    model = gt.Sequential([gt.Input((4,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    model.compile(gt.optimizers.Adam(0.02), "mse", metrics=["mae", "rmse", "mean_squared_error"], device="cpu")
    history = model.fit(x, y, batch_size=32, epochs=30, verbose=0).history
    assert list(history) == ["loss", "mae", "rmse", "mean_squared_error"]
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    np.testing.assert_allclose(history["rmse"], np.sqrt(history["loss"]), rtol=1e-5)
    np.testing.assert_allclose(history["mean_squared_error"], history["loss"], rtol=1e-6)
    error = model.predict(x).astype(np.float64) - y
    loss, mae, rmse, mse = model.evaluate(x, y, batch_size=40, verbose=0)  # batches of 40, 40 and 16
    assert loss == pytest.approx(np.mean(error ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
    assert rmse == pytest.approx(np.sqrt(np.mean(error ** 2)), rel=1e-5)


def test_loss_names_metric_names_and_their_checks(tmp_path):
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("MeanAbsoluteError"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("logcosh"), losses.LogCosh)
    with pytest.raises(ValueError, match="'hinge' is not one of"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="delta"):
        losses.Huber(delta=-1.0)
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def model():
        return gt.Sequential([gt.Input((3,)), layers.Dense(2, activation="softmax")])

    m = model()
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc", "sparse_categorical_accuracy"], device="cpu")
    history = m.fit(x, y, epochs=1, verbose=0).history
    assert list(history) == ["loss", "acc", "sparse_categorical_accuracy"]
    assert history["acc"] == history["sparse_categorical_accuracy"]
    with pytest.raises(ValueError, match="'mae' compares outputs with targets of their shape, but the loss"):
        model().compile("sgd", "sparse_categorical_crossentropy", metrics=["mae"])
    with pytest.raises(ValueError, match="'categorical_accuracy' needs categorical labels, but the loss "
                                         "sparse_categorical_crossentropy takes sparse labels"):
        model().compile("sgd", "sparse_categorical_crossentropy", metrics=["categorical_accuracy"])
    with pytest.raises(ValueError, match="'auc' is not supported; gputrain has accuracy, acc"):
        model().compile("sgd", "sparse_categorical_crossentropy", metrics=["auc"])
    h = gt.Sequential([gt.Input((3,)), layers.Dense(1)])
    h.compile("sgd", losses.Huber(delta=0.5), metrics=["binary_accuracy"], device="cpu")
    h.save(tmp_path / "h.safetensors")
    loaded = gt.models.load_model(tmp_path / "h.safetensors", device="cpu")
    assert isinstance(loaded.loss, losses.Huber) and loaded.loss.delta == 0.5
    assert loaded.metrics == ["binary_accuracy"]
    yf = y.astype(np.float32)
    assert loaded.evaluate(x, yf, verbose=0) == h.evaluate(x, yf, verbose=0)


def test_losses_are_callable_as_keras_loss_fn(rng):
    """loss_fn(y_true, y_pred) gives a scalar gt.Tensor (the quickstart's loss_fn(y, predictions).numpy()),
    from NumPy arrays or gt.Tensors, equal to each loss's formula."""
    p = rng.uniform(0.1, 2.0, (6, 4)).astype(np.float32)
    t = rng.uniform(0.1, 2.0, (6, 4)).astype(np.float32)
    for name, formula in FORMULAS.items():
        got = losses.get(name)(t, p)
        assert isinstance(got, gt.Tensor) and got.shape == ()
        assert float(got.numpy()) == pytest.approx(formula(p.astype(np.float64), t.astype(np.float64)).mean(), rel=2e-6)
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 5)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    want = -log_p[np.arange(5), labels].mean()
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss_fn(labels, logits).numpy()) == pytest.approx(want, rel=1e-6)
    assert float(loss_fn(labels[:, None], gt.tensor(logits)).numpy()) == pytest.approx(want, rel=1e-6)
    probabilities = np.exp(log_p).astype(np.float32)
    assert float(losses.SparseCategoricalCrossentropy()(labels, probabilities).numpy()) == pytest.approx(want, rel=1e-5)
    assert float(losses.CategoricalCrossentropy()(np.eye(3)[labels], probabilities).numpy()) == \
        pytest.approx(want, rel=1e-5)
    flags = (rng.random((5, 1)) > 0.5).astype(np.float32)
    z = rng.standard_normal((5, 1)).astype(np.float32)
    bce = np.mean(np.maximum(z, 0) - z * flags + np.log1p(np.exp(-np.abs(z))))
    assert float(losses.BinaryCrossentropy(from_logits=True)(flags, z).numpy()) == pytest.approx(bce, rel=1e-5)
    assert float(losses.Huber(delta=0.5)(t, p).numpy()) == pytest.approx(_huber(p, t, 0.5).mean(), rel=1e-5)
    with pytest.raises(NotImplementedError, match="sample_weight"):
        loss_fn(labels, logits, sample_weight=np.ones(5))
