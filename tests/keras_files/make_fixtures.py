"""Writes the Keras 3 files the tests load, with the outputs Keras computed for them. Run where Keras 3 and
h5py are installed (any backend), from this folder:  KERAS_BACKEND=torch python make_fixtures.py
The files are committed; the tests never need Keras."""
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(7)
x = rng.random((32, 12, 12, 3), dtype=np.float32)
y = rng.integers(0, 5, 32)
step_x, step_y = x[:8], y[:8]


def save_with_outputs(model, stem, probe, continue_on=None):
    """The model as .keras and its weights alone as .weights.h5; its outputs on `probe`; with
    continue_on=(x, y), the weights after one more training step on that batch (from the saved state)."""
    model.save(f"{stem}.keras")
    model.save_weights(f"{stem}.weights.h5")
    outputs = model.predict(probe, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    arrays = {"probe": probe, **{f"output_{i}": o for i, o in enumerate(outputs)}}
    if continue_on is not None:
        model.train_on_batch(*continue_on)
        arrays.update({f"after_step_{i}": w for i, w in enumerate(model.get_weights())})
        arrays.update(step_x=continue_on[0], step_y=continue_on[1])
    np.savez(f"{stem}.npz", **arrays)


keras.utils.set_random_seed(1)
cnn = keras.Sequential([
    keras.Input((12, 12, 3)),
    layers.Conv2D(6, 3, padding="same", activation="relu"),
    layers.BatchNormalization(),
    layers.MaxPooling2D(),
    layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
    layers.SeparableConv2D(8, 3, padding="same"),
    layers.LeakyReLU(negative_slope=0.1),
    layers.Flatten(),
    layers.Dense(16, activation="tanh", kernel_regularizer=keras.regularizers.L2(1e-3)),
    layers.Dense(5, activation="softmax"),
], name="small_cnn")
cnn.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.fit(x, y, batch_size=8, epochs=2, verbose=0)
save_with_outputs(cnn, "sequential_cnn", x[8:24], continue_on=(step_x, step_y))

keras.utils.set_random_seed(2)
inputs = keras.Input((12, 12, 3), name="image")
a = layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
a = layers.BatchNormalization(name="stem_bn")(a)
a = layers.ReLU(name="stem_relu")(a)
b = layers.Conv2D(4, 1, name="branch")(a)
merged = layers.Add(name="residual")([a, b])
pooled = layers.GlobalAveragePooling2D()(merged)
concat = layers.Concatenate()([pooled, layers.GlobalMaxPooling2D()(merged)])
hidden = layers.Dropout(0.25)(layers.Dense(12, activation="relu")(concat))
digit = layers.Dense(5, activation="softmax", name="digit")(hidden)
score = layers.Dense(1, activation="sigmoid", name="score")(hidden)
two_outputs = keras.Model(inputs, [digit, score], name="two_outputs")
two_outputs.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                    loss={"digit": "sparse_categorical_crossentropy", "score": "binary_crossentropy"},
                    loss_weights={"digit": 1.0, "score": 0.5}, metrics={"digit": ["accuracy"]})
two_outputs.fit(x, {"digit": y, "score": (y % 2).astype("float32")}, batch_size=8, epochs=1, verbose=0)
save_with_outputs(two_outputs, "functional_two_outputs", x[:16])

keras.utils.set_random_seed(3)
flat = x.reshape(32, -1)[:, :20]
mlp = keras.Sequential([keras.Input((20,)), layers.Dense(8, activation="relu"), layers.Dense(3)], name="mlp")
mlp.compile(optimizer=keras.optimizers.RMSprop(1e-2, momentum=0.5, centered=True),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy()])
mlp.fit(flat, y % 3, batch_size=8, epochs=2, verbose=0)
save_with_outputs(mlp, "mlp_rmsprop", flat[:8], continue_on=(flat[:8], y[:8] % 3))
keras.utils.set_random_seed(4)
base = keras.Sequential([keras.Input((12, 12, 3)), layers.Conv2D(4, 3, activation="relu"),
                         layers.BatchNormalization(), layers.GlobalAveragePooling2D()], name="base")
base.trainable = False  # transfer learning: the base frozen, a new head trained
inputs = keras.Input((12, 12, 3))
head = layers.Dense(5, activation="softmax")(layers.Dense(6, activation="relu")(base(inputs)))
transfer = keras.Model(inputs, head, name="transfer")
transfer.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
transfer.fit(x, y, batch_size=8, epochs=1, verbose=0)
save_with_outputs(transfer, "nested_frozen_base", x[:8], continue_on=(step_x, step_y))
# Each optimizer configuration: a small model from fixed weights, four training steps, saved, then a fifth;
# the batches and the weights before and after go in one .npz per configuration.
OPTIMIZERS = {
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "sgd_decay_clipvalue": lambda: keras.optimizers.SGD(0.1, weight_decay=0.01, clipvalue=0.05),
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
    "adam_clipnorm": lambda: keras.optimizers.Adam(0.01, clipnorm=0.1),
    "adam_schedule": lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.02, 2, 0.5)),
    "adamax": lambda: keras.optimizers.Adamax(0.02),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "lion": lambda: keras.optimizers.Lion(0.003),
    "rmsprop_global_clipnorm": lambda: keras.optimizers.RMSprop(0.01, global_clipnorm=0.5),
}
data_rng = np.random.default_rng(11)
start = [data_rng.standard_normal((6, 8)).astype("float32") * 0.5, data_rng.standard_normal(8).astype("float32") * 0.1,
         data_rng.standard_normal((8, 3)).astype("float32") * 0.5, data_rng.standard_normal(3).astype("float32") * 0.1]
batches_x = data_rng.standard_normal((5, 8, 6)).astype("float32")
batches_y = data_rng.integers(0, 3, (5, 8))
for stem, make in OPTIMIZERS.items():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(3)],
                             name=f"optimizer_{stem}")
    model.set_weights(start)
    model.compile(optimizer=make(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for step in range(4):
        model.train_on_batch(batches_x[step], batches_y[step])
    model.save(f"optimizer_{stem}.keras")
    model.train_on_batch(batches_x[4], batches_y[4])
    np.savez(f"optimizer_{stem}.npz", batches_x=batches_x, batches_y=batches_y,
             **{f"start_{i}": w for i, w in enumerate(start)},
             **{f"after_{i}": w for i, w in enumerate(model.get_weights())})
print("written with Keras", keras.__version__)
