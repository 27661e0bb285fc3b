"""Keras programs as the Keras guides write them, run with `import gputrain as keras` in place of
`from tensorflow import keras` and nothing else changed: the TensorFlow quickstart (model(x), a callable
loss), the MNIST convnet (to_categorical, validation_split, summary), a custom callback reading `logs` in
fit, evaluate and predict on a model built from its first data, the "training and evaluation with the
built-in methods" guide's functional model (metric objects, validation_data, class weights, a learning-rate
schedule), and a functional model of two outputs with losses, weights and metrics by output name.
Shortened here (fewer images, fewer epochs; the programs' own text is left as it is) and held to the
accuracy those give. Where a bound says "Keras:", Keras 3.15 (torch backend) ran the same program text
with `import keras` on the same images, for three or four seeds, and those are its results; the log names
asserted are the ones it logged."""
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


BUILTIN_METHODS = '''
import numpy as np
import gputrain as keras
from gputrain import layers

inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, activation="softmax", name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# Preprocess the data (these are NumPy arrays)
x_train = x_train.reshape(60000, 784).astype("float32") / 255
x_test = x_test.reshape(10000, 784).astype("float32") / 255

y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Reserve 10,000 samples for validation
x_val = x_train[-10000:]
y_val = y_train[-10000:]
x_train = x_train[:-10000]
y_train = y_train[:-10000]

model.compile(
    optimizer=keras.optimizers.RMSprop(),  # Optimizer
    # Loss function to minimize
    loss=keras.losses.SparseCategoricalCrossentropy(),
    # List of metrics to monitor
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

print("Fit model on training data")
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=2,
    # We pass some validation for
    # monitoring validation loss and metrics
    # at the end of each epoch
    validation_data=(x_val, y_val),
)
print(history.history)

# Evaluate the model on the test data using `evaluate`
print("Evaluate on test data")
results = model.evaluate(x_test, y_test, batch_size=128)
print("test loss, test acc:", results)

# Generate predictions (probabilities -- the output of the last layer)
# on new data using `predict`
print("Generate predictions for 3 samples")
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)

class_weight = {
    0: 1.0,
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 1.0,
    # Set weight "2" for class "5",
    # making this class 2x more important
    5: 2.0,
    6: 1.0,
    7: 1.0,
    8: 1.0,
    9: 1.0,
}

print("Fit with class weight")
weighted = keras.Model(inputs=inputs, outputs=outputs)
initial_learning_rate = 0.001
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100, decay_rate=0.96, staircase=True
)
weighted.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
)
weighted.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)
weighted_results = weighted.evaluate(x_test, y_test, batch_size=128, return_dict=True)
fives = y_test == 5
recall_of_fives = float(np.mean(np.argmax(weighted.predict(x_test[fives]), axis=1) == 5))
'''

SEVERAL_OUTPUTS = '''
import numpy as np
import gputrain as keras
from gputrain import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

image_input = keras.Input(shape=(28, 28, 1), name="image")
x = layers.Conv2D(16, 3, activation="relu")(image_input)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.GlobalMaxPooling2D()(x)
features = layers.Dense(64, activation="relu")(x)
digit_output = layers.Dense(10, activation="softmax", name="digit")(features)
large_output = layers.Dense(1, activation="sigmoid", name="large")(features)

model = keras.Model(inputs=image_input, outputs=[digit_output, large_output])
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss={
        "digit": keras.losses.SparseCategoricalCrossentropy(),
        "large": keras.losses.BinaryCrossentropy(),
    },
    loss_weights={"digit": 1.0, "large": 0.5},
    metrics={"digit": ["accuracy"], "large": ["binary_accuracy"]},
)
history = model.fit(
    x_train,
    {"digit": y_train, "large": (y_train >= 5).astype("float32")},
    batch_size=64,
    epochs=3,
    validation_split=0.2,
)
results = model.evaluate(
    x_test, {"digit": y_test, "large": (y_test >= 5).astype("float32")}, return_dict=True
)
digit_probabilities, large_probabilities = model.predict(x_test[:5])
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


# The built-in methods guide's program holds out 10,000 of 60,000 training images: a sixth, kept so.
SIXTH = {"reshape(60000, 784)": "reshape(12000, 784)", "reshape(10000, 784)": "reshape(2000, 784)",
         "x_val = x_train[-10000:]": "x_val = x_train[-2000:]", "y_val = y_train[-10000:]": "y_val = y_train[-2000:]",
         "x_train = x_train[:-10000]": "x_train = x_train[:-2000]",
         "y_train = y_train[:-10000]": "y_train = y_train[:-2000]"}


def test_the_built_in_methods_guide_runs_with_only_the_import_changed(small_mnist):
    small_mnist(12000, 2000)
    scope = _run(BUILTIN_METHODS, **SIXTH)
    assert sorted(scope["history"].history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                                "val_sparse_categorical_accuracy"]
    assert scope["predictions"].shape == (3, 10)
    assert scope["results"][1] > 0.85  # Keras: 0.870 to 0.884
    assert scope["weighted_results"]["sparse_categorical_accuracy"] > 0.86  # Keras: 0.887 to 0.904
    assert scope["recall_of_fives"] > 0.8  # Keras: 0.92 to 0.96 (fives weighted twice)
    assert scope["weighted"].optimizer.learning_rate == pytest.approx(0.001 * 0.96 ** (157 // 100))


def test_a_model_of_two_outputs_runs_with_only_the_import_changed(small_mnist):
    small_mnist(12000, 2000)
    scope = _run(SEVERAL_OUTPUTS)
    assert sorted(scope["history"].history) == [
        "digit_accuracy", "digit_loss", "large_binary_accuracy", "large_loss", "loss", "val_digit_accuracy",
        "val_digit_loss", "val_large_binary_accuracy", "val_large_loss", "val_loss"]
    results = scope["results"]
    assert results["digit_accuracy"] > 0.80  # Keras: 0.830 to 0.861
    assert results["large_binary_accuracy"] > 0.78  # Keras: 0.826 to 0.849
    assert results["loss"] == pytest.approx(results["digit_loss"] + 0.5 * results["large_loss"], rel=1e-4)
    assert scope["digit_probabilities"].shape == (5, 10) and scope["large_probabilities"].shape == (5, 1)
