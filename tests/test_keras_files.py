"""Keras 3's files both ways. The fixtures in keras_files/ were written by Keras 3 (make_fixtures.py there,
with the outputs Keras computed): gputrain loads them and predicts what Keras predicted, and one more
training step from the optimizer state in the file gives the weights Keras's next step gave. Files
gputrain writes load in Keras and predict the same, checked where Keras is installed (this interpreter,
or the one GPUTRAIN_KERAS_PYTHON names), skipped with that reason where it is not."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gputrain as gt

pytest.importorskip("h5py", reason="Keras files need h5py (pip install \"gputrain[keras]\")")

HERE = Path(__file__).parent / "keras_files"
STEMS = ["sequential_cnn", "functional_two_outputs", "mlp_rmsprop", "nested_frozen_base"]


def _outputs(model, x) -> list:
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, list) else [out])]


def _expected(stem) -> tuple:
    data = np.load(HERE / f"{stem}.npz")
    return data, [data[f"output_{i}"] for i in range(sum(k.startswith("output_") for k in data))]


@pytest.mark.parametrize("stem", STEMS)
def test_a_keras_file_predicts_what_keras_predicted(stem):
    model = gt.saving.load_model(HERE / f"{stem}.keras")
    data, expected = _expected(stem)
    got = _outputs(model, data["probe"])
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_the_compile_settings_come_back():
    cnn = gt.models.load_model(HERE / "sequential_cnn.keras")
    assert (cnn.optimizer.name, cnn.optimizer.iterations) == ("adam", 8)
    assert cnn.optimizer.learning_rate == pytest.approx(2e-3)
    assert isinstance(cnn.loss, gt.losses.SparseCategoricalCrossentropy) and cnn.metrics == ["accuracy"]
    assert cnn.layers[-2].param_regularizers["kernel"].get_config() == pytest.approx({"l2": 1e-3})
    two = gt.saving.load_model(HERE / "functional_two_outputs.keras")
    assert (two.optimizer.name, two.optimizer.momentum, two.loss_weights) == ("sgd", pytest.approx(0.9), [1.0, 0.5])
    assert [type(l).__name__ for l in two.loss] == ["SparseCategoricalCrossentropy", "BinaryCrossentropy"]
    mlp = gt.saving.load_model(HERE / "mlp_rmsprop.keras")
    assert mlp.loss.from_logits and mlp.optimizer.centered and mlp.optimizer.momentum == pytest.approx(0.5)
    transfer = gt.saving.load_model(HERE / "nested_frozen_base.keras")
    base = transfer.layers[1]
    assert isinstance(base, gt.Sequential) and not any(layer.trainable for layer in base.layers)
    assert len(transfer.trainable_weights) == 4


@pytest.mark.parametrize("stem", ["sequential_cnn", "mlp_rmsprop", "nested_frozen_base"])
def test_training_continues_from_kerass_optimizer_state(stem):
    """Keras took one more step after saving; gputrain's step from the file lands on the same weights.
    (A fresh optimizer would not: Adam's and RMSprop's first steps differ from their ninth.)"""
    model = gt.saving.load_model(HERE / f"{stem}.keras")
    data, _ = _expected(stem)
    before = model.get_weights()
    model.train_on_batch(data["step_x"], data["step_y"])
    after = model.get_weights()
    expected = [data[f"after_step_{i}"] for i in range(len(after))]
    assert max(np.abs(e - b).max() for e, b in zip(expected, before)) > 1e-4  # the step moved the weights
    for got, want in zip(after, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("stem", STEMS)
def test_load_weights_reads_kerass_weights_file(stem):
    model = gt.saving.load_model(HERE / f"{stem}.keras")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(HERE / f"{stem}.weights.h5")
    data, expected = _expected(stem)
    np.testing.assert_allclose(_outputs(model, data["probe"])[0], expected[0], rtol=1e-5, atol=1e-6)


def _native_model():
    gt.utils.set_random_seed(5)
    inputs = gt.Input((8, 8, 2))
    a = gt.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    b = gt.layers.Conv2D(3, 1)(a)
    merged = gt.layers.Add()([a, b])
    flat = gt.layers.Flatten()(gt.layers.MaxPooling2D()(merged))
    outputs = gt.layers.Dense(4, activation="softmax", kernel_regularizer=gt.regularizers.l2(1e-3))(flat)
    model = gt.Model(inputs, outputs, name="native")
    model.compile(gt.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 2), dtype=np.float32), rng.integers(0, 4, 16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model, x


def test_a_file_gputrain_writes_reads_back_the_same(tmp_path):
    model, x = _native_model()
    model.save(tmp_path / "native.keras")
    again = gt.saving.load_model(tmp_path / "native.keras")
    np.testing.assert_array_equal(_outputs(again, x)[0], _outputs(model, x)[0])
    assert again.optimizer.iterations == model.optimizer.iterations == 2
    for key, slots in model.optimizer.slots.items():
        for name, tensor in slots.items():
            np.testing.assert_array_equal(again.optimizer.slots[key][name].numpy(), tensor.numpy())
    with zipfile.ZipFile(tmp_path / "native.keras") as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
    assert config["class_name"] == "Functional" and config["compile_config"]["optimizer"]["class_name"] == "Adam"
    model.save_weights(tmp_path / "native.weights.h5")
    fresh, _ = _native_model()
    fresh.load_weights(tmp_path / "native.weights.h5")
    np.testing.assert_array_equal(_outputs(fresh, x)[0], _outputs(model, x)[0])


def _keras_python() -> str | None:
    named = os.environ.get("GPUTRAIN_KERAS_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("keras") else None


KERAS_CHECK = r'''
import sys, numpy as np, keras
folder = sys.argv[1]
for stem in sys.argv[2:]:
    model = keras.saving.load_model(f"{folder}/{stem}.keras")
    data = np.load(f"{folder}/{stem}_probe.npz")
    out = model.predict(data["x"], verbose=0)
    out = out if isinstance(out, list) else [out]
    iterations = int(np.asarray(model.optimizer.iterations))
    if len(out) == 1:
        model.train_on_batch(data["x"][:8], data["y"][:8])
    np.savez(f"{folder}/{stem}_keras.npz", iterations=iterations, *out, **{f"w{i}": w for i, w in
                                                                           enumerate(model.get_weights())})
'''


def test_keras_loads_what_gputrain_writes(tmp_path):
    python = _keras_python()
    if python is None:
        pytest.skip("Keras 3 is not installed here (set GPUTRAIN_KERAS_PYTHON to an interpreter that has it)")
    native, x = _native_model()
    models = {"native": (native, x, np.arange(16) % 4)}
    for stem in ["sequential_cnn", "functional_two_outputs", "nested_frozen_base"]:
        data, _ = _expected(stem)
        probe = data["probe"]
        models[stem] = (gt.saving.load_model(HERE / f"{stem}.keras"), probe, np.arange(len(probe)) % 5)
    for stem, (model, probe, labels) in models.items():
        model.save(tmp_path / f"{stem}.keras")
        np.savez(tmp_path / f"{stem}_probe.npz", x=probe, y=labels)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")}
    result = subprocess.run([python, "-c", KERAS_CHECK, str(tmp_path), *models], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for stem, (model, probe, labels) in models.items():
        keras_side = np.load(tmp_path / f"{stem}_keras.npz")
        ours = _outputs(model, probe)
        for i, o in enumerate(ours):
            np.testing.assert_allclose(keras_side[f"arr_{i}"], o, rtol=1e-5, atol=1e-6)
        assert int(keras_side["iterations"]) == model.optimizer.iterations
        if stem != "functional_two_outputs":  # (its dropout draws differ between the two)
            model.train_on_batch(probe[:8], labels[:8])
            for i, w in enumerate(model.get_weights()):
                np.testing.assert_allclose(keras_side[f"w{i}"], w, rtol=1e-4, atol=1e-6)


# ---- what is refused, and how ------------------------------------------------------------------------

def _rewritten(tmp_path, stem, change) -> Path:
    """A copy of a fixture whose config.json `change` edits."""
    with zipfile.ZipFile(HERE / f"{stem}.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / f"{stem}-changed.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_an_unknown_layer_is_named(tmp_path):
    def to_lstm(config):
        config["config"]["layers"][-1]["class_name"] = "LSTM"
    with pytest.raises(ValueError, match=r"'dense_1' \(LSTM\): gputrain has no layer LSTM"):
        gt.saving.load_model(_rewritten(tmp_path, "sequential_cnn", to_lstm))


def test_a_setting_gputrain_cannot_honour_is_named(tmp_path):
    def constrain(config):
        config["config"]["layers"][1]["config"]["kernel_constraint"] = {"class_name": "MaxNorm", "config": {}}
    with pytest.raises(ValueError, match="kernel_constraint"):
        gt.saving.load_model(_rewritten(tmp_path, "sequential_cnn", constrain))

    def half(config):
        config["config"]["layers"][1]["config"]["dtype"] = "mixed_float16"
    with pytest.raises(ValueError, match="mixed_float16"):
        gt.saving.load_model(_rewritten(tmp_path, "sequential_cnn", half))


def test_an_optimizer_gputrain_lacks_loads_the_model_uncompiled(tmp_path):
    def ftrl(config):
        config["compile_config"]["optimizer"]["class_name"] = "Ftrl"
    with pytest.warns(RuntimeWarning, match="Ftrl.*loaded uncompiled"):
        model = gt.saving.load_model(_rewritten(tmp_path, "sequential_cnn", ftrl))
    assert model.optimizer is None
    data, expected = _expected("sequential_cnn")
    np.testing.assert_allclose(_outputs(model, data["probe"])[0], expected[0], rtol=1e-5, atol=1e-6)


def test_broken_files_are_named(tmp_path):
    (tmp_path / "empty.keras").write_bytes(b"")
    with pytest.raises(ValueError, match="not a Keras .keras file"):
        gt.saving.load_model(tmp_path / "empty.keras")
    with zipfile.ZipFile(tmp_path / "no_weights.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="no model.weights.h5"):
        gt.saving.load_model(tmp_path / "no_weights.keras")
    bad = tmp_path / "bad_h5.keras"
    shutil.copy(HERE / "mlp_rmsprop.keras", bad)
    with zipfile.ZipFile(HERE / "mlp_rmsprop.keras") as src, zipfile.ZipFile(bad, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.h5", b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        gt.saving.load_model(bad)


def test_weights_of_another_architecture_leave_the_model_as_it_was():
    model = gt.saving.load_model(HERE / "mlp_rmsprop.keras")
    before = model.get_weights()
    with pytest.raises(ValueError, match="has 2 weights, the file has|has shape"):
        model.load_weights(HERE / "sequential_cnn.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_kerass_whole_model_h5_is_refused_for_keras_or_safetensors(tmp_path):
    model, _ = _native_model()
    with pytest.raises(ValueError, match=r"Keras 2's whole-model \.h5 format is not supported"):
        model.save(tmp_path / "model.h5")
    assert not (tmp_path / "model.h5").exists()


def test_without_h5py_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install h5py"):
        gt.saving.load_model(HERE / "mlp_rmsprop.keras")


def test_model_checkpoint_writes_keras_files_keras_can_name(tmp_path):
    model, x = _native_model()
    y = np.arange(16) % 4
    checkpoint = gt.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.keras"))
    weights = gt.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}.weights.h5"), save_weights_only=True)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[checkpoint, weights])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.keras", "ckpt-02.keras", "w-01.weights.h5",
                                                           "w-02.weights.h5"]
    last = gt.saving.load_model(tmp_path / "ckpt-02.keras")
    assert last.optimizer.iterations == model.optimizer.iterations == 6
    np.testing.assert_array_equal(_outputs(last, x)[0], _outputs(model, x)[0])
    with pytest.raises(ValueError, match=r"\.h5 holds weights alone"):
        gt.callbacks.ModelCheckpoint(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="do not record where a fit stopped"):
        model.fit(x, y, epochs=1, verbose=0, resume=True, callbacks=[gt.callbacks.ModelCheckpoint(
            str(tmp_path / "ckpt-02.keras"))])


def test_a_checkpoint_never_replaces_a_keras_file_trained_further(tmp_path):
    trained, x = _native_model()
    trained.fit(x, np.arange(16) % 4, batch_size=8, epochs=3, verbose=0)
    trained.save(tmp_path / "model.keras")
    fresh, _ = _native_model()  # two steps, fewer than the file's eight
    checkpoint = gt.callbacks.ModelCheckpoint(str(tmp_path / "model.keras"))
    fresh.fit(x, np.arange(16) % 4, batch_size=8, epochs=1, verbose=0, callbacks=[checkpoint])
    kept = [p for p in tmp_path.iterdir() if ".kept-" in p.name]
    assert len(kept) == 1
    assert gt.saving.load_model(kept[0]).optimizer.iterations == 8


# ---- optimizers: Keras's update rules and options, and their state in its files ----------------------

OPTIMIZER_STEMS = sorted(p.stem[len("optimizer_"):] for p in HERE.glob("optimizer_*.keras"))


def _optimizer_case(stem):
    data = np.load(HERE / f"optimizer_{stem}.npz")
    model = gt.saving.load_model(HERE / f"optimizer_{stem}.keras")
    return data, model


def test_every_optimizer_fixture_is_there():
    assert len(OPTIMIZER_STEMS) == 12


@pytest.mark.parametrize("stem", OPTIMIZER_STEMS)
def test_an_optimizer_takes_kerass_steps(stem, device):
    """From the same weights and batches, five steps of the optimizer as Keras configured it (read from
    its file) land where Keras's five steps did."""
    data, loaded = _optimizer_case(stem)
    model = gt.Sequential([gt.Input((6,)), gt.layers.Dense(8, activation="relu"), gt.layers.Dense(3)])
    model.compile(gt.optimizers.from_config(loaded.optimizer.name, loaded.optimizer.get_config()),
                  gt.losses.SparseCategoricalCrossentropy(from_logits=True), device=device)
    model.set_weights([data[f"start_{i}"] for i in range(4)])
    for step in range(5):
        model.train_on_batch(data["batches_x"][step], data["batches_y"][step])
    for i, got in enumerate(model.get_weights()):
        np.testing.assert_allclose(got, data[f"after_{i}"], rtol=2e-4, atol=2e-6, err_msg=f"weight {i}")


@pytest.mark.parametrize("stem", OPTIMIZER_STEMS)
def test_an_optimizer_continues_from_kerass_file(stem):
    data, model = _optimizer_case(stem)
    assert model.optimizer.iterations == 4
    model.train_on_batch(data["batches_x"][4], data["batches_y"][4])
    for i, got in enumerate(model.get_weights()):
        np.testing.assert_allclose(got, data[f"after_{i}"], rtol=2e-4, atol=2e-6, err_msg=f"weight {i}")


KERAS_CONTINUES = r'''
import sys, numpy as np, keras
folder, fixtures = sys.argv[1], sys.argv[2]
for stem in sys.argv[3:]:
    model = keras.saving.load_model(f"{folder}/{stem}.keras")
    data = np.load(f"{fixtures}/optimizer_{stem}.npz")
    model.train_on_batch(data["batches_x"][4], data["batches_y"][4])
    np.savez(f"{folder}/{stem}_keras.npz", *model.get_weights())
'''


def test_keras_continues_training_from_the_optimizer_state_gputrain_writes(tmp_path):
    python = _keras_python()
    if python is None:
        pytest.skip("Keras 3 is not installed here (set GPUTRAIN_KERAS_PYTHON to an interpreter that has it)")
    for stem in OPTIMIZER_STEMS:
        _, model = _optimizer_case(stem)
        model.save(tmp_path / f"{stem}.keras")
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")}
    result = subprocess.run([python, "-c", KERAS_CONTINUES, str(tmp_path), str(HERE), *OPTIMIZER_STEMS],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for stem in OPTIMIZER_STEMS:
        data = np.load(HERE / f"optimizer_{stem}.npz")
        keras_side = np.load(tmp_path / f"{stem}_keras.npz")
        for i in range(4):
            np.testing.assert_allclose(keras_side[f"arr_{i}"], data[f"after_{i}"], rtol=2e-4, atol=2e-6,
                                       err_msg=f"{stem}, weight {i}")
