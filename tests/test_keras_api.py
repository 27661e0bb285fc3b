"""Keras-compatible behaviour of parts of the Keras-like API that no other test reaches: Sequential.add,
the default initializers, categorical cross-entropy on one-hot labels, fit's validation_data and
initial_epoch, ModelCheckpoint(every_minutes=...), EarlyStopping(restore_best_weights=True) and the
default checkpoint folder. CPU only, small synthetic data: the whole file runs in a few seconds."""
import types

import numpy as np
import pytest

import gputrain as gt
from gputrain import callbacks, layers, saving, session

DEVICE = "cpu"


def problem(n=48, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (np.argmax(x[:, :classes], axis=1) + (x[:, -1] > 1.0)) % classes  # learnable, not trivially
    return x, y.astype(np.int64)


def mlp(last_activation=None, features=5, classes=3):
    return gt.Sequential([layers.Input((features,)), layers.Dense(7, activation="relu"),
                          layers.Dense(classes, activation=last_activation)])


def compiled(loss, metrics=("accuracy",), optimizer="adam", seed=3, last_activation=None):
    gt.utils.set_random_seed(seed)
    model = mlp(last_activation)
    model.compile(optimizer, loss, list(metrics), device=DEVICE)
    return model


def summary_text(model) -> str:
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


# ---- 1. Sequential.add ----------------------------------------------------------------------------

def test_add_one_by_one_gives_the_model_of_the_list_form():
    def pieces():
        return [layers.Input((6, 6, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(5, activation="relu"), layers.Dense(3)]

    layers.clear_session()
    gt.utils.set_random_seed(11)
    listed = gt.Sequential(pieces())
    listed.build(device=DEVICE)

    layers.clear_session()
    gt.utils.set_random_seed(11)
    added = gt.Sequential()
    for layer in pieces():
        added.add(layer)
    added.build(device=DEVICE)

    assert [type(l).__name__ for l in added.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert added.get_config() == listed.get_config()
    assert summary_text(added) == summary_text(listed)
    assert "Total params: 279" in summary_text(added)  # 3*3*2*4+4 + 3*3*4*5+5 + 5*3+3
    assert added.count_params() == listed.count_params() == 279
    got, want = added.get_weights(), listed.get_weights()
    assert [w.shape for w in got] == [w.shape for w in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).standard_normal((4, 6, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(added.predict(x), listed.predict(x))


@pytest.mark.parametrize("how", ["build", "summary"])
def test_add_after_build_or_summary_extends_the_model_and_keeps_its_weights(how):
    # Keras allows add after summary() and build(), until compile.
    model = gt.Sequential()
    model.add(layers.Input((4,)))
    model.add(layers.Dense(3))
    if how == "build":
        model.build(device=DEVICE)
    else:
        model.summary(print_fn=lambda line: None)
    kernel = model.layers[0].params["kernel"].numpy()
    model.add(layers.Dense(2))
    model.summary(print_fn=lambda line: None)
    assert len(model.layers) == 2 and model.output_shape == (2,) and model.count_params() == 15 + 8
    np.testing.assert_array_equal(model.layers[0].params["kernel"].numpy(), kernel)


def test_add_after_compile_raises():
    model = gt.Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy", device=DEVICE)
    with pytest.raises(ValueError, match="compiled; add layers before compile"):
        model.add(layers.Dense(2))
    assert len(model.layers) == 1 and model.output_shape == (3,)


def test_add_rejects_a_duplicate_layer_name_and_a_non_layer():
    model = gt.Sequential([layers.Input((4,))])
    first = layers.Dense(3, name="hidden")
    model.add(first)
    with pytest.raises(ValueError, match="'hidden' is already in the model"):
        model.add(layers.Dense(2, name="hidden"))
    with pytest.raises(ValueError, match="already in the model"):
        model.add(first)  # the same layer instance twice
    with pytest.raises(ValueError, match="already in the model"):
        gt.Sequential([layers.Dense(2, name="twin", input_shape=(4,)), layers.Dense(2, name="twin")])
    with pytest.raises(TypeError, match="expected a gputrain layer"):
        model.add("dense")
    assert [l.name for l in model.layers] == ["hidden"]


# ---- 2. initializers ------------------------------------------------------------------------------

def assert_glorot_uniform(kernel, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    w = np.abs(kernel.astype(np.float64))
    assert w.max() <= limit, f"max |w| {w.max():.6f} above the Glorot limit {limit:.6f}"
    assert w.max() > 0.98 * limit, f"max |w| {w.max():.6f} far below the Glorot limit {limit:.6f}"
    # Uniform on [-limit, limit]: mean 0, std limit/sqrt(3), half the values within limit/2.
    assert abs(kernel.mean()) < 0.05 * limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.05)
    assert np.mean(w < limit / 2) == pytest.approx(0.5, abs=0.03)


def test_dense_and_conv2d_kernels_are_glorot_uniform_and_biases_zero():
    gt.utils.set_random_seed(5)
    model = gt.Sequential([layers.Input((9, 9, 16)),
                           layers.Conv2D(32, (3, 5), padding="same"),  # fan_in 3*5*16, fan_out 3*5*32
                           layers.Flatten(),
                           layers.Dense(40)])  # fan_in 9*9*32, fan_out 40
    model.build(device=DEVICE)
    conv_kernel, conv_bias, dense_kernel, dense_bias = model.get_weights()
    assert conv_kernel.shape == (3, 5, 16, 32) and dense_kernel.shape == (9 * 9 * 32, 40)
    assert_glorot_uniform(conv_kernel, 3 * 5 * 16, 3 * 5 * 32)
    assert_glorot_uniform(dense_kernel, 9 * 9 * 32, 40)
    np.testing.assert_array_equal(conv_bias, np.zeros(32, np.float32))
    np.testing.assert_array_equal(dense_bias, np.zeros(40, np.float32))

    square = gt.Sequential([layers.Input((300,)), layers.Dense(200)])
    square.build(device=DEVICE)
    assert_glorot_uniform(square.get_weights()[0], 300, 200)


def test_set_random_seed_makes_initial_weights_reproducible():
    def weights(seed):
        gt.utils.set_random_seed(seed)
        model = mlp()
        model.build(device=DEVICE)
        return model.get_weights()

    for a, b in zip(weights(4), weights(4)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights(4)[0], weights(5)[0])


# ---- 3. categorical cross-entropy on one-hot labels ------------------------------------------------

@pytest.mark.parametrize("eagerly", [False, True], ids=["compiled", "eagerly"])
@pytest.mark.parametrize("categorical, sparse, last_activation", [
    ("categorical_crossentropy", "sparse_categorical_crossentropy", "softmax"),
    (gt.losses.CategoricalCrossentropy(from_logits=True), gt.losses.SparseCategoricalCrossentropy(from_logits=True),
     None),
], ids=["string_softmax", "class_from_logits"])
def test_categorical_crossentropy_on_one_hot_equals_sparse_on_indices(categorical, sparse, last_activation, eagerly):
    x, y = problem()
    one_hot = np.eye(3, dtype=np.float32)[y]
    runs = []
    for loss, labels in ((sparse, y), (categorical, one_hot)):
        model = compiled(loss, last_activation=last_activation)
        model.run_eagerly = eagerly
        history = model.fit(x, labels, batch_size=16, epochs=3, verbose=0)
        runs.append((history.history, model.evaluate(x, labels, batch_size=16, verbose=0), model.get_weights()))
    (h_sparse, e_sparse, w_sparse), (h_cat, e_cat, w_cat) = runs
    assert h_cat["loss"] == pytest.approx(h_sparse["loss"], rel=1e-6)
    assert h_cat["accuracy"] == h_sparse["accuracy"]
    assert e_cat == pytest.approx(e_sparse, rel=1e-6)
    assert h_sparse["loss"][-1] < h_sparse["loss"][0]  # it trained, so equal losses mean equal training
    for a, b in zip(w_cat, w_sparse):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", ["indices", "two_hot", "all_zero", "value_two"])
@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_categorical_crossentropy_rejects_labels_that_are_not_one_hot(bad, call):
    x, y = problem()
    labels = {"indices": y, "two_hot": np.eye(3)[y] + np.eye(3)[(y + 1) % 3], "all_zero": np.zeros((48, 3)),
              "value_two": 2 * np.eye(3)[y]}[bad]
    model = compiled("categorical_crossentropy", last_activation="softmax")
    with pytest.raises(ValueError, match="one-hot"):
        if call == "fit":
            model.fit(x, labels, batch_size=16, epochs=1, verbose=0)
        else:
            model.evaluate(x, labels, batch_size=16, verbose=0)


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_categorical_crossentropy_rejects_a_hot_column_beyond_the_outputs(call):
    x, y = problem()
    y[5] = 3
    model = compiled("categorical_crossentropy", last_activation="softmax")
    with pytest.raises(ValueError):  # today "label 3 ... is outside [0, 3)"; a width check may say it first
        getattr(model, call)(x, np.eye(4)[y], batch_size=16, verbose=0)


@pytest.mark.parametrize("width", [2, 4])
@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_categorical_crossentropy_rejects_one_hot_rows_of_another_width(width, call):
    x, y = problem()
    labels = np.eye(width)[y % 2]  # classes 0 and 1 only: valid indices for the 3 outputs
    model = compiled("categorical_crossentropy", last_activation="softmax")
    with pytest.raises(ValueError, match=f"width {width}.*3 outputs"):
        getattr(model, call)(x, labels, batch_size=16, verbose=0)


# ---- 4. validation_data ---------------------------------------------------------------------------

class EvaluateEachEpoch(callbacks.Callback):
    reads_batch_logs = False

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size, self.values = x, y, batch_size, []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(self.model.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0))


@pytest.mark.parametrize("metrics", [("accuracy",), ()], ids=["accuracy", "no_metrics"])
def test_validation_data_logs_what_evaluate_gives_after_each_epoch(metrics):
    x, y = problem(64, seed=1)
    xv, yv = problem(21, seed=2)  # a partial last batch
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=metrics)
    probe = EvaluateEachEpoch(xv, yv, batch_size=16)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, validation_data=(xv, yv), callbacks=[probe])
    h = history.history
    if metrics:
        assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert h["val_loss"] == pytest.approx([v[0] for v in probe.values], rel=1e-12)
        assert h["val_accuracy"] == pytest.approx([v[1] for v in probe.values], rel=1e-12)
        after = model.evaluate(xv, yv, batch_size=16, verbose=0)
        assert [h["val_loss"][-1], h["val_accuracy"][-1]] == pytest.approx(after, rel=1e-12)
        assert all(v * 21 == pytest.approx(round(v * 21)) for v in h["val_accuracy"])  # a fraction of 21
    else:
        assert set(h) == {"loss", "val_loss"}
        assert h["val_loss"] == pytest.approx(probe.values, rel=1e-12)
        assert h["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv, batch_size=16, verbose=0), rel=1e-12)
    assert len(set(h["val_loss"])) == 4  # the weights changed every epoch, and the logs with them
    assert h["val_loss"] != pytest.approx(h["loss"])  # computed on the validation data, not the training data


# ---- 5. initial_epoch -----------------------------------------------------------------------------

def test_initial_epoch_runs_the_remaining_epochs_with_keras_numbering(tmp_path, capsys):
    x, y = problem(40)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Epochs(callbacks.Callback):
        reads_batch_logs = False

        def __init__(self):
            self.begun = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begun.append(epoch)

    seen = Epochs()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "ck-{epoch:02d}.safetensors")
    history = model.fit(x, y, batch_size=16, epochs=5, initial_epoch=2, verbose=1, callbacks=[seen, checkpoint])
    assert history.epoch == [2, 3, 4]  # Keras's History.epoch: the indices of the epochs run
    assert seen.begun == [2, 3, 4]
    assert len(history.history["loss"]) == len(history.history["accuracy"]) == 3
    assert model.optimizer.iterations == 3 * 3  # 3 epochs of ceil(40 / 16) steps
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("Epoch ")] == ["Epoch 3/5", "Epoch 4/5",
                                                                                "Epoch 5/5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-03.safetensors", "ck-04.safetensors",
                                                         "ck-05.safetensors"]
    assert model.fit(x, y, epochs=2, initial_epoch=2, verbose=0).epoch == []  # nothing left to run


# ---- 6. ModelCheckpoint(every_minutes=...) --------------------------------------------------------

def test_checkpoint_every_minutes_saves_mid_epoch_once_the_minutes_have_passed(tmp_path, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(monotonic=lambda: clock["now"]))

    class Tick(callbacks.Callback):
        reads_batch_logs = False

        def on_train_batch_end(self, batch, logs=None):
            clock["now"] += 25.0  # each step "takes" 25 s

    x, y = problem(64)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=())
    saves = []
    real_save = saving.save_model

    def spy(saved, path, *args, **kwargs):
        saves.append((saved.training_state["epoch"], saved.training_state["samples"], clock["now"]))
        return real_save(saved, path, *args, **kwargs)

    monkeypatch.setattr(saving, "save_model", spy)
    path = tmp_path / "ck.safetensors"
    checkpoint = callbacks.ModelCheckpoint(path, every_minutes=1)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[Tick(), checkpoint])
    # 8 steps an epoch, 25 s each: due at 60 s after the last save, so after steps 3 and 6 (75 s, 150 s),
    # then at each epoch's end (save_freq="epoch"), which restarts the minute. Progress is saved as
    # (epochs completed, samples of the next epoch done): 24 and 48 samples are 3 and 6 steps of 8.
    assert saves == [(0, 24, 1075.0), (0, 48, 1150.0), (1, 0, 1200.0),
                     (1, 24, 1275.0), (1, 48, 1350.0), (2, 0, 1400.0)]
    assert checkpoint.last_path == path and path.exists()


def test_checkpoint_every_minutes_counts_from_the_start_of_fit(tmp_path, monkeypatch):
    # A callback made in one notebook cell and used by a fit in a later one: no save at the first step.
    clock = {"now": 0.0}
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(monotonic=lambda: clock["now"]))
    path = tmp_path / "ck.safetensors"
    checkpoint = callbacks.ModelCheckpoint(path, save_freq=1000, every_minutes=1)
    clock["now"] = 3600.0
    x, y = problem(64)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[checkpoint])
    assert not path.exists()


def test_binary_crossentropy_rejects_targets_of_another_size():
    x, y = problem()
    model = gt.Sequential([layers.Input((x.shape[1],)), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", device="cpu")
    with pytest.raises(ValueError, match=r"2 target\(s\) per sample.*1 output"):
        model.fit(x, np.stack([y % 2, y % 2], axis=1).astype(np.float32), verbose=0)


def test_checkpoint_every_minutes_does_not_save_before_the_minutes_pass(tmp_path, monkeypatch):
    clock = {"now": 0.0}
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(monotonic=lambda: clock["now"]))

    class Tick(callbacks.Callback):
        reads_batch_logs = False

        def __init__(self):
            self.exists_after = []

        def on_train_batch_end(self, batch, logs=None):
            clock["now"] += 59.0 / 8  # a whole epoch of 8 steps in 59 s
            self.exists_after.append(path.exists())  # as the checkpoint (next in the list) is about to look

    x, y = problem(64)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=())
    path = tmp_path / "ck.safetensors"
    checkpoint = callbacks.ModelCheckpoint(path, save_freq=1000, every_minutes=1)  # no epoch-end save
    tick = Tick()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[tick, checkpoint])
    # 59 s after the first epoch: nothing yet; the first step of the second (66.4 s) is due; then the next
    # minute is not up by the end of training (118 s).
    assert tick.exists_after == [False] * 9 + [True] * 7
    saved = gt.models.load_model(path).training_state
    assert (saved["epoch"], saved["samples"]) == (1, 8)  # one epoch completed, one step of 8 samples


# ---- 7. EarlyStopping(restore_best_weights=True) --------------------------------------------------

def test_early_stopping_restores_the_weights_of_the_best_epoch():
    scores = [3.0, 1.0, 2.0, 1.5, 0.5, 0.1]  # best at epoch 1; with patience 2 it stops at epoch 3

    class Scripted(callbacks.Callback):
        """Puts a scripted 'score' in the epoch's logs (Keras callbacks may add to them) and records the
        weights each epoch ended with, before EarlyStopping (later in the list) acts on them."""
        reads_batch_logs = False

        def __init__(self):
            self.weights, self.losses = [], []

        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = scores[epoch]
            self.weights.append(self.model.get_weights())
            self.losses.append(self.model.evaluate(x, y, verbose=0))

    x, y = problem(64)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=(),
                     optimizer=gt.optimizers.SGD(0.1))
    scripted = Scripted()
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=True)
    history = model.fit(x, y, batch_size=16, epochs=len(scores), verbose=0, callbacks=[scripted, stop])
    assert stop.stopped_epoch == 3 and history.epoch == [0, 1, 2, 3]
    assert len(scripted.weights) == 4
    for got, best, last in zip(model.get_weights(), scripted.weights[1], scripted.weights[3]):
        np.testing.assert_array_equal(got, best)
        assert not np.array_equal(best, last)  # training moved on after the best epoch
    assert model.evaluate(x, y, verbose=0) == pytest.approx(scripted.losses[1], rel=1e-6)
    assert model.evaluate(x, y, verbose=0) != pytest.approx(scripted.losses[3], rel=1e-6)
    x2 = np.random.default_rng(9).standard_normal((5, 5)).astype(np.float32)
    reference = mlp()
    reference.build(device=DEVICE)
    reference.set_weights(scripted.weights[1])
    np.testing.assert_allclose(model.predict(x2), reference.predict(x2), rtol=1e-6, atol=1e-6)


def test_early_stopping_without_restore_keeps_the_last_weights():
    scores = [1.0, 2.0, 3.0, 4.0]

    class Scripted(callbacks.Callback):
        reads_batch_logs = False
        last = None

        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = scores[epoch]
            self.last = self.model.get_weights()

    x, y = problem(64)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=(),
                     optimizer=gt.optimizers.SGD(0.1))
    scripted = Scripted()
    stop = callbacks.EarlyStopping(monitor="score", patience=1)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[scripted, stop])
    assert stop.stopped_epoch == 1
    for got, last in zip(model.get_weights(), scripted.last):
        np.testing.assert_array_equal(got, last)


# ---- 8. default_checkpoint_dir --------------------------------------------------------------------

def test_default_checkpoint_dir_env_then_platform_folder_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(session, "persistent_dir", lambda: str(tmp_path / "drive"))

    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path / "mine"))
    assert callbacks.default_checkpoint_dir() == tmp_path / "mine"  # the variable wins over the platform
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", "~/ckpts")
    assert callbacks.default_checkpoint_dir() == tmp_path / "home" / "ckpts"

    monkeypatch.delenv("GPUTRAIN_CHECKPOINT_DIR")
    assert callbacks.default_checkpoint_dir() == tmp_path / "drive" / "gputrain-checkpoints"
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", "")  # set but empty: as if unset
    assert callbacks.default_checkpoint_dir() == tmp_path / "drive" / "gputrain-checkpoints"

    monkeypatch.setattr(session, "persistent_dir", lambda: None)
    assert callbacks.default_checkpoint_dir() == tmp_path / "home" / ".gputrain" / "checkpoints"


def test_model_checkpoint_without_a_path_saves_in_the_platform_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUTRAIN_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(session, "persistent_dir", lambda: str(tmp_path / "storage"))
    x, y = problem(32)
    model = compiled(gt.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=())
    checkpoint = callbacks.ModelCheckpoint()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[checkpoint])
    assert checkpoint.last_path.parent == tmp_path / "storage" / "gputrain-checkpoints"
    assert [p.name for p in checkpoint.last_path.parent.iterdir()] == [checkpoint.last_path.name]
    assert not (tmp_path / "home").exists()
