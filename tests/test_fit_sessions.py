"""What keeps a training run through the end of a notebook session: the save near the platform's limit,
and resume=True finding this model's checkpoint (and no other's) in a folder every notebook shares."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, session
from gputrain.models import architecture_key


def problem(n=64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model_with(units: int):
    model = gt.Sequential([layers.Input((6,)), layers.Dense(units, activation="relu"), layers.Dense(2)])
    model.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    return model


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_guard_saves_near_the_limit_then_every_few_minutes():
    clock, saves = FakeClock(), []
    left = {"s": 3600.0}
    guard = session.SessionGuard(lambda: saves.append(clock.t) or "ckpt", margin_s=900, check_every_s=30,
                                 resave_s=300, clock=clock, seconds_left=lambda: left["s"] - clock.t)
    guard.check()
    assert saves == []  # an hour left
    left["s"] = 100.0 + 901
    clock.t = 110.0
    guard.check()
    assert saves == []  # not looked again before check_every_s
    clock.t = 131.0
    with pytest.warns(UserWarning, match=r"session ends in about 14 minutes: saved ckpt"):
        guard.check()
    assert saves == [131.0]
    for t in range(140, 1000, 10):
        clock.t = float(t)
        guard.check()
    assert saves == [131.0, 440.0, 740.0]  # again after 300 s, looked at every 30 s (170, 200, ...)


def test_guard_without_a_platform_limit_never_saves():
    clock, saves = FakeClock(), []
    guard = session.SessionGuard(lambda: saves.append(1), margin_s=900, clock=clock, seconds_left=lambda: None)
    for t in range(0, 10000, 7):
        clock.t = float(t)
        guard.check()
    failing = session.SessionGuard(lambda: saves.append(1), margin_s=900, clock=clock,
                                   seconds_left=lambda: 1 / 0)
    failing.check()  # a platform probe that fails must not stop training
    assert saves == []


def test_fit_with_short_epochs_saves_before_the_session_ends(tmp_path, monkeypatch):
    # Two steps an epoch: the guard must look from the first step on, not every N steps of an epoch.
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(session, "seconds_left", lambda: 120.0)
    x, y = problem(64)
    model = model_with(8)
    with pytest.warns(UserWarning, match="session ends in about 2 minutes"):
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    saved = list(tmp_path.glob("*.safetensors"))
    assert [p.name for p in saved] == [f"{model.name}-{architecture_key(model.get_config())}.safetensors"]


def test_resume_skips_other_models_in_a_shared_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    layers.clear_session()
    first = model_with(8)
    first.fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    other = model_with(16)  # another notebook's model, unnamed as well: "sequential" too
    other.fit(x, y, batch_size=16, epochs=1, verbose=0, resume=True)
    out = capsys.readouterr().out
    assert "none of the 1 checkpoints" in out and "Resuming" not in out
    assert len(list(tmp_path.glob("*.safetensors"))) == 2  # neither overwrote the other

    layers.clear_session()
    layers.Dense(3)  # a layer made first shifts the automatic names (dense_1, ...): still the same model
    again = model_with(8)
    history = again.fit(x, y, batch_size=16, epochs=3, verbose=0, resume=True)
    assert "Resuming from" in capsys.readouterr().out
    assert len(history.history["loss"]) == 3 and again.optimizer.iterations == 3 * 4
    np.testing.assert_allclose(history.history["loss"][:2], first.history.history["loss"], rtol=1e-6)


def test_architecture_key_ignores_names_only():
    layers.clear_session()
    a, b = model_with(8), model_with(8)
    assert a.layers[0].name != b.layers[0].name
    assert architecture_key(a.get_config()) == architecture_key(b.get_config())
    assert architecture_key(a.get_config()) != architecture_key(model_with(9).get_config())
    sigmoid = gt.Sequential([layers.Input((6,)), layers.Dense(8, activation="sigmoid"), layers.Dense(2)])
    assert architecture_key(sigmoid.get_config()) != architecture_key(a.get_config())
