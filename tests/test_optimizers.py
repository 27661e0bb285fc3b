"""Every optimizer with its options through gputrain's own checkpoints (a resumed run takes the steps an
uninterrupted one takes), its configs, its refusals, and NaN. Their update rules against Keras's are in
test_keras_files.py (fixtures Keras wrote)."""
import math

import numpy as np
import pytest

import gputrain as gt
from gputrain.unsupported import NotSupportedError

OPTIMIZERS = {
    "sgd_nesterov_clipnorm": lambda: gt.optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=0.5),
    "adam_amsgrad_decay": lambda: gt.optimizers.Adam(0.01, amsgrad=True, weight_decay=0.01),
    "adamw": lambda: gt.optimizers.AdamW(0.01),
    "rmsprop_centered_clipvalue": lambda: gt.optimizers.RMSprop(0.01, momentum=0.5, centered=True, clipvalue=0.1),
    "adamax": lambda: gt.optimizers.Adamax(0.02, global_clipnorm=1.0),
    "nadam": lambda: gt.optimizers.Nadam(0.01),
    "adagrad": lambda: gt.optimizers.Adagrad(0.1, initial_accumulator_value=0.2),
    "adadelta": lambda: gt.optimizers.Adadelta(1.0),
    "lion": lambda: gt.optimizers.Lion(0.003),
}


def _model(make, device):
    gt.utils.set_random_seed(3)
    model = gt.Sequential([gt.Input((5,)), gt.layers.Dense(7, activation="relu"), gt.layers.Dense(3)])
    model.compile(make(), gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    return model


def _batches():
    rng = np.random.default_rng(4)
    return rng.standard_normal((6, 8, 5)).astype(np.float32), rng.integers(0, 3, (6, 8))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_checkpoint_resumes_the_optimizer_exactly(name, device, tmp_path):
    xs, ys = _batches()
    straight = _model(OPTIMIZERS[name], device)
    for x, y in zip(xs, ys):
        straight.train_on_batch(x, y)
    first = _model(OPTIMIZERS[name], device)
    for x, y in zip(xs[:3], ys[:3]):
        first.train_on_batch(x, y)
    first.save(tmp_path / "half.safetensors")
    resumed = gt.models.load_model(tmp_path / "half.safetensors", device=device)
    assert type(resumed.optimizer) is type(first.optimizer)
    assert resumed.optimizer.get_config() == first.optimizer.get_config()
    for x, y in zip(xs[3:], ys[3:]):
        resumed.train_on_batch(x, y)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_adagrad_starts_its_accumulator_where_asked(device):
    """One step from an accumulator of 0.25: a = 0.25 + g² and Δp = −lr·g/√(a + ε), so
    Δp²·(a + ε)/lr² = a − 0.25 element by element (an accumulator started at 0 would break it)."""
    model = _model(lambda: gt.optimizers.Adagrad(0.1, initial_accumulator_value=0.25), device)
    x, y = _batches()
    before = model.get_weights()
    model.train_on_batch(x[0], y[0])
    index = {id(layer): i for i, layer in enumerate(model.layers)}
    for k, (layer, name) in enumerate((l, n) for l in model.layers for n in l.params):
        a = model.optimizer.slots[f"layers/{index[id(layer)]}/{name}"]["accumulator"].numpy()
        step = model.get_weights()[k] - before[k]
        np.testing.assert_allclose(step ** 2 * (a + 1e-7) / 0.01, a - 0.25, rtol=1e-3, atol=1e-6)
        assert (a > 0.25).any()


def test_options_are_checked_as_keras_checks_them():
    with pytest.raises(ValueError, match="give at most one of clipnorm, clipvalue and global_clipnorm"):
        gt.optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        gt.optimizers.SGD(weight_decay=-0.1)
    with pytest.raises(ValueError, match="clipnorm"):
        gt.optimizers.SGD(clipnorm=0.0)
    with pytest.raises(NotSupportedError, match="use_ema"):
        gt.optimizers.Adam(use_ema=True)
    with pytest.raises(TypeError, match="unexpected argument"):
        gt.optimizers.Lion(epsilon=1e-7)
    with pytest.raises(ValueError, match="beta_1"):
        gt.optimizers.Nadam(beta_1=1.0)
    assert gt.optimizers.get("adamw").weight_decay == 0.004
    assert isinstance(gt.optimizers.get("Nadam"), gt.optimizers.Nadam)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}, {"clipvalue": 1.0}, {}])
def test_a_nan_gradient_is_not_clipped_away(clip, device):
    """A NaN weight makes every logit, and so the output layer's gradients, NaN; clipping must not turn
    them into numbers (NumPy's rule: NaN propagates)."""
    model = _model(lambda: gt.optimizers.Adam(0.01, **clip), device)
    weights = model.get_weights()
    weights[0][0, :] = np.nan
    model.set_weights(weights)
    x, y = _batches()
    model.train_on_batch(x[0], y[0])
    assert np.isnan(model.get_weights()[3]).all()


def test_norm_clipping_caps_the_step(device):
    """With a huge learning-rate-free rule (SGD, lr 1) and clipnorm c, no weight moves by more than c."""
    model = _model(lambda: gt.optimizers.SGD(1.0, clipnorm=0.01), device)
    x, y = _batches()
    before = model.get_weights()
    model.train_on_batch(x[0] * 100, y[0])
    for a, b in zip(before, model.get_weights()):
        assert np.linalg.norm(b - a) <= 0.01 * (1 + 1e-5)
    model = _model(lambda: gt.optimizers.SGD(1.0, global_clipnorm=0.01), device)
    before = model.get_weights()
    model.train_on_batch(x[0] * 100, y[0])
    total = math.sqrt(sum(float(np.sum((b - a) ** 2)) for a, b in zip(before, model.get_weights())))
    assert total == pytest.approx(0.01, rel=1e-4)
