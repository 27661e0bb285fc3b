"""Reading and writing the safetensors format (an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw bytes), so checkpoints open in any tool
that reads it and nothing is ever unpickled. Writes are atomic: a temporary file in the same folder,
flushed to disk, then renamed over the target, so a killed process leaves the previous file intact.
Reads trust nothing in a file: every header field is checked, and every declared size against the
file's real size before anything is allocated; whatever is wrong is a ValueError naming the file.

Checksums: the metadata key "gputrain.sha256" holds a JSON object mapping each tensor's name to the
SHA-256 of its dtype code, shape and bytes (json.dumps([code, shape]), a newline, then the raw data),
and "__metadata__" to the SHA-256 of the other metadata (json.dumps(metadata, sort_keys=True)). It is
written on every save and verified on every load where present, so a flipped byte is an error instead
of a silently wrong weight; files without it (older checkpoints, other tools) load unverified, and
other safetensors readers see one more metadata string. Loads return the metadata without it.

Temporaries are named `.<target name>.gputrain-<pid>-<host>-<place>-<random>.tmp`, where <place> is a
hash of the host name, boot and pid namespace (the scope in which a pid names one process). Each save
first removes the folder's stale ones of that naming, left by killed saves: those of a process that is
gone (same place, pid not running), and any untouched for STALE_TEMPORARY_AGE_S."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 << 20  # a header larger than this is a corrupt file, not a model
_MAX_RANK = 32  # NumPy 1's limit on dimensions
CHECKSUM_KEY = "gputrain.sha256"
# A save rewrites its temporary continuously until the rename; one untouched for a day is an orphan
# whoever wrote it (even from another machine sharing the folder, whose pids cannot be checked here).
STALE_TEMPORARY_AGE_S = 24 * 3600
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.gputrain-(?P<pid>[0-9]{1,10})-(?P<host>[A-Za-z0-9_]{1,40})"
                        r"-(?P<place>[0-9a-f]{8})-[A-Za-z0-9_]+\.tmp")


def save_file(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Writes the tensors and string metadata (any CHECKSUM_KEY given is replaced by the file's own)."""
    path = Path(path)
    metadata = dict(metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata: keys and values must be strings")
    metadata.pop(CHECKSUM_KEY, None)
    header: dict = {}
    digests = {"__metadata__": _metadata_digest(metadata)}
    arrays = []
    offset = 0
    for name, value in tensors.items():
        _check_tensor_name(name)
        array = np.asarray(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if array.dtype not in _CODES:
            raise TypeError(f"{name}: dtype {array.dtype} cannot be stored")
        code = _CODES[array.dtype]
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        digests[name] = _tensor_digest(code, array.shape, array)
        offset += array.nbytes
        arrays.append(array)
    metadata[CHECKSUM_KEY] = json.dumps(digests, separators=(",", ":"))
    encoded = json.dumps({"__metadata__": metadata, **header}, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # keeps the data 8-byte aligned, as the format recommends

    def write(f) -> None:
        f.write(len(encoded).to_bytes(8, "little"))
        f.write(encoded)
        for array in arrays:
            f.write(_bytes_of(array))

    write_atomically(path, write)


def write_atomically(path, write) -> None:
    """Calls write(binary file) on a temporary beside `path` and renames it to `path` once it is on disk:
    a process killed meanwhile leaves the previous file whole (and a temporary the next write removes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)  # before writing: the orphans may be what fills the disk
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _temporary_prefix(path: Path) -> str:
    # The target's name is cut to 100 bytes so that the temporary's stays within the usual 255-byte
    # limit (bytes, not characters: é is two).
    target = os.fsdecode(os.fsencode(path.name)[:100])
    return f".{target}.gputrain-{os.getpid()}-{_host_tag()}-{_pid_place()}-"


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def _pid_place() -> str:
    """Eight hex digits naming where this process's pid is meaningful: the same host name, the same
    boot and the same pid namespace (containers sharing a folder each have their own pid 1)."""
    parts = [socket.gethostname(), _read_quietly("/proc/sys/kernel/random/boot_id")]
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass  # not Linux: the host name alone
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def _read_quietly(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows; rely on the age alone
    if pid <= 0:
        return False  # never signal 0 or -1: they mean a whole process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False  # no such pid can exist
    except OSError:
        return True  # unknown: keep the file
    return True


def _is_stale_temporary(entry: os.DirEntry, place: str, max_age_s: float) -> bool:
    owner = _TEMPORARY.fullmatch(entry.name)
    if owner is None:
        return False  # not of our naming: never ours to remove
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    if time.time() - info.st_mtime > max_age_s:
        return True
    # Our own pid may be another thread's save in progress; elsewhere a pid cannot be checked.
    pid = int(owner["pid"])
    return owner["place"] == place and pid != os.getpid() and not _pid_alive(pid)


def remove_stale_temporaries(folder, max_age_s: float = STALE_TEMPORARY_AGE_S) -> list[Path]:
    """Removes the temporaries that killed saves left in `folder` and returns their paths: files of
    our naming whose writer is gone (same place, pid not running) or untouched for max_age_s. Never a
    temporary that a live process may still be writing, never a file of another naming. Best effort:
    whatever cannot be listed or removed is left, silently, as a save must not fail for it."""
    place = _pid_place()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        if _is_stale_temporary(entry, place, max_age_s):
            try:
                os.unlink(entry.path)
            except OSError:
                continue  # removed by another process meanwhile, or not ours to remove
            removed.append(Path(entry.path))
    return removed


def _tensor_digest(code: str, shape, array: np.ndarray) -> str:
    # dtype and shape are covered too: F32 flipped to I32, or (3, 5) to (5, 3), keeps every size right.
    digest = hashlib.sha256(json.dumps([code, list(shape)]).encode() + b"\n")
    digest.update(_bytes_of(array))
    return digest.hexdigest()


def _metadata_digest(metadata: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()


def _check_tensor_name(name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"tensor names must be strings, got {name!r}")
    if name == "__metadata__":
        raise ValueError("'__metadata__' is the format's metadata entry, not a tensor name")


def _fsync_dir(folder: Path) -> None:
    # The rename itself must reach the disk for the new file to survive a machine stop.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Entry(NamedTuple):
    """One tensor as the header declares it, validated: its bytes are data[start:end]."""
    name: str
    code: str
    dtype: np.dtype
    shape: tuple
    start: int
    end: int


def _open_regular(path: Path):
    """The file opened for reading; ValueError for a folder, device or pipe, which would otherwise block
    (a FIFO), never end (/dev/zero) or fail obscurely."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path}: not a regular file (a folder, device or pipe), so not a safetensors file")
    # O_NONBLOCK: should a pipe be swapped in after the check, opening it must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise ValueError(f"{path}: not a regular file (a folder, device or pipe), so not a safetensors file")
    return f


def _reject_duplicates(pairs: list) -> dict:
    # json.loads keeps the last of two equal keys; two entries of one name mean a corrupt header.
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result


def parse_json(text, what: str):
    """json.loads with its failures (bad syntax, bad UTF-8, deep nesting, repeated keys) as ValueError
    naming `what`: a crafted file nested 100,000 deep otherwise ends in RecursionError."""
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except RecursionError:
        raise ValueError(f"{what}: nested too deeply to be a checkpoint") from None
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc


def _read_header(f, path: Path) -> tuple[int, dict]:
    """(header length, header object) from the open file; ValueError naming the file if corrupt. Reads
    no more than the file holds, whatever the length field says."""
    file_size = os.fstat(f.fileno()).st_size
    if file_size < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    size = int.from_bytes(f.read(8), "little")
    if size > _MAX_HEADER or 8 + size > file_size:
        raise ValueError(f"{path}: corrupt or truncated safetensors header")
    text = f.read(size)
    if len(text) != size:
        raise ValueError(f"{path}: truncated safetensors header (the file shrank while being read)")
    header = parse_json(text, f"{path}: corrupt safetensors header")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt safetensors header: a JSON object was expected, "
                         f"got {type(header).__name__}")
    return size, header


def _check_metadata(path: Path, metadata) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: corrupt safetensors header: __metadata__ must map strings to strings")
    return metadata


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a size


def _parse_entry(path: Path, name: str, info) -> _Entry:
    """One tensor's header entry, checked for types and self-consistency; ValueError naming it."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(info, dict):
        raise ValueError(f"{where}: its header entry must be an object, got {type(info).__name__}")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(code, str) or code not in _DTYPES:
        raise ValueError(f"{where}: dtype {code!r} is not one this reader supports "
                         f"({', '.join(_DTYPES)})")
    if not isinstance(shape, list) or len(shape) > _MAX_RANK or not all(_is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"{where}: shape {shape!r} must be a list of at most {_MAX_RANK} non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)):
        raise ValueError(f"{where}: data_offsets {offsets!r} must be two non-negative integers")
    start, end = offsets
    if end < start:
        raise ValueError(f"{where}: data_offsets {offsets} run backwards")
    dtype = np.dtype(_DTYPES[code])
    if end - start != math.prod(shape) * dtype.itemsize:  # Python integers: no overflow
        raise ValueError(f"{where}: data_offsets {offsets} hold {end - start} bytes, but a {code} tensor "
                         f"of shape {shape} needs {math.prod(shape) * dtype.itemsize}")
    return _Entry(name, code, dtype, tuple(shape), start, end)


def _check_layout(path: Path, entries: list[_Entry], data_size: int) -> None:
    """The tensors' byte ranges must tile the data section exactly, as the format requires: no range
    past the end (a torn write), none overlapping another, no gap, nothing after the last."""
    for entry in entries:
        if entry.end > data_size:
            raise ValueError(f"{path}: tensor {entry.name!r} lies outside the file (torn write?)")
    position, previous = 0, None
    for entry in sorted(entries, key=lambda e: (e.start, e.end)):
        if entry.start < position:
            raise ValueError(f"{path}: tensor {entry.name!r} overlaps tensor {previous!r}")
        if entry.start > position:
            raise ValueError(f"{path}: tensor {entry.name!r} starts at byte {entry.start} of the data, "
                             f"leaving bytes {position}..{entry.start} unused (corrupt header)")
        position, previous = entry.end, entry.name
    if position != data_size:
        raise ValueError(f"{path}: {data_size - position} bytes follow the last tensor (corrupt file?)")


def _pop_digests(path: Path, metadata: dict[str, str], entries: list[_Entry]) -> dict[str, str] | None:
    """The tensors' checksums, taken out of the metadata after checking the metadata's own against it;
    None for a file written without them."""
    text = metadata.pop(CHECKSUM_KEY, None)
    if text is None:
        return None
    digests = parse_json(text, f"{path}: corrupt file: the checksum list {CHECKSUM_KEY!r}")
    names = {"__metadata__"} | {e.name for e in entries}
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise ValueError(f"{path}: corrupt file: the checksum list {CHECKSUM_KEY!r} is not an object of strings")
    if set(digests) != names:
        odd = sorted(names.symmetric_difference(digests))[:5]
        raise ValueError(f"{path}: corrupt file: the checksum list {CHECKSUM_KEY!r} and the tensors differ "
                         f"(in {', '.join(map(repr, odd))})")
    if digests["__metadata__"] != _metadata_digest(metadata):
        raise ValueError(f"{path}: corrupt file: the metadata does not match its checksum")
    return digests


class _Header(NamedTuple):
    metadata: dict[str, str]
    entries: list[_Entry]  # in header order
    data_start: int  # the data section's offset in the file
    digests: dict[str, str] | None  # each tensor's checksum, if the file has them


def _read_validated_header(f, path: Path) -> _Header:
    """The header with every declared size checked against the file's real size, so nothing is
    allocated on a header's word, and the metadata checked against its checksum."""
    size, header = _read_header(f, path)
    metadata = _check_metadata(path, header.pop("__metadata__", None))
    entries = [_parse_entry(path, name, info) for name, info in header.items()]
    _check_layout(path, entries, os.fstat(f.fileno()).st_size - 8 - size)
    return _Header(metadata, entries, 8 + size, _pop_digests(path, metadata, entries))


def load_header(path) -> tuple[dict[str, str], dict[str, tuple[np.dtype, tuple]]]:
    """(metadata, {tensor name: (dtype, shape)}) from the header alone, validated as load_file does: a
    caller checks names, shapes and dtypes (an I8 tensor where float32 weights belong) before loading
    or building anything. ValueError naming the file and the entry for anything corrupt."""
    path = Path(path)
    with _open_regular(path) as f:
        header = _read_validated_header(f, path)
    return header.metadata, {e.name: (e.dtype, e.shape) for e in header.entries}


def load_metadata(path) -> dict[str, str]:
    """The metadata alone, reading only the header: deciding which checkpoint to load (resume looks
    through a folder of them) need not read every file's tensors."""
    return load_header(path)[0]


def _read_tensor(f, path: Path, entry: _Entry, header: _Header) -> np.ndarray:
    array = np.empty(entry.shape, entry.dtype)  # its size was checked against the file's
    f.seek(header.data_start + entry.start)
    if f.readinto(_bytes_of(array)) != entry.end - entry.start:
        raise ValueError(f"{path}: tensor {entry.name!r} lies outside the file (it shrank while being read)")
    if entry.code == "BOOL" and array.size and _bytes_of(array).max() > 1:
        raise ValueError(f"{path}: tensor {entry.name!r}: a BOOL tensor holds bytes other than 0 and 1")
    if header.digests is not None and _tensor_digest(entry.code, entry.shape, array) != header.digests[entry.name]:
        raise ValueError(f"{path}: corrupt file: tensor {entry.name!r} does not match its checksum "
                         f"(a changed byte in its data, dtype or shape)")
    return array


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """The array's own memory as a flat uint8 view (a 0-d array included)."""
    return array.reshape(-1).view(np.uint8)


def load_file(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata). ValueError naming the file (and the tensor) for a torn or corrupt one, one
    whose checksums disagree with its contents, and anything that is not a regular file."""
    path = Path(path)
    with _open_regular(path) as f:
        header = _read_validated_header(f, path)
        tensors = {e.name: _read_tensor(f, path, e, header) for e in header.entries}
    return tensors, header.metadata
