"""gputrain: train neural networks on whatever GPU a notebook hands you.

`import gputrain` loads the C++ core only; GPU backends load on first use, and a backend that cannot
load is reported by `gputrain.backend_reason()` instead of failing the import. When the core itself
cannot load, the import still succeeds with a warning, so that `gputrain.doctor()` can say why: the
probe (`doctor`, `devices`, `device_lib`, `build_info`) works, and everything else raises
CoreUnavailableError naming the import error.
"""
from ._version import __version__
from . import settings
from ._backends import (CoreUnavailableError, backend_reason, build_info, core_error, default_device, is_built,
                        refresh_devices)
from . import device_lib
from .probe.api import detect_platform, devices, doctor, is_gpu_available


def is_built_with_cuda() -> bool:
    """True if this gputrain contains the CUDA backend (whether or not a GPU is present)."""
    return is_built("cuda")


def is_built_with_rocm() -> bool:
    """True if this gputrain contains the HIP (ROCm) backend (whether or not a GPU is present)."""
    return is_built("hip")


__all__ = [
    "__version__", "build_info", "default_device", "backend_reason", "is_built_with_cuda", "is_built_with_rocm",
    "device_lib", "devices", "doctor", "detect_platform", "is_gpu_available", "settings", "refresh_devices",
    "CoreUnavailableError", "core_error",
    # These need the C++ core.
    "ops", "config", "GPUError", "OutOfMemoryError", "DeviceUnavailableError", "Tensor", "tensor", "zeros",
    "empty", "from_dlpack", "synchronize", "memory_stats", "empty_cache", "reset_peak_memory_stats",
    "Sequential", "Model", "Input", "layers", "models", "applications", "losses", "optimizers", "callbacks", "utils", "datasets",
    "regularizers", "initializers", "activations", "backend", "mixed_precision", "preprocessing", "saving",
    "metrics",
]
_CORE_NAMES = frozenset(__all__[__all__.index("ops"):])

if core_error() is None:
    from ._core import DeviceUnavailableError, GPUError, OutOfMemoryError
    from . import config, datasets, ops
    from . import applications, callbacks, layers, losses, models, optimizers, regularizers, utils
    from . import activations, backend, initializers, metrics, mixed_precision, preprocessing, saving
    from .layers import Input
    from .models import Model, Sequential
    from .memory import empty_cache, memory_stats, reset_peak_memory_stats
    from .tensor import Tensor, empty, from_dlpack, synchronize, tensor, zeros
else:
    import warnings as _warnings

    # A notebook's first cell stays importable: the doctor is the way out of this state.
    _warnings.warn(f"gputrain's C++ core (gputrain._core) failed to load: {core_error()}. Only the device "
                   "probe works (gputrain.doctor(), gputrain.devices()); run `gputrain doctor` for what to do",
                   RuntimeWarning, stacklevel=2)

    def __getattr__(name: str):
        if name in _CORE_NAMES:
            from ._backends import core_unavailable_message

            raise CoreUnavailableError(core_unavailable_message(f"gputrain.{name}", core_error()))
        raise AttributeError(f"module 'gputrain' has no attribute {name!r}")
