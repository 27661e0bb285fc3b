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
    # An automatic name (sequential_N, which depends on what ran before) is saved under its base.
    assert [p.name for p in saved] == [f"sequential-{architecture_key(model.get_config())}.safetensors"]


def test_resume_skips_other_models_in_a_shared_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    layers.clear_session()
    first = model_with(8)
    first.fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    other = model_with(16)  # another notebook's model, unnamed as well: "sequential" too
    other.fit(x, y, batch_size=16, epochs=1, verbose=0, resume=True)
    out = capsys.readouterr().out
    assert "no checkpoint of 'sequential' with this architecture" in out and "Resuming" not in out
    assert "1 other model checkpoint(s) there left alone" in out
    assert len(list(tmp_path.glob("*.safetensors"))) == 2  # neither overwrote the other

    layers.clear_session()
    layers.Dense(3)  # a layer made first shifts the automatic names (dense_1, ...): still the same model
    again = model_with(8)
    history = again.fit(x, y, batch_size=16, epochs=3, verbose=0, resume=True)
    assert "Resuming 'sequential' from" in capsys.readouterr().out
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


# ---- resuming in the next session ------------------------------------------------------------------

def test_nothing_left_to_train_says_so_and_the_checkpoint_knows_its_file(tmp_path, monkeypatch, capsys):
    # The notebooks' second session: the training cell has nothing left to do, and the cell after it
    # loads `checkpoint.last_path`, which must be the file resumed from (it was None, and load_model
    # raised TypeError on it).
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    model_with(8).fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    saved = tmp_path / f"sequential-{architecture_key(model_with(8).get_config())}.safetensors"
    before = saved.read_bytes()
    capsys.readouterr()
    checkpoint = gt.callbacks.ModelCheckpoint()
    again = model_with(8)
    history = again.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[checkpoint], resume=True)
    out = capsys.readouterr().out
    assert "already trained 2 of 2 epochs; nothing to do — pass epochs=N (N > 2) to train further" in out
    assert checkpoint.last_path == saved and saved.read_bytes() == before
    assert history.epoch == [0, 1] and again.optimizer.iterations == 8
    assert gt.models.load_model(checkpoint.last_path).training_state["epoch"] == 2


def test_progress_is_counted_in_epochs_completed_on_every_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    model_with(8).fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    capsys.readouterr()
    again = model_with(8)
    again.fit(x, y, batch_size=16, epochs=3, verbose=1, resume=True)
    out = capsys.readouterr().out
    assert "2 epochs completed (8 steps)" in out and "Epoch 3/3" in out and "Epoch 2/3" not in out
    loaded = gt.models.load_model(next(tmp_path.glob("*.safetensors")))
    assert (loaded.training_state["epoch"], loaded.training_state["samples"]) == (3, 0)


def test_resume_matches_the_name_too_and_says_how_to_start_fresh(tmp_path, monkeypatch, capsys):
    # `gputrain train mnist`'s model and the README's unnamed one share the architecture: the unnamed
    # one must not resume from the quickstart's checkpoint.
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    named = gt.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2)], name="mine")
    named.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    named.fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    capsys.readouterr()
    unnamed = model_with(8)
    unnamed.fit(x, y, batch_size=16, epochs=1, verbose=0, resume=True)
    out = capsys.readouterr().out
    assert "Resuming" not in out and "no checkpoint of 'sequential' with this architecture" in out
    assert unnamed.optimizer.iterations == 4
    renamed = gt.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2)], name="mine")
    renamed.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    renamed.fit(x, y, batch_size=16, epochs=3, verbose=0, resume=True)
    out = capsys.readouterr().out
    assert f"Resuming 'mine' from {tmp_path / 'mine-'}" in out
    assert "the newest checkpoint of this model's name and architecture" in out
    assert "To start from scratch instead, fit without resume=True or delete that file" in out
    assert renamed.optimizer.iterations == 3 * 4


def test_resume_with_another_batch_size_skips_no_sample(tmp_path):
    # Saved mid-epoch after 3 steps of 8 (24 samples); resumed with batches of 16: the epoch continues
    # at sample 24 of the same shuffled order, so every sample is trained on exactly once.
    x, y = problem(64)
    seen = []

    class Rows(gt.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model.training_state["samples"])

    class Stop(gt.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations == 3:
                self.model.stop_training = True

    path = tmp_path / "run.safetensors"
    first = model_with(8)
    first.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path, save_freq=3), Stop()])
    assert gt.models.load_model(path).training_state["samples"] == 24
    again = model_with(8)
    again.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path), Rows()],
              resume=True)
    assert seen == [40, 56, 64]  # 24 + 16, + 16, then the last 8
    assert again.optimizer.iterations == 3 + 3


def test_a_fresh_fit_never_overwrites_a_checkpoint_trained_further(tmp_path, capsys):
    x, y = problem()
    path = tmp_path / "run.safetensors"
    long = model_with(8)
    long.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)])
    kept = path.read_bytes()
    short = model_with(8)
    short.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)])
    out = capsys.readouterr().out
    aside = list(tmp_path.glob("run.kept-*.safetensors"))
    assert len(aside) == 1 and aside[0].read_bytes() == kept
    assert f"{path} held a model trained further than this one: kept as {aside[0]}" in out
    assert gt.models.load_model(path).optimizer.iterations == 4  # the new run's file
    # A file this fit wrote or resumed from is its own to replace: no copy for each epoch.
    short.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)],
              resume=True)
    assert len(list(tmp_path.glob("run.kept-*.safetensors"))) == 1


def test_a_version_1_checkpoint_resumes_where_it_stopped(tmp_path):
    # Written by gputrain before progress was counted in epochs completed: {"epoch": index of the epoch
    # in progress, "step": its steps done}, at batch 16 here (4 steps an epoch).
    import json
    from gputrain import safetensors_io

    x, y = problem()
    path = tmp_path / "old.safetensors"
    model = model_with(8)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.training_state = {"epoch": 1, "step": 2, "seed": 11, "history": {"loss": [0.7]}}
    model.save(path)
    tensors, metadata = safetensors_io.load_file(path)
    info = json.loads(metadata["gputrain"])
    info["format"] = "gputrain.model/1"
    info.pop("checkpoint_name")
    safetensors_io.save_file(path, tensors, {"gputrain": json.dumps(info)})
    again = model_with(8)
    history = again.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)],
                        resume=True)
    assert again.optimizer.iterations == 4 + 2  # the two steps left of the second epoch
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2


def test_a_diverged_model_is_never_saved_over_a_good_checkpoint(tmp_path, capsys):
    x, y = problem()
    path = tmp_path / "run.safetensors"
    model = model_with(8)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)])
    good = path.read_bytes()
    weights = model.get_weights()
    weights[-1][0] = np.nan  # the output layer's bias: every logit of class 0 becomes NaN
    model.set_weights(weights)
    with pytest.warns(RuntimeWarning, match="fit stopped: the loss became NaN or infinite in epoch 1"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)])
    assert path.read_bytes() == good
    assert "not saved to" in capsys.readouterr().out


@pytest.mark.parametrize("stop_at", [2, 4], ids=["mid_epoch", "after_the_last_step"])
def test_an_interrupted_epoch_is_finished_with_the_logs_of_all_its_samples(tmp_path, stop_at):
    # Interrupted right after a checkpoint of step `stop_at` (4 steps an epoch): after the last step of an
    # epoch but before its end was recorded, the resumed fit must record that epoch, not train it again
    # or skip it; part way, the epoch's logs must still be the means over all of its samples.
    x, y = problem()
    gt.utils.set_random_seed(3)
    straight = model_with(8)
    expected = straight.fit(x, y, batch_size=16, epochs=2, verbose=0).history

    class Interrupt(gt.callbacks.Callback):
        reads_batch_logs = False  # the running loss is read from the device only for the save

        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations == stop_at:
                raise KeyboardInterrupt  # as a notebook's interrupt button, or a kill after the save

    path = tmp_path / "run.safetensors"
    gt.utils.set_random_seed(3)
    first = model_with(8)
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path, save_freq=1),
                                                                      Interrupt()])
    again = model_with(8)
    history = again.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)],
                        resume=True).history
    assert again.optimizer.iterations == 8
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
