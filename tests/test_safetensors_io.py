"""Checkpoint file format: round trips, corruption detection, atomic replacement."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

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


# ---- files from strangers: anything that is not a sound safetensors file is a ValueError naming it ----

def write_raw(path, header, data: bytes = b"") -> None:
    """A file with this header (an object, any JSON value, or raw bytes) and data section, as a
    stranger's tool or a corruption might leave it."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def child_environment() -> dict:
    """The environment for a child Python that imports the gputrain under test."""
    import gputrain
    return dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gputrain.__file__)),
                OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def child_load(function: str, path, timeout=60) -> dict:
    """Calls safetensors_io.<function>(path) in a child process limited to 4 GiB of address space and
    `timeout` seconds, so a reader that would block forever (a FIFO) or read without end (/dev/zero)
    fails the test instead of hanging it or exhausting the machine's memory. Returns the outcome."""
    import resource
    code = ("import json, sys\n"
            "from gputrain import safetensors_io\n"
            "try:\n"
            f"    safetensors_io.{function}(sys.argv[1])\n"
            "    out = {'raised': None}\n"
            "except BaseException as exc:\n"
            "    out = {'raised': type(exc).__name__, 'message': str(exc)}\n"
            "print(json.dumps(out))\n")

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            timeout=timeout, preexec_fn=limit_memory, env=child_environment())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("function", ["load_file", "load_metadata", "load_header"])
def test_a_folder_is_not_a_checkpoint(tmp_path, function):
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    with pytest.raises(ValueError, match=f"{re.escape(str(folder))}: not a regular file"):
        getattr(safetensors_io, function)(folder)


@pytest.mark.skipif(not os.path.exists("/dev/zero") or os.name != "posix", reason="needs /dev/zero")
@pytest.mark.parametrize("function", ["load_file", "load_metadata", "load_header"])
def test_a_device_is_not_a_checkpoint(function):
    outcome = child_load(function, "/dev/zero")
    assert outcome["raised"] == "ValueError", outcome
    assert outcome["message"].startswith("/dev/zero: not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("function", ["load_file", "load_metadata", "load_header"])
def test_a_pipe_is_not_a_checkpoint_and_does_not_block(tmp_path, function):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    outcome = child_load(function, fifo, timeout=30)  # opening a FIFO to read waits for a writer
    assert outcome["raised"] == "ValueError", outcome
    assert outcome["message"].startswith(f"{fifo}: not a regular file")


@pytest.mark.parametrize("header", [[1, 2], 3, "text", None, True])
def test_header_that_is_not_an_object(tmp_path, header):
    path = tmp_path / "m.safetensors"
    write_raw(path, header)
    for function in (safetensors_io.load_file, safetensors_io.load_metadata, safetensors_io.load_header):
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: .*JSON object was expected"):
            function(path)


def test_deeply_nested_header_is_a_value_error(tmp_path):
    path = tmp_path / "m.safetensors"
    write_raw(path, b"[" * 100_000 + b"]" * 100_000)
    for function in (safetensors_io.load_file, safetensors_io.load_metadata, safetensors_io.load_header):
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: .*nested too deeply"):
            function(path)


def test_header_that_is_not_json_or_not_utf8(tmp_path):
    path = tmp_path / "m.safetensors"
    for text in (b"{not json", b'{"w": "\xff\xfe"}', b'{"a": 1' + b"1" * 5000 + b"}"):
        write_raw(path, text)
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: corrupt safetensors header"):
            safetensors_io.load_header(path)


def test_repeated_tensor_name_is_corrupt(tmp_path):
    path = tmp_path / "m.safetensors"
    entry = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    write_raw(path, f'{{"w":{entry},"w":{entry}}}'.encode(), b"\x01")
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: .*'w' appears twice"):
        safetensors_io.load_file(path)


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}


BAD_ENTRIES = {
    "not an object": ([1, 2], "must be an object"),
    "null entry": (None, "must be an object"),
    "unknown dtype": (entry(dtype="BF16", shape=(4,)), "dtype 'BF16' is not one this reader supports"),
    "dtype not a string": (entry(dtype=5), "dtype 5 is not one"),
    "missing dtype": ({"shape": [2], "data_offsets": [0, 8]}, "dtype None is not one"),
    "negative dim": (entry(shape=(-2,)), r"shape \[-2\] must be a list"),
    "bool dim": (entry(shape=[True, 2]), r"shape \[True, 2\] must be a list"),
    "float dim": (entry(shape=[2.0]), r"shape \[2.0\] must be a list"),
    "string dim": (entry(shape=["2"]), r"shape \['2'\] must be a list"),
    "shape not a list": (entry(shape=2), "shape 2 must be a list"),
    "too many dims": (entry(shape=[1] * 40 + [2]), "must be a list of at most 32"),
    "float offsets": (entry(offsets=[0.0, 8.0]), r"data_offsets \[0.0, 8.0\] must be two non-negative"),
    "bool offsets": (entry(dtype="U8", shape=(1,), offsets=[False, True]), "must be two non-negative"),
    "three offsets": (entry(offsets=[0, 8, 16]), "must be two non-negative"),
    "negative offset": (entry(offsets=[-8, 0]), "must be two non-negative"),
    "backwards offsets": (entry(offsets=[8, 0]), r"data_offsets \[8, 0\] run backwards"),
    "size disagrees with shape": (entry(shape=(3,)), "hold 8 bytes, but a F32 tensor of shape"),
    # 2**62 * 4 elements overflow a 64-bit product to 0: the byte count must not wrap around
    "overflowing shape": (entry(shape=[2**62, 4], offsets=[0, 0]), "hold 0 bytes, but a F32 tensor"),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_bad_tensor_entry_names_the_file_and_the_tensor(tmp_path, case):
    bad, message = BAD_ENTRIES[case]
    path = tmp_path / "m.safetensors"
    write_raw(path, {"good": entry(offsets=(0, 8)), "weights": bad}, bytes(16))
    for function in (safetensors_io.load_file, safetensors_io.load_header):
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: tensor 'weights': .*{message}"):
            function(path)


@pytest.mark.parametrize("metadata", [[], "x", {"epoch": 3}, {"a": None}])
def test_metadata_that_is_not_strings(tmp_path, metadata):
    path = tmp_path / "m.safetensors"
    write_raw(path, {"__metadata__": metadata})
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: .*__metadata__ must map strings"):
        safetensors_io.load_metadata(path)


LAYOUTS = {
    "overlap": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, 12, "'b' overlaps tensor 'a'"),
    "same range twice": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(0, 8))}, 8, "overlaps tensor"),
    "gap": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, 20, "'b' starts at byte 12"),
    "gap at the start": ({"a": entry(offsets=(4, 12))}, 12, "'a' starts at byte 4"),
    "bytes after the last": ({"a": entry(offsets=(0, 8))}, 12, "4 bytes follow the last tensor"),
    "past the end": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(8, 16))}, 12, "'b' lies outside the file"),
}


@pytest.mark.parametrize("case", list(LAYOUTS))
def test_data_ranges_must_tile_the_data_section(tmp_path, case):
    header, data_size, message = LAYOUTS[case]
    path = tmp_path / "m.safetensors"
    write_raw(path, header, bytes(data_size))
    for function in (safetensors_io.load_file, safetensors_io.load_header):
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: .*{message}"):
            function(path)


def test_data_in_another_order_than_the_header_loads(tmp_path, rng):
    # Other writers (the safetensors package among them) order the data differently from the header.
    a, b = rng.standard_normal(2).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    path = tmp_path / "m.safetensors"
    write_raw(path, {"a": entry(shape=(2,), offsets=(12, 20)), "b": entry(shape=(3,), offsets=(0, 12)),
                     "empty": entry(shape=(0, 5), offsets=(12, 12))}, b.tobytes() + a.tobytes())
    tensors, _ = safetensors_io.load_file(path)
    np.testing.assert_array_equal(tensors["a"], a)
    np.testing.assert_array_equal(tensors["b"], b)
    assert tensors["empty"].shape == (0, 5)


def test_huge_declared_tensor_allocates_nothing(tmp_path):
    import tracemalloc
    path = tmp_path / "m.safetensors"
    write_raw(path, {"w": entry(shape=(1 << 28,), offsets=(0, 1 << 30))}, bytes(64))  # 1 GiB declared
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: tensor 'w' lies outside the file"):
            safetensors_io.load_file(path)
        assert tracemalloc.get_traced_memory()[1] < 16 << 20
    finally:
        tracemalloc.stop()


def test_bool_tensor_with_other_bytes_is_corrupt(tmp_path):
    path = tmp_path / "m.safetensors"
    write_raw(path, {"mask": entry(dtype="BOOL", shape=(3,), offsets=(0, 3))}, b"\x00\x01\x07")
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: tensor 'mask': a BOOL tensor holds"):
        safetensors_io.load_file(path)


def test_load_header_gives_dtypes_and_shapes_without_the_data(tmp_path, rng):
    path = tmp_path / "m.safetensors"
    safetensors_io.save_file(path, {"kernel": rng.integers(-5, 5, (3, 4), dtype=np.int8),
                                    "bias": np.zeros(4, np.float32), "scalar": np.array(1.5)},
                             {"note": "x"})
    metadata, entries = safetensors_io.load_header(path)
    assert metadata == {"note": "x"}
    assert entries == {"kernel": (np.dtype(np.int8), (3, 4)), "bias": (np.dtype(np.float32), (4,)),
                       "scalar": (np.dtype(np.float64), ())}
    assert list(entries) == ["kernel", "bias", "scalar"]  # the order they were saved in


def test_tensor_names_that_cannot_be_stored(tmp_path):
    with pytest.raises(ValueError, match="'__metadata__' is the format's metadata entry"):
        safetensors_io.save_file(tmp_path / "x", {"__metadata__": np.zeros(2, np.float32)})
    with pytest.raises(TypeError, match="tensor names must be strings, got 1"):
        safetensors_io.save_file(tmp_path / "x", {1: np.zeros(2, np.float32)})
    assert not (tmp_path / "x").exists()


# ---- checksums: a changed byte is an error, never a silently different weight ----

def saved_checkpoint(tmp_path, rng):
    path = tmp_path / "m.safetensors"
    tensors = {"layers/0/kernel": rng.standard_normal((3, 5)).astype(np.float32),
               "layers/0/bias": rng.standard_normal(5).astype(np.float32)}
    safetensors_io.save_file(path, tensors, {"gputrain": '{"training": {"epoch": 3}}'})
    return path, tensors


def replace_once(path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))


def test_checksums_are_written_and_hidden_from_the_caller(tmp_path, rng):
    path, tensors = saved_checkpoint(tmp_path, rng)
    header = json.loads(path.read_bytes()[8:8 + int.from_bytes(path.read_bytes()[:8], "little")])
    digests = json.loads(header["__metadata__"][safetensors_io.CHECKSUM_KEY])
    assert set(digests) == {"__metadata__", "layers/0/kernel", "layers/0/bias"}
    loaded, metadata = safetensors_io.load_file(path)
    assert metadata == {"gputrain": '{"training": {"epoch": 3}}'}
    assert safetensors_io.load_metadata(path) == metadata == safetensors_io.load_header(path)[0]
    np.testing.assert_array_equal(loaded["layers/0/kernel"], tensors["layers/0/kernel"])


def test_flipped_byte_in_a_weight_is_corrupt(tmp_path, rng):
    path, _ = saved_checkpoint(tmp_path, rng)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # in the bias, the last tensor written
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: corrupt file: tensor 'layers/0/bias' "
                                         f"does not match its checksum"):
        safetensors_io.load_file(path)
    safetensors_io.load_header(path)  # the header alone is still sound


@pytest.mark.parametrize("old, new", [(b'"dtype":"F32","shape":[5]', b'"dtype":"I32","shape":[5]'),
                                      (b'"shape":[3,5]', b'"shape":[5,3]')])
def test_changed_dtype_or_shape_is_corrupt(tmp_path, rng, old, new):
    path, _ = saved_checkpoint(tmp_path, rng)
    replace_once(path, old, new)  # every size still agrees: only the checksum can tell
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: corrupt file: tensor 'layers/0/"):
        safetensors_io.load_file(path)


def test_changed_metadata_is_corrupt(tmp_path, rng):
    path, _ = saved_checkpoint(tmp_path, rng)
    replace_once(path, b'\\"epoch\\": 3', b'\\"epoch\\": 7')
    for function in (safetensors_io.load_file, safetensors_io.load_metadata, safetensors_io.load_header):
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}: corrupt file: the metadata does not match"):
            function(path)


@pytest.mark.parametrize("digests, message", [
    ("not json", "the checksum list 'gputrain.sha256'"),
    ('["a"]', "is not an object of strings"),
    ('{"__metadata__": 1}', "is not an object of strings"),
    ('{"__metadata__": "00"}', r"the tensors differ \(in 'w'\)"),
])
def test_malformed_checksum_list_is_corrupt(tmp_path, digests, message):
    path = tmp_path / "m.safetensors"
    write_raw(path, {"__metadata__": {safetensors_io.CHECKSUM_KEY: digests},
                     "w": entry(dtype="U8", shape=(1,), offsets=(0, 1))}, b"\x05")
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: corrupt file: .*{message}"):
        safetensors_io.load_header(path)


def test_file_without_checksums_loads(tmp_path):
    # Older checkpoints and other tools' files carry no checksum list; they load unverified.
    path = tmp_path / "m.safetensors"
    write_raw(path, {"__metadata__": {"format": "pt"}, "w": entry(dtype="I8", shape=(2,), offsets=(0, 2))},
              b"\x05\xfb")
    tensors, metadata = safetensors_io.load_file(path)
    assert metadata == {"format": "pt"}
    np.testing.assert_array_equal(tensors["w"], np.array([5, -5], np.int8))


def test_a_given_checksum_entry_is_replaced_by_the_files_own(tmp_path, rng):
    path = tmp_path / "m.safetensors"
    w = rng.standard_normal(3).astype(np.float32)
    safetensors_io.save_file(path, {"w": w}, {safetensors_io.CHECKSUM_KEY: '{"stale": "0"}', "a": "b"})
    tensors, metadata = safetensors_io.load_file(path)
    assert metadata == {"a": "b"}
    np.testing.assert_array_equal(tensors["w"], w)


def test_files_of_the_safetensors_package_load_with_their_metadata(tmp_path, rng):
    safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed")
    tensors = {"b": rng.standard_normal(3).astype(np.float32), "a": rng.integers(0, 9, (2, 2)).astype(np.int64)}
    path = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(tensors, str(path), metadata={"format": "np"})
    loaded, metadata = safetensors_io.load_file(path)
    assert metadata == {"format": "np"}
    for name in tensors:
        np.testing.assert_array_equal(loaded[name], tensors[name])


def test_our_checkpoints_keep_their_metadata_in_the_safetensors_package(tmp_path, rng):
    safetensors = pytest.importorskip("safetensors", reason="safetensors is not installed")
    path, tensors = saved_checkpoint(tmp_path, rng)
    with safetensors.safe_open(str(path), framework="np") as f:
        assert f.metadata()["gputrain"] == '{"training": {"epoch": 3}}'
        np.testing.assert_array_equal(f.get_tensor("layers/0/kernel"), tensors["layers/0/kernel"])


# ---- temporaries: a killed save's orphan is removed at the next save, a live one's never ----

STALLED_SAVE = """
import os, sys
import numpy as np
from gputrain import safetensors_io

def stall(fd):
    # The data is written and the rename not yet done: report the temporary, then wait for a line.
    print(next(name for name in os.listdir(os.path.dirname(sys.argv[1])) if name.endswith('.tmp')), flush=True)
    sys.stdin.readline()
    os.fsync = real_fsync
    real_fsync(fd)

real_fsync, os.fsync = os.fsync, stall
safetensors_io.save_file(sys.argv[1], {"w": np.full(int(sys.argv[2]), 1.5, np.float32)})
print("saved", flush=True)
"""


def start_stalled_save(path, count: int) -> tuple[subprocess.Popen, str]:
    """A child process saving `count` float32 values to `path`, stopped just before its rename; the
    child and its temporary's name."""
    child = subprocess.Popen([sys.executable, "-c", STALLED_SAVE, str(path), str(count)], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_environment())
    temporary = child.stdout.readline().strip()
    assert temporary, "the child exited before writing its temporary"
    return child, temporary


def our_temporary(folder, pid: int, host="otherhost", place="0badf00d", target="m.safetensors"):
    path = folder / f".{target}.gputrain-{pid}-{host}-{place}-k3j2h1g0.tmp"
    path.write_bytes(b"partial")
    return path


def make_old(path, days=2.0):
    stamp = time.time() - days * 24 * 3600
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def test_temporary_names_say_whose_they_are(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(os.path.basename(src)), real_replace(src, dst)))
    safetensors_io.save_file(tmp_path / "m.safetensors", {"w": np.zeros(2, np.float32)})
    match = re.fullmatch(r"\.m\.safetensors\.gputrain-(\d+)-(\w+)-([0-9a-f]{8})-\w+\.tmp", renamed[0])
    assert match and int(match[1]) == os.getpid(), renamed
    assert match[2] in re.sub(r"\W", "_", socket.gethostname())
    long_name = "é" * 120 + ".safetensors"  # 252 bytes, within the usual limit of 255
    safetensors_io.save_file(tmp_path / long_name, {"w": np.zeros(2, np.float32)})
    assert (tmp_path / long_name).exists()
    # The target's part is cut to 100 bytes, leaving room for a host name of up to 40 characters.
    assert len(os.fsencode(renamed[1].split(".gputrain-")[0])) <= 101


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and pid checks are POSIX")
def test_killed_save_leaves_an_orphan_that_the_next_save_removes(tmp_path, rng):
    good = rng.standard_normal(5).astype(np.float32)
    safetensors_io.save_file(tmp_path / "m.safetensors", {"w": good})
    child, temporary = start_stalled_save(tmp_path / "m.safetensors", 16 << 20)  # 64 MiB
    os.kill(child.pid, signal.SIGKILL)
    child.wait()  # reaped: its pid is no longer running
    orphan = tmp_path / temporary
    assert orphan.stat().st_size > 64 << 20 and f".gputrain-{child.pid}-" in temporary
    np.testing.assert_array_equal(safetensors_io.load_file(tmp_path / "m.safetensors")[0]["w"], good)
    strangers = [tmp_path / name for name in (".notes.tmp", ".m.safetensors.k3j2h1g0.tmp",
                                              "m.safetensors.gputrain-1-h-0badf00d-k3j2h1g0.tmp")]
    for path in strangers:
        path.write_bytes(b"not ours")
        make_old(path, days=30)
    safetensors_io.save_file(tmp_path / "other.safetensors", {"w": good})  # a save into the same folder
    assert not orphan.exists()
    assert all(path.read_bytes() == b"not ours" for path in strangers)
    np.testing.assert_array_equal(safetensors_io.load_file(tmp_path / "m.safetensors")[0]["w"], good)


@pytest.mark.skipif(os.name != "posix", reason="pid checks are POSIX")
def test_live_save_keeps_its_temporary_and_completes(tmp_path, rng):
    child, temporary = start_stalled_save(tmp_path / "m.safetensors", 1 << 20)
    try:
        safetensors_io.save_file(tmp_path / "other.safetensors", {"w": np.zeros(3, np.float32)})
        assert safetensors_io.remove_stale_temporaries(tmp_path) == []
        assert (tmp_path / temporary).exists()
        out, _ = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0 and out.strip() == "saved"
    tensors, _ = safetensors_io.load_file(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(tensors["w"], np.full(1 << 20, 1.5, np.float32))
    assert not (tmp_path / temporary).exists()


def test_temporaries_untouched_for_a_day_are_removed_whoever_wrote_them(tmp_path):
    old_elsewhere = our_temporary(tmp_path, 4242)
    old_of_this_process = our_temporary(tmp_path, os.getpid(), place=safetensors_io._pid_place(),
                                        target="n.safetensors")
    for path in (old_elsewhere, old_of_this_process):
        make_old(path)
    fresh_elsewhere = our_temporary(tmp_path, 4243)
    removed = safetensors_io.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([old_elsewhere, old_of_this_process])
    assert fresh_elsewhere.exists()  # another machine's pid cannot be checked: it waits for the age


def test_fresh_temporary_of_this_process_is_kept(tmp_path):
    # Another thread of this process may be writing it.
    mine = our_temporary(tmp_path, os.getpid(), place=safetensors_io._pid_place())
    safetensors_io.save_file(tmp_path / "x.safetensors", {"w": np.zeros(1, np.float32)})
    assert mine.exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_links_and_folders_of_our_naming_are_left_alone(tmp_path):
    target = tmp_path / "precious.bin"
    target.write_bytes(b"keep")
    link = tmp_path / ".m.safetensors.gputrain-4242-otherhost-0badf00d-k3j2h1g0.tmp"
    link.symlink_to(target)
    folder = tmp_path / ".n.safetensors.gputrain-4242-otherhost-0badf00d-k3j2h1g0.tmp"
    folder.mkdir()
    for path in (link, folder):
        make_old(path)
    assert safetensors_io.remove_stale_temporaries(tmp_path) == []
    assert link.is_symlink() and folder.is_dir() and target.read_bytes() == b"keep"


def test_cleanup_of_a_missing_folder_is_quiet(tmp_path):
    assert safetensors_io.remove_stale_temporaries(tmp_path / "nowhere") == []
