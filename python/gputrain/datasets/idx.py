"""Readers for the IDX format of MNIST-style files (gzip-compressed or not): a big-endian header of
magic, then one count per dimension, then the values. Corrupt or truncated files raise ValueError
naming the file."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# The third byte of the magic gives the element type; MNIST-style files use unsigned bytes (0x08).
_IDX_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read IDX file: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    if data[2] != _IDX_UBYTE:
        raise ValueError(f"{path}: IDX element type 0x{data[2]:02x} is not supported (unsigned bytes only)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds "
                         f"{len(data) - header} bytes of data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()
