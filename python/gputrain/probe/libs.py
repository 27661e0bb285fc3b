"""Loads the vendor driver libraries with ctypes and runs each driver layer in a worker thread with
a time limit, so a missing, broken or hanging driver is recorded, never fatal. Test hooks:
GPUTRAIN_PROBE_LIBCUDA/LIBNVML/LIBHIP name the file to load; GPUTRAIN_PROBE_TIMEOUT bounds a layer."""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from typing import ClassVar

from .. import settings

# The names the dynamic loader resolves first, then the usual places that are not always on its path
# (ROCm under /opt/rocm, WSL2's driver under /usr/lib/wsl/lib).
_CANDIDATES = {
    "cuda": ("GPUTRAIN_PROBE_LIBCUDA", ("libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1")),
    "nvml": ("GPUTRAIN_PROBE_LIBNVML", ("libnvidia-ml.so.1", "/usr/lib/wsl/lib/libnvidia-ml.so.1")),
    "hip": ("GPUTRAIN_PROBE_LIBHIP", ("libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5",
                                      "/opt/rocm/lib/libamdhip64.so")),
}

DEFAULT_TIMEOUT = 30.0  # seconds; cuInit on a multi-GPU machine without persistence mode takes several

_lock = threading.Lock()
_hung: dict[str, str] = {}  # layer name -> what did not return; never called again in this process


def candidates(kind: str) -> tuple[str, ...]:
    hook, names = _CANDIDATES[kind]
    override = settings.get(hook)
    return (override,) if override else names


def load(kind: str) -> tuple[ctypes.CDLL | None, str, str | None]:
    """(library, name loaded or tried, error). The error is the loader's own message."""
    errors = []
    for name in candidates(kind):
        try:
            return ctypes.CDLL(name, mode=os.RTLD_LOCAL | os.RTLD_NOW), name, None
        except OSError as exc:
            errors.append(str(exc))
    return None, candidates(kind)[0], "; ".join(errors)


def timeout() -> float:
    return settings.get("GPUTRAIN_PROBE_TIMEOUT")  # an invalid value gives the default (the doctor says so)


class Progress:
    """The call a layer is in, so that a time-out can say which call did not return."""

    def __init__(self) -> None:
        self.step = "start"


class LayerTimeout(Exception):
    pass


def run_bounded(layer: str, fn, *args):
    """fn(progress, *args) in a daemon thread. Raises LayerTimeout when it does not finish in time;
    the thread is left behind (a C call cannot be interrupted) and the layer is not entered again."""
    with _lock:
        if layer in _hung:
            raise LayerTimeout(_hung[layer])
    progress = Progress()
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = fn(progress, *args)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"gputrain-probe-{layer}", daemon=True)
    thread.start()
    limit = timeout()
    thread.join(limit)
    if thread.is_alive():
        message = f"{progress.step} did not return within {limit:g} s"
        with _lock:
            _hung[layer] = message + " (earlier in this process)"
        raise LayerTimeout(message)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@dataclass
class LayerReport:
    """What one driver layer said: whether its library loaded, its init call's result, a time-out,
    and why it gave no devices. Subclasses add what the layer reads."""
    library: str
    load_error: str | None = None
    missing_symbol: str | None = None
    init_code: int | None = None  # the init call's return code; None when it was never made
    init_error: str | None = None
    timed_out: str | None = None
    count_error: str | None = None

    INIT_CALL: ClassVar[str] = ""
    NAME: ClassVar[str] = ""  # the layer, as a finding names it
    WHAT: ClassVar[str] = ""  # what the library should have been

    @property
    def loaded(self) -> bool:
        return self.load_error is None

    @property
    def initialized(self) -> bool:
        return self.init_code == 0 and self.timed_out is None and self.missing_symbol is None

    @property
    def problem(self) -> str | None:
        """One line saying why the layer gave no devices, or None."""
        if self.load_error:
            return f"{self.library} could not be loaded ({self.load_error})"
        if self.missing_symbol:
            return f"{self.library} has no {self.missing_symbol}: it is not {self.WHAT}"
        if self.timed_out:
            return f"{self.NAME} hung: {self.timed_out}"
        if self.init_error:
            return f"{self.INIT_CALL} failed: {self.init_error}"
        return self.count_error


def required(lib, report: LayerReport, name: str):
    """A symbol the layer cannot do without; records it as missing (and raises AttributeError, which
    probe_layer absorbs) when the library lacks it."""
    fn = getattr(lib, name, None)
    if fn is None:
        report.missing_symbol = name
        raise AttributeError(name)
    return fn


def probe_layer(kind: str, report_type, query) -> LayerReport:
    """Load the layer's library and run query(progress, lib, report) under the time limit."""
    lib, name, error = load(kind)
    report = report_type(library=name, load_error=error)
    if lib is None:
        return report
    try:
        run_bounded(f"{kind}:{name}", query, lib, report)
    except LayerTimeout as exc:
        report.timed_out = str(exc)
    except AttributeError:
        pass  # a required symbol is missing; report.missing_symbol says which
    return report
