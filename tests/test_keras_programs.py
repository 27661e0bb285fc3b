"""Keras programs as the Keras guides write them, run with `import gputrain as keras` in place of
`from tensorflow import keras` and nothing else changed: the TensorFlow quickstart (model(x), a callable
loss), the MNIST convnet (to_categorical, validation_split, summary), and a custom callback reading
`logs` in fit, evaluate and predict on a model built from its first data. Shortened here (fewer images,
one or two epochs; the programs' own text is left as it is) and held to the accuracy those give."""
import numpy as np
import pytest

import gputrain as gt
from datafiles import shared_data

QUICKSTART = '''
import gputrain as keras

mnist = keras.datasets.mnist
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = keras.models.Sequential([
  keras.layers.Flatten(input_shape=(28, 28)),
  keras.layers.Dense(128, activation='relu'),
  keras.layers.Dropout(0.2),
  keras.layers.Dense(10)
])
predictions = model(x_train[:1]).numpy()
keras.activations.softmax(predictions)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
first_loss = loss_fn(y_train[:1], predictions).numpy()
model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])
model.fit(x_train, y_train, epochs=5)
results = model.evaluate(x_test,  y_test, verbose=2)
probability_model = keras.Sequential([
  model,
  keras.layers.Softmax()
])
probabilities = probability_model(x_test[:5])
'''

CONVNET = '''
import numpy as np
import gputrain as keras
from gputrain import layers

num_classes = 10
input_shape = (28, 28, 1)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()
batch_size = 128
epochs = 15
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
'''

CUSTOM_CALLBACK = '''
import gputrain as keras

def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

seen = []

class CustomCallback(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        keys = list(logs.keys())
        print("Starting training; got log keys: {}".format(keys))

    def on_epoch_end(self, epoch, logs=None):
        seen.append(("epoch", epoch, logs["loss"], logs["mean_absolute_error"]))
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )

    def on_test_batch_end(self, batch, logs=None):
        seen.append(("test_batch", batch, logs["loss"]))

    def on_predict_end(self, logs=None):
        seen.append(("predict_end",))

    def on_train_batch_end(self, batch, logs=None):
        seen.append(("batch", batch, logs["loss"]))

model = get_model()
model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, validation_split=0.5,
          callbacks=[CustomCallback()])
res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])
res = model.predict(x_test, batch_size=128, callbacks=[CustomCallback()])
'''


@pytest.fixture
def small_mnist(monkeypatch):
    """MNIST cut to the first `train` and `test` images, as the programs' load_data() returns it."""
    (x, y), (xt, yt) = gt.datasets.mnist.load_data(path=shared_data("mnist"))

    def use(train, test):
        monkeypatch.setattr(gt.datasets.mnist, "load_data",
                            lambda path=None: ((x[:train], y[:train]), (xt[:test], yt[:test])))
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    gt.utils.set_random_seed(0)  # the programs set none: the same weights whatever ran before
    return use


def _run(program: str, **replacements) -> dict:
    for old, new in replacements.items():
        assert old in program
        program = program.replace(old, new)
    scope: dict = {}
    exec(compile(program, "<keras program>", "exec"), scope)
    return scope


def test_the_quickstart_runs_with_only_the_import_changed(small_mnist):
    small_mnist(6000, 1000)
    scope = _run(QUICKSTART, **{"epochs=5": "epochs=2"})
    assert scope["predictions"].shape == (1, 10) and np.isfinite(scope["first_loss"])
    assert abs(float(scope["first_loss"]) - np.log(10)) < 1.5  # an untrained model's loss is near log(10)
    loss, accuracy = scope["results"]
    assert accuracy > 0.88 and loss < 0.45
    probabilities = scope["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_mnist_convnet_runs_with_only_the_import_changed(small_mnist, capsys):
    small_mnist(5000, 500)
    scope = _run(CONVNET, **{"epochs = 15": "epochs = 2"})
    out = capsys.readouterr().out
    assert "Total params: 34,826" in out  # as Keras's summary of this model says
    assert scope["score"][1] > 0.8
    assert set(scope["model"].history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_a_custom_callback_reads_logs_in_fit_evaluate_and_predict(small_mnist, capsys):
    small_mnist(1024, 256)
    scope = _run(CUSTOM_CALLBACK)
    seen = scope["seen"]
    assert "got log keys: []" in capsys.readouterr().out
    epochs = [s for s in seen if s[0] == "epoch"]
    assert [e[1] for e in epochs] == [0, 1] and all(np.isfinite(e[2]) and np.isfinite(e[3]) for e in epochs)
    assert len([s for s in seen if s[0] == "batch"]) == 2 * 4  # 512 training images a epoch, batches of 128
    assert len([s for s in seen if s[0] == "test_batch"]) == 2 * 4 + 2  # validation, then evaluate
    assert seen[-1] == ("predict_end",)
    assert scope["res"].shape == (256, 1)
