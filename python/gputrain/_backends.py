"""Build record, lazy loading of the GPU modules, and the default device.

`import gputrain` loads `_core` only. `_cuda` and `_hip` are imported the first time a CUDA or HIP
device is asked for; a module that fails to load (no runtime library, wrong version) is recorded with
its reason, which `backend_reason()` and the device listing report. Nothing here raises at import.
"""
from __future__ import annotations

import copy
import importlib
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from . import _core

GPU_BACKENDS = ("cuda", "hip")
_MODULES = {"cuda": "gputrain._cuda", "hip": "gputrain._hip"}

_lock = threading.Lock()
_loaded: dict[str, bool] = {}
_reasons: dict[str, str] = {}
_build_info: dict | None = None
_kernel_checks: dict[str, str | None] = {}  # backend -> None (kernels run) or why they do not
_warned: set[str] = set()


def build_info() -> dict:
    """What this gputrain was built with: version, backends built (or why not), toolkits, architectures,
    compilers and flags, as recorded at build time."""
    global _build_info
    if _build_info is None:
        path = Path(__file__).with_name("_build_info.json")
        try:
            _build_info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            _build_info = {"version": None, "backends": {}, "error": f"{path}: {exc}"}
    return copy.deepcopy(_build_info)


def is_built(backend: str) -> bool:
    return bool(build_info().get("backends", {}).get(backend, {}).get("built"))


def load_backend(backend: str) -> bool:
    """Import and register a GPU backend once; False (with a recorded reason) if it cannot load."""
    if backend not in _MODULES:
        raise ValueError(f"backend: {backend!r} is not a GPU backend; expected one of {GPU_BACKENDS}")
    with _lock:
        if backend in _loaded:
            return _loaded[backend]
        ok = False
        if not is_built(backend):
            status = build_info().get("backends", {}).get(backend, {}).get("status", "not recorded")
            _reasons[backend] = f"this gputrain was built without {backend}: {status}"
        else:
            try:
                module = importlib.import_module(_MODULES[backend])
                _core.register_backend(module.backend_table())
                ok = True
            except Exception as exc:  # any failure to load is a recorded reason, never an import error
                _reasons[backend] = f"{_MODULES[backend]} failed to load: {type(exc).__name__}: {exc}"
        _loaded[backend] = ok
        return ok


def backend_status(backend: str) -> dict:
    """Loads the backend if needed and reports: loaded, reason, runtime/driver versions and devices."""
    if backend == "cpu":
        return {"loaded": True, "reason": None, "device_count": 1,
                "devices": [{"index": 0, "name": "cpu"}]}
    if not load_backend(backend):
        return {"loaded": False, "reason": _reasons[backend], "device_count": 0, "devices": []}
    status = _core.backend_status(backend)
    status["loaded"] = True
    if status["device_count"]:
        status["reason"] = None
    elif not status["driver_version"]:
        vendor = "NVIDIA" if backend == "cuda" else "AMD ROCm"
        status["reason"] = f"no {vendor} driver is loaded on this machine ({status['error']})"
    else:
        status["reason"] = f"the {backend} driver sees no device ({status['error']})"
    return status


def backend_reason(backend: str) -> str | None:
    """Why a backend has no usable device, or None when it has one."""
    return backend_status(backend)["reason"]


def is_usable(backend: str) -> bool:
    return backend_status(backend)["device_count"] > 0


def kernels_run(backend: str) -> bool:
    """Whether a kernel launched on the backend's first device runs and computes (once per process): a
    device the driver lists can still lack code in this build (an architecture it was not compiled for,
    with no PTX to JIT). A failure is recorded as the backend's kernel_reason()."""
    with _lock:
        if backend in _kernel_checks:
            return _kernel_checks[backend] is None
    try:
        ones = np.ones(4, np.float32)
        ok = np.array_equal(_core.add(ones, ones, device=f"{backend}:0"), ones + ones)
        reason = None if ok else "a test kernel computed a wrong result"
    except Exception as exc:  # the launch's error is the reason; never raised from here
        reason = f"{type(exc).__name__}: {exc}"
    with _lock:
        _kernel_checks[backend] = reason
    return reason is None


def kernel_reason(backend: str) -> str | None:
    return _kernel_checks.get(backend)


def default_device(warn: bool = True, runs_kernels=None) -> str:
    """GPUTRAIN_DEVICE if set (it must be usable), else the first of cuda, hip whose device runs our
    kernels, else cpu. A GPU that is present but cannot run them is passed over with a warning that
    says why, once per process (warn=False: the caller reports it, as the doctor does).
    `runs_kernels(backend)` decides that; by default a test kernel is launched (kernels_run). The probe
    passes its own verdict instead, so that listing devices creates no GPU context."""
    requested = os.environ.get("GPUTRAIN_DEVICE")
    if requested:
        return resolve_device(requested)
    for backend in GPU_BACKENDS:
        if not is_usable(backend):
            continue
        if (runs_kernels or kernels_run)(backend):
            return f"{backend}:0"
        if warn and backend not in _warned:
            _warned.add(backend)
            warnings.warn(f"{backend}:0 is present but gputrain's kernels do not run on it "
                          f"({kernel_reason(backend)}); using the next device. Run `gputrain doctor` "
                          f"for what to do.", RuntimeWarning, stacklevel=2)
    return "cpu"


def resolve_device(device: str | None) -> str:
    """Canonical name of a usable device; None means the default. Raises ValueError for a malformed
    name and DeviceUnavailableError (with the reason) for a device that is not there."""
    if device is None:
        return default_device()
    if not isinstance(device, str):
        raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type(device).__name__}")
    name = _core.parse_device(device)
    backend = name.split(":")[0]
    if backend == "cpu":
        return name
    status = backend_status(backend)
    index = int(name.split(":")[1])
    if index >= status["device_count"]:
        reason = status["reason"] or f"only {status['device_count']} {backend} device(s) present"
        raise _core.DeviceUnavailableError(f"{name}: {reason}")
    return name
