"""gputrain.Tensor and its factories: NumPy-like arrays on a device, with zero-copy DLPack interop.

`gt.tensor(x)` copies `x` onto the device; `gt.from_dlpack(x)` shares memory with x (a PyTorch, CuPy,
JAX or NumPy array) without a copy. Float64 input becomes float32 unless a dtype is given, as in Keras.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._backends import resolve_device

# Defined once, with all its methods, in cpp/bindings/py_tensor.cpp.
Tensor = _core.Tensor

DTYPES = ("float32", "float16", "bfloat16", "int32", "int64", "uint8")


def _dtype_name(dtype) -> str:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = getattr(dtype, "__name__", None) or str(np.dtype(dtype))
        except TypeError:
            raise TypeError(f"dtype: expected one of {', '.join(DTYPES)} (a name or a NumPy dtype), "
                            f"got {type(dtype).__name__}") from None
    if name not in DTYPES:
        raise ValueError(f"dtype: {name!r} is not supported; expected one of {', '.join(DTYPES)}")
    return name


def _to_bfloat16(array: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 with round-to-nearest-even, as uint16 bits viewed as ml_dtypes' bfloat16."""
    try:
        import ml_dtypes
    except ImportError as exc:
        raise TypeError("bfloat16 tensors need the ml_dtypes package: pip install ml_dtypes") from exc
    return np.asarray(array, dtype=np.float32).astype(ml_dtypes.bfloat16, order="C")


def _host_array(data, dtype: str | None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.numpy()
    array = np.asarray(data)
    if array.dtype.byteorder == ">":  # big-endian data (from a file, say): same values, native order
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError("data: uint64 values above 2**63 - 1 do not fit int64, the widest integer type here")
    if dtype is None:
        if array.dtype == np.float64 or array.dtype.kind == "b":
            dtype = "float32"
        elif array.dtype.kind in "iu" and array.dtype not in (np.int32, np.int64, np.uint8):
            dtype = "int64"
        elif str(array.dtype) in DTYPES:
            dtype = str(array.dtype)
        else:
            raise TypeError(f"data: elements of dtype {array.dtype} are not supported; "
                            f"expected numbers convertible to one of {', '.join(DTYPES)}")
    if dtype == "bfloat16":
        return _to_bfloat16(array)
    return np.asarray(array, dtype=dtype, order="C")


def tensor(data, dtype=None, device: str | None = None) -> Tensor:
    """A new tensor on `device` (default: the default device) holding a copy of `data`."""
    return _core.tensor_from_numpy(_host_array(data, _dtype_name(dtype)), resolve_device(device))


def zeros(shape, dtype="float32", device: str | None = None) -> Tensor:
    return _core.zeros(shape, _dtype_name(dtype), resolve_device(device))


def empty(shape, dtype="float32", device: str | None = None) -> Tensor:
    """Uninitialised memory: fill it before reading."""
    return _core.empty(shape, _dtype_name(dtype), resolve_device(device))


_DLPACK_CUDA, _DLPACK_ROCM = 2, 10
# The stream our kernels are ordered on, in DLPack's numbering: CUDA's legacy default stream is 1,
# ROCm's default stream 0. A GPU producer makes its pending work on its own streams visible to it.
_CONSUMER_STREAM = {_DLPACK_CUDA: 1, _DLPACK_ROCM: 0}


def from_dlpack(x) -> Tensor:
    """A tensor sharing memory with `x`: any object with __dlpack__ (PyTorch, CuPy, JAX, NumPy) or an
    unconsumed DLPack capsule. The producer's memory stays alive as long as the tensor does. A read-only
    producer (a NumPy array with writeable=False) gives a tensor with read_only=True, which ops do not
    update in place."""
    if hasattr(x, "__dlpack__"):
        device_type, index = x.__dlpack_device__()
        # The backend of a GPU producer must be loaded for our ops to run on its memory.
        if device_type == _DLPACK_CUDA:
            resolve_device(f"cuda:{index}")
        elif device_type == _DLPACK_ROCM:
            resolve_device(f"hip:{index}")
        kwargs = {"stream": _CONSUMER_STREAM[device_type]} if device_type in _CONSUMER_STREAM else {}
        try:
            capsule = x.__dlpack__(max_version=(1, 0), **kwargs)
        except TypeError:  # a producer from before DLPack 1.0 takes no max_version
            capsule = x.__dlpack__(**kwargs)
    elif type(x).__name__ == "PyCapsule":
        capsule = x
    else:
        raise TypeError(f"from_dlpack: x must support DLPack (have __dlpack__) or be a DLPack capsule, "
                        f"got {type(x).__name__}")
    return _core.from_dlpack_capsule(capsule)


def synchronize(device: str | None = None) -> None:
    """Wait until `device` (default: the default device) has finished all work gputrain gave it,
    asynchronous copies included."""
    _core.synchronize(resolve_device(device))
