"""Reading and writing the safetensors format (an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw bytes), so checkpoints open in any tool
that reads it and nothing is ever unpickled. Writes are atomic: a temporary file in the same folder,
flushed to disk, then renamed over the target, so a killed process leaves the previous file intact."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I32": np.int32, "I64": np.int64,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 << 20  # a header larger than this is a corrupt file, not a model


def save_file(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    path = Path(path)
    header: dict = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata: keys and values must be strings")
        header["__metadata__"] = metadata
    arrays = []
    offset = 0
    for name, value in tensors.items():
        array = np.asarray(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if array.dtype not in _CODES:
            raise TypeError(f"{name}: dtype {array.dtype} cannot be stored")
        header[name] = {"dtype": _CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # keeps the data 8-byte aligned, as the format recommends
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(len(encoded).to_bytes(8, "little"))
            f.write(encoded)
            for array in arrays:
                f.write(array.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


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


def _parse_header(path: Path, head: bytes, file_size: int) -> tuple[int, dict]:
    """(header length, header) from the file's first bytes; ValueError naming the file if corrupt."""
    if file_size < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    size = int.from_bytes(head[:8], "little")
    if size > _MAX_HEADER or 8 + size > file_size:
        raise ValueError(f"{path}: corrupt or truncated safetensors header")
    try:
        return size, json.loads(head[8:8 + size])
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt safetensors header: {exc}") from exc


def load_metadata(path) -> dict[str, str]:
    """The metadata alone, reading only the header: deciding which checkpoint to load (resume looks
    through a folder of them) need not read every file's tensors."""
    path = Path(path)
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        length = f.read(8)
        size = int.from_bytes(length, "little") if len(length) == 8 else 0
        head = length + f.read(min(size, _MAX_HEADER))
    _, header = _parse_header(path, head, file_size)
    return header.get("__metadata__", {}) or {}


def load_file(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata). ValueError naming the file for a torn or corrupt one."""
    path = Path(path)
    data = path.read_bytes()
    size, header = _parse_header(path, data, len(data))
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            start, end = info["data_offsets"]
            shape = tuple(info["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: bad entry for {name!r}") from exc
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= start <= end <= len(body) or end - start != count * dtype.itemsize:
            raise ValueError(f"{path}: {name!r} lies outside the file (torn write?)")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape).copy()
    return tensors, metadata
