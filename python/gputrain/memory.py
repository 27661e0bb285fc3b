"""GPU memory policy and statistics. By default gputrain grows its use of GPU memory as needed and keeps
freed blocks cached for reuse, instead of taking the whole GPU at start as TensorFlow does.

The policy can be set per device before the device is first used, or for every GPU from the
environment (read at first use): GPUTRAIN_GPU_ALLOW_GROWTH=false reserves the whole allowance at once;
GPUTRAIN_GPU_MEMORY_FRACTION=0.5 limits gputrain to half of the device's memory.
"""
from __future__ import annotations

from . import _core
from ._backends import resolve_device


def _gpu(device) -> str:
    name = resolve_device(device)
    if name == "cpu":
        raise ValueError("device: 'cpu' has no GPU memory policy; name a GPU such as 'cuda:0'")
    return name


def set_memory_growth(device, enable: bool) -> None:
    """True (the default): reserve memory as tensors need it. False: reserve the whole allowance (the
    memory limit, or 95% of the free memory) at first use. Raises ValueError once the device is in use."""
    _core.set_memory_growth(_gpu(device), bool(enable))


def set_memory_limit(device, limit) -> None:
    """Cap what gputrain reserves on `device`: a number of bytes (int) or a fraction of the device's
    total memory (float in (0, 1]). Raises ValueError once the device is in use."""
    name = _gpu(device)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)):
        raise TypeError(f"limit: expected bytes (int) or a fraction (float), got {type(limit).__name__}")
    if isinstance(limit, float):
        if not 0.0 < limit <= 1.0:
            raise ValueError(f"limit: a fraction must be in (0, 1], got {limit}")
        _, total = _core.device_memory_info(name)
        limit = int(limit * total)
    if limit <= 0:
        raise ValueError(f"limit: must be positive, got {limit}")
    _core.set_memory_limit(name, limit)


def memory_stats(device=None) -> dict:
    """allocated_bytes, reserved_bytes (live plus cached), peaks, num_allocations, num_device_allocations,
    num_oom_retries, num_ooms, limit_bytes and growth for a GPU."""
    return _core.memory_stats(_gpu(device))


def empty_cache(device=None) -> None:
    """Return cached, unused blocks to the device so other processes can use the memory."""
    _core.empty_cache(_gpu(device))


def reset_peak_memory_stats(device=None) -> None:
    _core.reset_peak_memory_stats(_gpu(device))
