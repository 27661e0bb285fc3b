"""The Keras-style API end to end on every backend: summary, training, evaluation, saving, callbacks.
(Resuming after a kill: test_kill_resume.py and test_fit_sessions.py.)"""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers
from conftest import skip_whole_trainings_under_emulator

COLAB_CNN_SUMMARY = """\
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #   
=================================================================
conv2d (Conv2D)              (None, 148, 148, 16)      448       
_________________________________________________________________
max_pooling2d (MaxPooling2D) (None, 74, 74, 16)        0         
_________________________________________________________________
conv2d_1 (Conv2D)            (None, 72, 72, 32)        4640      
_________________________________________________________________
max_pooling2d_1 (MaxPooling2 (None, 36, 36, 32)        0         
_________________________________________________________________
conv2d_2 (Conv2D)            (None, 34, 34, 64)        18496     
_________________________________________________________________
max_pooling2d_2 (MaxPooling2 (None, 17, 17, 64)        0         
_________________________________________________________________
flatten (Flatten)            (None, 18496)             0         
_________________________________________________________________
dense (Dense)                (None, 512)               9470464   
_________________________________________________________________
dense_1 (Dense)              (None, 1)                 513       
=================================================================
Total params: 9,494,561
Trainable params: 9,494,561
Non-trainable params: 0
_________________________________________________________________
"""


def colab_cnn():
    return gt.Sequential([
        layers.Conv2D(16, (3, 3), activation="relu", input_shape=(150, 150, 3)),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])


def quickstart_model():
    return gt.Sequential([
        layers.Flatten(input_shape=(28, 28)),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10),
    ])


def test_colab_cnn_summary_matches_keras(capsys):
    layers.clear_session()
    model = colab_cnn()
    model.build(device="cpu")
    model.summary()
    assert capsys.readouterr().out == COLAB_CNN_SUMMARY
    assert model.count_params() == 9_494_561


def test_colab_cnn_predicts_one_half_on_zeros(device):
    model = colab_cnn()
    model.build(device=device)
    out = model.predict(np.zeros((2, 150, 150, 3), np.float32))
    assert out.shape == (2, 1)
    np.testing.assert_allclose(out, 0.5, rtol=0, atol=1e-7)


def test_colab_cnn_loss_decreases_on_random_images(device):
    skip_whole_trainings_under_emulator(device)
    gt.utils.set_random_seed(1)
    rng = np.random.default_rng(2)
    x = rng.random((8, 150, 150, 3), dtype=np.float32)
    y = rng.integers(0, 2, 8).astype(np.float32)
    model = colab_cnn()
    model.compile(gt.optimizers.Adam(learning_rate=1e-4), "binary_crossentropy", ["accuracy"], device=device)
    history = model.fit(x, y, batch_size=4, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert losses[-1] < losses[0] * 0.8, losses


def test_quickstart_mnist_reaches_its_accuracy(device):
    """TensorFlow's quickstart, as its tutorial runs it: 5 epochs at batch 32 reach about 97.7% on
    MNIST's test set (12 seeds here: 97.55-97.99%); the issue asks for at least 97.5%."""
    skip_whole_trainings_under_emulator(device)
    from datafiles import shared_data
    (x_train, y_train), (x_test, y_test) = gt.datasets.mnist.load_data(path=shared_data("mnist"))
    x_train, x_test = x_train / 255.0, x_test / 255.0
    gt.utils.set_random_seed(0)
    model = quickstart_model()
    model.compile(optimizer="adam", loss=gt.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device=device)
    history = model.fit(x_train, y_train, epochs=5, verbose=0)
    assert history.history["accuracy"][0] > 0.90  # Keras: about 0.91 after one epoch
    assert history.history["loss"] == sorted(history.history["loss"], reverse=True)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.975 and loss < 0.1, (accuracy, loss)


def small_problem(n=96):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.5)  # three classes
    return x, y


def small_model():
    return gt.Sequential([layers.Input((6,)), layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_fit_learns_with_each_optimizer(device, optimizer):
    gt.utils.set_random_seed(3)
    x, y = small_problem()
    model = small_model()
    opt = {"sgd": gt.optimizers.SGD(0.1, momentum=0.9), "adam": gt.optimizers.Adam(0.01),
           "rmsprop": gt.optimizers.RMSprop(0.01)}[optimizer]
    model.compile(opt, "sparse_categorical_crossentropy", ["accuracy"], device=device)
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0, validation_split=0.25)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.6
    assert history.history["accuracy"][-1] > 0.8
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_save_and_load_model_round_trip(tmp_path, device):
    gt.utils.set_random_seed(4)
    x, y = small_problem()
    model = small_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device=device)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = gt.models.load_model(tmp_path / "m.safetensors", device=device)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert (loaded.training_state["epoch"], loaded.training_state["samples"]) == (2, 0)  # epochs completed
    # Both continue identically: the optimizer state came back too.
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_save_weights_and_errors(tmp_path):
    model = small_model()
    model.compile("sgd", "sparse_categorical_crossentropy", device="cpu")
    model.save_weights(tmp_path / "w.safetensors")
    other = small_model()
    other.build(device="cpu")
    other.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = gt.Sequential([layers.Input((6,)), layers.Dense(4)])
    wrong.build(device="cpu")
    with pytest.raises(ValueError, match="has shape"):
        wrong.load_weights(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="compile the model first"):
        small_model().fit(*small_problem())
    with pytest.raises(ValueError, match=r"samples of shape \(6,\)"):
        model.fit(np.zeros((4, 5), np.float32), np.zeros(4))
    with pytest.raises(ValueError, match="loss"):
        model.compile("adam", "hinge")


def test_early_stopping_and_best_checkpoint(tmp_path):
    x, y = small_problem()
    model = small_model()
    model.compile(gt.optimizers.SGD(1e-6), "sparse_categorical_crossentropy", device="cpu")  # barely learns
    best = gt.callbacks.ModelCheckpoint(tmp_path / "best-{epoch:02d}.safetensors", save_best_only=True)
    stop = gt.callbacks.EarlyStopping(monitor="loss", min_delta=0.5, patience=1)
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[best, stop], validation_split=0.2)
    assert len(history.history["loss"]) == 2 and stop.stopped_epoch == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-01.safetensors", "best-02.safetensors"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["best-01.safetensors"]


def test_uint8_images_predict_and_evaluate_as_their_float32_values(device):
    rng = np.random.default_rng(8)
    x8 = rng.integers(0, 256, size=(40, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 3, size=40)
    gt.utils.set_random_seed(2)
    model = gt.Sequential([layers.Flatten(input_shape=(4, 4)), layers.Dense(3)])
    model.compile("sgd", gt.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"], device=device)
    np.testing.assert_array_equal(model.predict(x8, batch_size=16), model.predict(x8.astype(np.float32), batch_size=16))
    assert model.evaluate(x8, y, verbose=0) == model.evaluate(x8.astype(np.float32), y, verbose=0)


def test_progress_lines_as_keras_prints_them(capsys):
    """verbose=1 without a terminal: the epoch's final line carries the validation values (not a line of
    their own), and evaluate draws a bar of its own."""
    x, y = small_problem()
    model = small_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device="cpu")
    model.fit(x, y, batch_size=16, epochs=1, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/1"
    assert len(lines) == 2, lines
    assert lines[1].startswith("5/5 [==============================] - ")
    names = [part.split(":")[0] for part in lines[1].split(" - ")[2:]]
    assert names == ["loss", "accuracy", "val_loss", "val_accuracy", "data wait"]
    loss, accuracy = model.evaluate(x, y, batch_size=32)
    line = capsys.readouterr().out
    assert line.startswith("3/3 [==============================] - ") and line.count("\n") == 1
    assert f"loss: {loss:.4f} - accuracy: {accuracy:.4f}" in line


def test_callbacks_see_every_batch_logs(device):
    """A user's callback gets each batch's running loss and accuracy, also when fit runs compiled steps
    and nothing is printed (verbose=0)."""
    x, y = small_problem()
    model = small_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], device=device)

    class Record(gt.callbacks.Callback):
        def __init__(self):
            self.seen = []

        def on_train_batch_begin(self, batch, logs=None):
            self.seen.append(batch)

        def on_train_batch_end(self, batch, logs=None):
            assert self.seen.pop() == batch  # begin came first, with the same batch index
            self.seen.append((batch, dict(logs)))

    record = Record()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[record])
    assert [b for b, _ in record.seen] == list(range(6)) * 2
    assert all(set(logs) == {"loss", "accuracy"} for _, logs in record.seen)
    assert len({logs["loss"] for _, logs in record.seen[:6]}) == 6  # a running mean, new every batch
    assert record.seen[5][1]["loss"] == pytest.approx(history.history["loss"][0], rel=1e-6)
