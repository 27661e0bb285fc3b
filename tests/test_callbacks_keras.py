"""Keras's callbacks beyond checkpoints: LearningRateScheduler, ReduceLROnPlateau, CSVLogger, LambdaCallback,
EarlyStopping's baseline and start_from_epoch, and the params every callback gets, with Keras's rules
and argument checks."""
import csv

import numpy as np
import pytest

import gputrain as gt
from gputrain import callbacks, layers


def _problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)


def _model(lr=0.05):
    gt.utils.set_random_seed(1)
    model = gt.Sequential([gt.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile(gt.optimizers.SGD(lr), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device="cpu")
    return model


class Scripted(callbacks.Callback):
    """Writes a scripted 'score' into each epoch's logs (before the callbacks after it read them) and
    records the learning rate each epoch trained with."""
    reads_batch_logs = False

    def __init__(self, scores):
        self.scores, self.rates = scores, []

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(None)

    def on_train_batch_begin(self, batch, logs=None):
        self.rates[-1] = self.model.optimizer.learning_rate

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it():
    x, y = _problem()
    model = _model()
    seen = Scripted([0.0] * 4)
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[schedule, seen]).history
    assert seen.rates == [0.05, 0.025, 0.0125, 0.00625]
    assert history["learning_rate"] == [0.05, 0.025, 0.0125, 0.00625]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.2)])
    assert model.optimizer.learning_rate == 0.2  # Keras 2's schedule(epoch)
    with pytest.raises(ValueError, match="learning rate must be a positive finite number, got nan"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e: float("nan"))])
    with pytest.raises(TypeError, match="schedule: expected a function"):
        callbacks.LearningRateScheduler(0.1)


def test_reduce_lr_on_plateau_follows_keras_patience_cooldown_and_floor():
    # min mode, min_delta 0.1: improvements at epochs 0 and 1, then a plateau. patience 2: reduced at the end
    # of epoch 3; cooldown 1: epoch 4 restarts the count (and counts, as in Keras), so epoch 5 reduces again,
    # to the floor min_lr; at the floor epoch 7 changes nothing.
    scores = [5.0, 4.0, 3.95, 3.99, 3.98, 3.97, 3.96, 3.95]
    x, y = _problem()
    model = _model(lr=0.1)
    seen = Scripted(scores)
    plateau = callbacks.ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, min_delta=0.1, cooldown=1,
                                          min_lr=0.03)
    history = model.fit(x, y, batch_size=32, epochs=len(scores), verbose=0, callbacks=[seen, plateau]).history
    assert history["learning_rate"] == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03]
    assert seen.rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03]
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    x, y = _problem()
    path = tmp_path / "log.csv"
    model = _model()
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]  # sorted, as Keras
    assert float(rows[1]["loss"]) == pytest.approx(history.history["loss"][1])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,") and lines[3].startswith("0,")


def test_lambda_callback_calls_its_functions_and_callbacks_get_params():
    x, y = _problem()
    events = []
    lam = callbacks.LambdaCallback(on_train_begin=lambda logs: events.append("begin"),
                                   on_epoch_end=lambda epoch, logs: events.append((epoch, round(logs["loss"], 6))),
                                   on_batch_end=lambda batch, logs: events.append(batch))
    history = _model().fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[lam]).history
    assert events == ["begin", 0, 1, (0, round(history["loss"][0], 6)), 0, 1, (1, round(history["loss"][1], 6))]
    assert lam.params == {"verbose": 0, "epochs": 2, "steps": 2}
    with pytest.raises(TypeError, match="'on_test_end' is not an event gputrain calls"):
        callbacks.LambdaCallback(on_test_end=print)


def test_early_stopping_baseline_and_start_from_epoch():
    x, y = _problem()
    scores = [5.0, 4.0, 4.5, 4.6, 4.7, 4.8]
    # Improvements that do not beat the baseline 1.0 do not reset the count (Keras 3): patience 2 then
    # stops at epoch 2, not at epoch 3 as without a baseline.
    for baseline, stopped in ((1.0, 2), (None, 3)):
        stop = callbacks.EarlyStopping(monitor="score", patience=2, baseline=baseline)
        history = _model().fit(x, y, epochs=6, verbose=0, callbacks=[Scripted(scores), stop])
        assert stop.stopped_epoch == stopped and len(history.epoch) == stopped + 1
    # Epochs before start_from_epoch are not watched: a steady value stops patience epochs after it.
    stop = callbacks.EarlyStopping(monitor="score", patience=1, start_from_epoch=3)
    _model().fit(x, y, epochs=10, verbose=0, callbacks=[Scripted([1.0] * 10), stop])
    assert stop.stopped_epoch == 4
    with pytest.raises(ValueError, match="start_from_epoch"):
        callbacks.EarlyStopping(start_from_epoch=-1)
    with pytest.raises(ValueError, match="mode: expected 'auto', 'min' or 'max'"):
        callbacks.EarlyStopping(mode="up")
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs, which have loss, accuracy"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping()])


def test_model_checkpoint_can_save_the_weights_alone(tmp_path):
    x, y = _problem()
    model = _model()
    path = tmp_path / "w-{epoch:02d}.safetensors"
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(path, save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-01.safetensors", "w-02.safetensors"]
    with pytest.raises(ValueError, match="holds weights only"):
        gt.models.load_model(tmp_path / "w-02.safetensors")
    other = _model()
    other.load_weights(tmp_path / "w-02.safetensors")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="saves weights only, which cannot resume a fit"):
        model.fit(x, y, epochs=1, verbose=0, resume=True,
                  callbacks=[callbacks.ModelCheckpoint(tmp_path / "w.safetensors", save_weights_only=True)])
