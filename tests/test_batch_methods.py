"""Keras's one-batch methods (train_on_batch, test_on_batch, predict_on_batch), evaluate's return_dict, and
callbacks in evaluate and predict (on_test_* / on_predict_* events, also for fit's validation)."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers


def _compiled(seed=0):
    gt.utils.set_random_seed(seed)
    model = gt.Sequential([gt.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(3)])
    model.compile(gt.optimizers.SGD(0.1), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device="cpu")
    return model


def _data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_train_on_batch_is_one_fit_step_and_reports_that_batch():
    x, y = _data(8)
    a, b = _compiled(), _compiled()
    loss_before = a.test_on_batch(x, y)[0]
    logs = a.train_on_batch(x, y, return_dict=True)
    b.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert list(logs) == ["loss", "accuracy"] and logs["loss"] == pytest.approx(loss_before, rel=1e-6)
    assert a.optimizer.iterations == 1
    loss, accuracy = a.train_on_batch(x[:5], y[:5])  # a new batch size: its own plan, this batch's values
    assert 0.0 <= accuracy <= 1.0 and np.isfinite(loss)
    np.testing.assert_array_equal(a.predict_on_batch(x), a.predict(x, batch_size=3))


def test_evaluate_returns_a_dict_and_calls_test_callbacks_also_in_fit_validation():
    x, y = _data()
    model = _compiled()
    events = []

    class Watch(gt.callbacks.Callback):
        def on_test_begin(self, logs=None):
            events.append("test_begin")

        def on_test_batch_end(self, batch, logs=None):
            events.append(("test_batch", batch, sorted(logs)))

        def on_test_end(self, logs=None):
            events.append(("test_end", sorted(logs)))

        def on_predict_batch_end(self, batch, logs=None):
            events.append(("predict_batch", batch, logs["outputs"][0].shape))

    logs = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[Watch()], return_dict=True)
    assert list(logs) == ["loss", "accuracy"]
    assert logs["loss"] == model.evaluate(x, y, batch_size=16, verbose=0)[0]
    assert events == ["test_begin", ("test_batch", 0, ["accuracy", "loss"]), ("test_batch", 1, ["accuracy", "loss"]),
                      ("test_end", ["accuracy", "loss"])]
    events.clear()
    model.predict(x, batch_size=10, callbacks=[Watch()])
    assert events == [("predict_batch", 0, (10, 3)), ("predict_batch", 1, (10, 3)), ("predict_batch", 2, (4, 3))]
    events.clear()
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.5, callbacks=[Watch()])
    assert events[0] == "test_begin" and events[-1] == ("test_end", ["accuracy", "loss"])
    with pytest.raises(TypeError, match="callbacks: expected gputrain callbacks"):
        model.evaluate(x, y, callbacks=[print])


def test_validation_freq_validates_every_n_epochs_or_the_epochs_listed():
    x, y = _data()
    for freq, validated in ((2, [1, 3]), ([1, 4], [0, 3])):
        history = _compiled().fit(x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=freq)
        # Keras's History has a value for the epochs that validated (keyed by position, as lists)
        assert len(history.history["val_loss"]) == len(validated)
        assert len(history.history["loss"]) == 4
    with pytest.raises(ValueError, match="validation_freq"):
        _compiled().fit(x, y, epochs=1, verbose=0, validation_freq=0)
