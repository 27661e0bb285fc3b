"""gputrain: train neural networks on whatever GPU a notebook hands you.

`import gputrain` loads the C++ core only; GPU backends load on first use, and a backend that cannot
load is reported by `gputrain.backend_reason()` instead of failing the import.
"""
from ._version import __version__
from . import cpu_threads

with cpu_threads.openmp_settings():  # libgomp reads its wait policy once, as _core loads it
    from ._core import DeviceUnavailableError, GPUError, OutOfMemoryError
from ._backends import backend_reason, build_info, default_device, is_built
from . import config, datasets, device_lib, ops
from . import callbacks, layers, losses, models, optimizers, utils
from .models import Sequential
from .memory import empty_cache, memory_stats, reset_peak_memory_stats
from .probe.api import detect_platform, devices, doctor, is_gpu_available
from .tensor import Tensor, empty, from_dlpack, synchronize, tensor, zeros


def is_built_with_cuda() -> bool:
    """True if this gputrain contains the CUDA backend (whether or not a GPU is present)."""
    return is_built("cuda")


def is_built_with_rocm() -> bool:
    """True if this gputrain contains the HIP (ROCm) backend (whether or not a GPU is present)."""
    return is_built("hip")


__all__ = [
    "__version__", "build_info", "default_device", "backend_reason", "is_built_with_cuda",
    "is_built_with_rocm", "ops", "config", "GPUError", "OutOfMemoryError", "DeviceUnavailableError",
    "Tensor", "tensor", "zeros", "empty", "from_dlpack", "synchronize", "memory_stats", "empty_cache",
    "reset_peak_memory_stats", "Sequential", "layers", "models", "losses", "optimizers", "callbacks",
    "utils", "datasets", "device_lib", "devices", "doctor", "detect_platform", "is_gpu_available",
]
