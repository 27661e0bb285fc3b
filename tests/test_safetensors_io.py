"""Checkpoint file format: round trips, corruption detection, atomic replacement."""
import json
import os

import numpy as np
import pytest

from gputrain import safetensors_io


def test_round_trip_dtypes_shapes_and_metadata(tmp_path, rng):
    tensors = {"w": rng.standard_normal((3, 5)).astype(np.float32),
               "scalar": np.array(2.5, np.float32),
               "steps": np.array([7], np.int64),
               "empty": np.zeros((0, 4), np.float32),
               "bytes": rng.integers(0, 255, 9, dtype=np.uint8),
               "half": rng.standard_normal(4).astype(np.float16)}
    path = tmp_path / "model.safetensors"
    safetensors_io.save_file(path, tensors, {"config": json.dumps({"a": 1})})
    loaded, metadata = safetensors_io.load_file(path)
    assert metadata == {"config": '{"a": 1}'}
    assert loaded.keys() == tensors.keys()
    for k in tensors:
        assert loaded[k].dtype == tensors[k].dtype and loaded[k].shape == tensors[k].shape
        np.testing.assert_array_equal(loaded[k], tensors[k])
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    assert header_len % 8 == 0
    assert safetensors_io.load_metadata(path) == metadata  # from the header alone


def test_readable_by_the_safetensors_package(tmp_path, rng):
    safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed")
    w = rng.standard_normal((2, 3)).astype(np.float32)
    safetensors_io.save_file(tmp_path / "m.safetensors", {"w": w})
    np.testing.assert_array_equal(safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))["w"], w)


def test_truncated_file_is_detected(tmp_path, rng):
    path = tmp_path / "m.safetensors"
    safetensors_io.save_file(path, {"w": rng.standard_normal(100).astype(np.float32)})
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="outside the file"):
        safetensors_io.load_file(path)
    path.write_bytes(data[:20])
    with pytest.raises(ValueError, match="truncated"):
        safetensors_io.load_file(path)
    with pytest.raises(ValueError, match="truncated"):
        safetensors_io.load_metadata(path)
    path.write_bytes(data[:5])
    with pytest.raises(ValueError, match="too short"):
        safetensors_io.load_metadata(path)


def test_failed_write_keeps_the_previous_file(tmp_path, rng, monkeypatch):
    path = tmp_path / "m.safetensors"
    old = {"w": rng.standard_normal(4).astype(np.float32)}
    safetensors_io.save_file(path, old)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        safetensors_io.save_file(path, {"w": np.zeros(4, np.float32)})
    monkeypatch.undo()
    np.testing.assert_array_equal(safetensors_io.load_file(path)[0]["w"], old["w"])
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_unsupported_dtype_and_metadata(tmp_path):
    with pytest.raises(TypeError, match="cannot be stored"):
        safetensors_io.save_file(tmp_path / "x", {"c": np.zeros(2, np.complex64)})
    with pytest.raises(TypeError, match="metadata"):
        safetensors_io.save_file(tmp_path / "x", {}, {"epoch": 3})
