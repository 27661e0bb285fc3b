"""Checkpoint files from strangers, damaged files and junk beside good ones, as load_model, load_weights
and fit(resume=True) meet them: a clear error naming the file, or the junk skipped with a warning, and
never a write outside the checkpoint folder or a model changed half way."""
import json
import tracemalloc

import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, safetensors_io


def problem(n=64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model_with(units=8, optimizer="adam", name=None):
    model = gt.Sequential([layers.Input((6,)), layers.Dense(units, activation="relu"), layers.Dense(2)], name=name)
    model.compile(optimizer, gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    return model


def rewrite_info(path, change):
    tensors, metadata = safetensors_io.load_file(path)
    info = json.loads(metadata["gputrain"])
    change(info)
    safetensors_io.save_file(path, tensors, {"gputrain": json.dumps(info)})


JUNK_HEADERS = {"list": b"[1, 2]", "number": b"42", "string": b'"model"', "null": b"null",
                "deep": b"[" * 100_000 + b"]" * 100_000}


def junk_file(path, header: bytes):
    path.write_bytes(len(header).to_bytes(8, "little") + header)


@pytest.mark.parametrize("kind", sorted(JUNK_HEADERS))
def test_load_model_names_a_junk_file(tmp_path, kind):
    path = tmp_path / f"{kind}.safetensors"
    junk_file(path, JUNK_HEADERS[kind])
    with pytest.raises(ValueError, match=str(path)):
        gt.models.load_model(path)


def test_load_model_refuses_a_device_file_without_reading_it():
    with pytest.raises(ValueError, match="/dev/zero"):
        gt.models.load_model("/dev/zero")


def test_resume_skips_junk_and_continues_from_the_newest_good_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path))
    x, y = problem()
    model_with().fit(x, y, batch_size=16, epochs=2, verbose=0, resume=True)
    for kind, header in JUNK_HEADERS.items():  # newer than the good file, so looked at first
        junk_file(tmp_path / f"zz-{kind}.safetensors", header)
    again = model_with()
    with pytest.warns(RuntimeWarning) as caught:
        again.fit(x, y, batch_size=16, epochs=3, verbose=0, resume=True)
    skipped = " ".join(str(w.message) for w in caught)
    for kind in JUNK_HEADERS:
        assert f"skipping {tmp_path / f'zz-{kind}.safetensors'}" in skipped
    assert "Resuming 'sequential'" in capsys.readouterr().out
    assert again.optimizer.iterations == 3 * 4


def test_a_flipped_byte_in_a_weight_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "m.safetensors"
    model_with().save(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{path}: corrupt file"):
        gt.models.load_model(path)


def test_a_model_name_from_a_file_never_becomes_a_path_outside_the_folder(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(folder))
    for name in ("../../outside/x", str(tmp_path / "absolute")):
        path = tmp_path / "stranger.safetensors"
        model_with(name="ok").save(path)
        rewrite_info(path, lambda info: info["model"].update(name=name))
        loaded = gt.models.load_model(path)
        assert loaded.name == name
        checkpoint = gt.callbacks.ModelCheckpoint()
        loaded.fit(*problem(), batch_size=16, epochs=1, verbose=0, callbacks=[checkpoint])
        assert checkpoint.last_path.parent == folder and checkpoint.last_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "stranger.safetensors"]


def test_crafted_sizes_are_refused_before_anything_is_allocated(tmp_path):
    # 2**22 units of 6 inputs declared by a file of a few KB: 100 MB of weights if it were believed.
    path = tmp_path / "m.safetensors"
    model_with().save(path)
    rewrite_info(path, lambda info: info["model"]["layers"][1]["config"].update(units=2**22))
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"layers/0/kernel has shape \(6, 8\), the model expects \(6, 4194304\)"):
        gt.models.load_model(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 << 20, f"{peak} bytes allocated on the way to the error"


def test_crafted_progress_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    model_with().save(path)
    rewrite_info(path, lambda info: info["training"].update(samples=1.5))
    with pytest.raises(ValueError, match=rf"{path}: training.samples must be a non-negative integer, got 1.5"):
        gt.models.load_model(path)


def test_resuming_into_another_optimizer_changes_nothing(tmp_path, capsys):
    x, y = problem()
    path = tmp_path / "adam.safetensors"
    model_with(optimizer="adam").fit(x, y, batch_size=16, epochs=1, verbose=0,
                                     callbacks=[gt.callbacks.ModelCheckpoint(path)])
    sgd = model_with(optimizer="sgd")
    before = sgd.get_weights()
    with pytest.raises(ValueError, match=r"was trained with adam, the model is compiled with sgd"):
        sgd.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[gt.callbacks.ModelCheckpoint(path)],
                resume=True)
    for a, b in zip(before, sgd.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert sgd.training_state["epoch"] == 0 and sgd.optimizer.iterations == 0


def test_weights_of_another_dtype_are_named(tmp_path):
    path = tmp_path / "w.safetensors"
    model = model_with()
    model.save_weights(path)
    tensors, metadata = safetensors_io.load_file(path)
    tensors["layers/0/kernel"] = (tensors["layers/0/kernel"] * 100).astype(np.int8)
    safetensors_io.save_file(path, tensors, metadata)
    with pytest.raises(ValueError, match=r"layers/0/kernel holds int8 values, the model expects float32"):
        model_with().load_weights(path)
