"""What fit refuses before it starts (counts that are not integers, NaN in the data, a checkpoint folder
that is a file) and what it does when training diverges: stop, say where, and keep good checkpoints."""
import math

import numpy as np
import pytest

import gputrain as gt
from gputrain import callbacks, layers, trainer

import reference_training


def problem(n=64, features=6, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model(optimizer="adam", eagerly=False, device="cpu"):
    m = gt.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2)])
    m.compile(optimizer, gt.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"], device=device,
              run_eagerly=eagerly)
    return m


@pytest.mark.parametrize("argument, value, error", [
    ("epochs", 2.5, TypeError), ("epochs", -1, ValueError), ("epochs", True, TypeError),
    ("epochs", "5", TypeError), ("batch_size", 0, ValueError), ("batch_size", 16.0, TypeError),
    ("initial_epoch", -1, ValueError), ("initial_epoch", 1.5, TypeError),
    ("verbose", 3, ValueError), ("validation_split", 1.0, ValueError), ("validation_split", math.nan, TypeError),
])
def test_fit_checks_its_counts_before_anything_is_written(tmp_path, argument, value, error):
    x, y = problem()
    path = tmp_path / "ck.safetensors"
    m = model()
    arguments = {"verbose": 0, argument: value}
    with pytest.raises(error, match=argument):
        m.fit(x, y, callbacks=[callbacks.ModelCheckpoint(path)], **arguments)
    assert not path.exists() and m.optimizer.iterations == 0


@pytest.mark.parametrize("arguments, error", [
    ({"save_freq": 0}, ValueError), ({"save_freq": 1.5}, TypeError), ({"save_freq": True}, TypeError),
    ({"every_minutes": 0}, ValueError), ({"every_minutes": math.inf}, TypeError), ({"mode": "best"}, ValueError),
])
def test_checkpoint_arguments_are_checked(arguments, error):
    with pytest.raises(error, match=next(iter(arguments))):
        callbacks.ModelCheckpoint(**arguments)


def test_early_stopping_takes_keras_arguments_and_checks_them(capsys):
    with pytest.raises(ValueError, match="patience"):
        callbacks.EarlyStopping(patience=-1)
    x, y = problem()
    m = model(gt.optimizers.SGD(1e-9))  # learns nothing: stops after patience epochs
    m.fit(x, y, epochs=10, verbose=0, callbacks=[callbacks.EarlyStopping(monitor="loss", min_delta=1.0,
                                                                        patience=1, verbose=1)])
    assert "Epoch 2: early stopping" in capsys.readouterr().out


def test_a_checkpoint_folder_that_is_a_file_is_refused_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(blocker))
    x, y = problem()
    m = model()
    with pytest.raises(NotADirectoryError, match=f"{blocker} is a file, not a folder"):
        m.fit(x, y, epochs=1, verbose=0, resume=True)
    assert m.optimizer.iterations == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_the_data_is_named_by_its_sample(bad):
    x, y = problem()
    x[37, 4] = bad
    with pytest.raises(ValueError, match=rf"x: sample 37 holds {bad}"):
        model().fit(x, y, verbose=0)
    xv, yv = problem(16, seed=6)
    xv[3, 0] = bad
    with pytest.raises(ValueError, match="validation_data x: sample 3"):
        model().fit(*problem(), validation_data=(xv, yv), verbose=0)


@pytest.mark.parametrize("eagerly", [False, True], ids=["compiled", "eagerly"])
def test_fit_stops_when_the_loss_diverges_and_names_where(eagerly, capsys):
    x, y = problem(320)
    m = model(gt.optimizers.SGD(1e30), eagerly=eagerly)  # the first steps blow the weights up

    class Steps(callbacks.Callback):
        reads_batch_logs = True  # every step's loss is read: the step is named exactly

    with pytest.warns(RuntimeWarning) as caught:
        history = m.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[Steps()])
    message = str(caught[0].message)
    assert message.startswith("fit stopped: the loss became NaN or infinite in epoch 1, at step ")
    assert "Check the inputs and labels for NaN, Inf or huge values, or lower the learning rate" in message
    step = int(message.split("at step ")[1].split(".")[0])
    assert m.optimizer.iterations == step < 10  # stopped there, not at the end of three epochs
    assert len(history.history["loss"]) == 1 and not math.isfinite(history.history["loss"][0])


def test_terminate_on_nan_stops_at_the_first_invalid_batch(capsys):
    x, y = problem(320)
    m = model(gt.optimizers.SGD(1e30))
    with pytest.warns(RuntimeWarning, match="fit stopped"):
        m.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    out = capsys.readouterr().out
    assert f"Batch {m.optimizer.iterations - 1}: Invalid loss, terminating training" in out


def test_optimizer_hyper_parameters_are_refused_the_same_way_on_both_paths():
    for make in (lambda: gt.optimizers.RMSprop(rho=1.5), lambda: gt.optimizers.Adam(beta_1=1.0),
                 lambda: gt.optimizers.SGD(momentum=-0.1), lambda: gt.optimizers.Adam(learning_rate=0)):
        with pytest.raises(ValueError, match="expected a number in"):
            make()


def test_compiled_steps_name_the_first_bad_step_without_reading_every_loss(device, monkeypatch):
    # The device marks the first step whose loss was not finite; the host reads it only once it sees the
    # running loss go bad (at the epoch's end, or after a second: never here, as slow steps under the
    # GPU emulator would take seconds), and names the same step as a run that read every loss.
    monkeypatch.setattr(trainer, "READ_INTERVAL_S", math.inf)
    def diverge(reads):
        gt.utils.set_random_seed(1)
        x, y = problem(320)
        m = model(gt.optimizers.SGD(1e30), device=device)

        class Reads(callbacks.Callback):
            reads_batch_logs = reads

        with pytest.warns(RuntimeWarning) as caught:
            m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[Reads()])
        message = str(caught[0].message)
        assert "at step " in message, message
        return int(message.split("at step ")[1].split(".")[0]), m.optimizer.iterations

    exact, stopped_at = diverge(True)
    assert stopped_at == exact
    named, ran = diverge(False)
    assert named == exact and ran > exact  # steps ran on before the loss was read


def test_weights_replaced_by_a_callback_mid_fit_are_trained_and_reported():
    # set_weights drops the plans (they held the old tensors); the epoch's running loss must come from
    # the steps of the plans built after it too, not only from the dropped ones.
    gt.utils.set_random_seed(2)
    x, y = problem(320)
    m, reference = model(), model()
    start = m.get_weights()
    reference.set_weights(start)

    class Reset(callbacks.Callback):
        reads_batch_logs = False

        def on_train_batch_end(self, batch, logs=None):
            if batch == 4:
                self.model.set_weights(start)

    history = m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[Reset()]).history
    steps = []
    for batch, first in enumerate(range(0, 320, 32)):
        labels = reference.loss.labels(y[first:first + 32])
        steps.append(reference_training.train_step(reference, x[first:first + 32], labels))
        if batch == 4:
            reference.set_weights(start)
    losses, hits = zip(*steps)
    np.testing.assert_allclose(history["loss"], [np.mean(losses)], rtol=1e-4)
    assert history["accuracy"] == [sum(hits) / 320]
