"""Loading of the C++ core, build record, lazy loading of the GPU modules, and the device registry.

`import gputrain` loads `_core` only. When `_core` itself cannot load (a broken build, a missing library
symbol) the failure is recorded here instead of raised: `core_error()` says why, `gputrain._core` is then
a stand-in whose every attribute raises CoreUnavailableError with that reason, and the probe (the doctor,
the device listing), which needs no `_core`, still works. `_cuda` and `_hip` are imported the first time
a CUDA or HIP device is asked for; a module that fails to load (no runtime library, wrong version) is
recorded with its reason, which `backend_reason()` and the device listing report.

The registry: what each backend reports (its devices) and the default device are resolved once, on
first use, and kept; `refresh_devices()` resolves them again. Nothing here raises at import.
"""
from __future__ import annotations

import copy
import importlib
import json
import sys
import threading
import types
import warnings
from pathlib import Path

import numpy as np

from . import cpu_threads, settings

GPU_BACKENDS = ("cuda", "hip")
_MODULES = {"cuda": "gputrain._cuda", "hip": "gputrain._hip"}


class CoreUnavailableError(ImportError):
    """gputrain's C++ core (gputrain._core) failed to load, so nothing that computes can run; the message
    holds the import error. `gputrain doctor` says what to do."""


class _MissingCore(types.ModuleType):
    """Stands in for `gputrain._core` when it failed to load, so that modules importing it still import,
    and the first use of anything in it raises the recorded reason rather than a bare NameError."""

    def __init__(self, reason: str):
        super().__init__("gputrain._core", "gputrain's C++ core, which failed to load")
        self._reason = reason

    def __getattr__(self, name: str):
        if name.startswith("__"):  # introspection (copy, pickle, inspect) must see an ordinary module
            raise AttributeError(name)
        raise CoreUnavailableError(core_unavailable_message(f"gputrain._core.{name}", self._reason))


def core_unavailable_message(what: str, reason: str) -> str:
    return (f"{what} needs gputrain's C++ core (gputrain._core), which failed to load: {reason}. "
            "Run `gputrain doctor` (or gputrain.doctor()) for what to do")


def _load_core():
    try:
        with cpu_threads.openmp_settings():  # libgomp reads its wait policy once, as _core loads it
            return importlib.import_module("gputrain._core"), None
    except Exception as exc:  # ImportError, OSError from the dynamic loader: the doctor reports it
        reason = f"{type(exc).__name__}: {exc}"
        stand_in = _MissingCore(reason)
        sys.modules["gputrain._core"] = stand_in
        setattr(sys.modules[__package__], "_core", stand_in)
        return stand_in, reason


_core, _core_error = _load_core()


def core_error() -> str | None:
    """Why gputrain's C++ core failed to load (the import error's type and text), or None when it loaded."""
    return _core_error


_lock = threading.Lock()
_loaded: dict[str, bool] = {}
_reasons: dict[str, str] = {}
_build_info: dict | None = None
_kernel_checks: dict[str, str | None] = {}  # backend -> None (kernels run) or why they do not
_warned: set[str] = set()

# The registry. Reentrant: resolving the default device asks for backends' statuses under it.
_registry_lock = threading.RLock()
_statuses: dict[str, dict] = {}  # backend -> what backend_status() found
_default: str | None = None  # the default device once resolved


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
    """Loads the backend if needed and reports: loaded, reason, runtime/driver versions and devices.
    Asked of the backend once; later calls answer from the registry until refresh_devices()."""
    with _registry_lock:
        if backend not in _statuses:
            _statuses[backend] = _query_status(backend)
        return copy.deepcopy(_statuses[backend])


def _query_status(backend: str) -> dict:
    if _core_error is not None:
        reason = f"gputrain._core failed to load ({_core_error})"
        return {"loaded": False, "reason": reason, "device_count": 0, "devices": []}
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


def refresh_devices() -> None:
    """Forget what the device registry resolved, so that the next op, tensor or model resolves its
    devices again: each backend's devices (as its driver reports them) and the default device (reading
    GPUTRAIN_DEVICE again). gputrain resolves them once, at first use, and keeps them; call this after
    changing GPUTRAIN_DEVICE in a running process. A GPU runtime reads the driver and *_VISIBLE_DEVICES
    once, when it loads: a GPU that appears later still needs a new process."""
    global _default
    with _registry_lock:
        _statuses.clear()
        _default = None


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
    Resolved once and kept in the registry (refresh_devices() forgets it).
    `runs_kernels(backend)` decides whether a GPU runs our kernels; by default a test kernel is launched
    (kernels_run). The probe passes its own verdict instead, so that listing devices creates no GPU
    context; such a call resolves afresh, and is not kept."""
    global _default
    if runs_kernels is not None:
        return _resolve_default(warn, runs_kernels)
    with _registry_lock:
        if _default is None:
            _default = _resolve_default(warn, kernels_run)
        return _default


def _resolve_default(warn: bool, runs_kernels) -> str:
    requested = settings.get("GPUTRAIN_DEVICE")
    if requested:
        return resolve_device(requested)
    for backend in GPU_BACKENDS:
        if not is_usable(backend):
            continue
        if runs_kernels(backend):
            return f"{backend}:0"
        if warn and backend not in _warned:
            _warned.add(backend)
            warnings.warn(f"{backend}:0 is present but gputrain's kernels do not run on it "
                          f"({kernel_reason(backend)}); using the next device. Run `gputrain doctor` "
                          f"for what to do.", RuntimeWarning, stacklevel=3)
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
