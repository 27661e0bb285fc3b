"""Every environment variable gputrain reads, in one table: name, type, default, when it is read, what an
invalid value does, and what the variable is for. Python reads them only through `get()`; the C++ core
and the GPU module read theirs themselves (once per process) with the same rules as the table's parser,
so that `problems()`, and the doctor through it, judges their values as they will.

A variable that is set but empty counts as unset. The values of other software's variables that the
probe reports (CUDA_VISIBLE_DEVICES, TF_FORCE_GPU_ALLOW_GROWTH, a platform's markers) and the OpenMP
variables of cpu_threads are not gputrain's to define, so they are not here; nor are the test suite's own
switches (GPUTRAIN_TEST_GPU_EMULATOR, GPUTRAIN_REQUIRE_GPU, ...), which only tests/ reads.

This module imports nothing of gputrain's, so that the probe can use it when `_core` does not load.
"""
from __future__ import annotations

import os
import re
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class SettingValueError(ValueError):
    """An environment variable of gputrain's holds a value its type does not accept."""

    def __init__(self, name: str, value: str, why: str):
        super().__init__(f"{name}={value!r}: {why}")
        self.name, self.value, self.why = name, value, why


@dataclass(frozen=True)
class Type:
    """How the values of one kind of setting are written (for the README) and parsed: `parse` returns
    the value or raises ValueError with the reason."""
    name: str
    expected: str
    parse: Callable[[str], Any]
    any_text: bool = False  # every value is accepted (a path)


def _parse_bool(text: str) -> bool:
    # The C++ core's env_flag (cpp/core/memory.cpp) accepts exactly these, in any case.
    value = text.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_fraction(text: str) -> float:
    # Decimal digits, point, exponent and sign only, as cpp/core/memory.cpp checks before strtod: no
    # spaces, nan, inf, hex or underscores, which Python's float() and C's strtod disagree about.
    try:
        if not re.fullmatch(r"[0-9.eE+-]+", text):
            raise ValueError
        value = float(text)
    except ValueError:
        raise ValueError("expected a number in (0, 1]") from None
    if not 0.0 < value <= 1.0:
        raise ValueError("expected a number in (0, 1]")
    return value


def _parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds above 0") from None
    if not 0.0 < value < float("inf"):
        raise ValueError("expected a number of seconds above 0")
    return value


def _parse_path(text: str) -> str:
    # Kept as written: `~` is expanded where the path is used, with the HOME of that moment.
    return text


def _parse_device(text: str) -> str:
    # The grammar of cpp/core/device.cpp's parse_device, with its messages, so that the probe can judge a
    # name when `_core` does not load. Which devices are present is decided later, by the registry.
    def bad(why: str) -> ValueError:
        return ValueError(f"device: '{text}' is not a device name ({why}); expected 'cpu', 'cuda', 'cuda:N', "
                          "'hip' or 'hip:N'")
    kind, colon, index = text.lower().partition(":")
    if kind not in ("cpu", "cuda", "hip", "rocm"):
        raise bad(f"unknown backend '{kind}'")
    if not colon:
        return text
    if not index or len(index.encode()) > 6:  # C++ counts bytes
        raise bad("index must be a small non-negative integer")
    if not index.isascii() or not index.isdigit():
        raise bad("index must be a non-negative integer")
    if kind == "cpu" and int(index) != 0:
        raise bad("there is one CPU device, cpu:0")
    return text


def _choice(*choices: str) -> Type:
    def parse(text: str) -> str:
        if text not in choices:  # exact, as the GPU module compares it (strcmp)
            raise ValueError(f"expected {' or '.join(choices)} (or unset)")
        return text
    return Type("choice", " or ".join(f"`{c}`" for c in choices), parse)


BOOL = Type("bool", "`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`)", _parse_bool)
FRACTION = Type("fraction", "a number in (0, 1]", _parse_fraction)
SECONDS = Type("seconds", "a number of seconds above 0", _parse_seconds)
PATH = Type("path", "a path", _parse_path, any_text=True)
DEVICE = Type("device", "`cpu`, `cuda`, `cuda:N`, `hip` or `hip:N`", _parse_device)

# What an invalid value does.
RAISES = "raises"    # the code that reads it raises SettingValueError (a ValueError) saying what is expected
IGNORED = "ignored"  # the default is used; Python warns once, and the doctor reports it


@dataclass(frozen=True)
class Setting:
    name: str
    type: Type
    default: Any        # the value when unset (or empty)
    default_text: str   # the default as the README says it
    read: str           # when, and by which part of gputrain, it is read
    invalid: str        # RAISES or IGNORED
    doc: str            # what it does
    kind: str = "user"  # "user", or "test-only": a hook for gputrain's own tests

    def parse(self, text: str) -> Any:
        """The value of `text`, or SettingValueError naming the variable and what it accepts."""
        try:
            return self.type.parse(text)
        except ValueError as exc:
            raise SettingValueError(self.name, text, str(exc)) from None


_TABLE = [
    Setting("GPUTRAIN_DEVICE", DEVICE, None, "the first usable of cuda, hip, cpu",
            "at the first device resolution (an op, tensor or model given no device); again after "
            "`gputrain.refresh_devices()`", RAISES,
            "The default device. A device that is not present raises DeviceUnavailableError."),
    Setting("GPUTRAIN_GPU_MEMORY_FRACTION", FRACTION, None, "no limit",
            "once per process, by the C++ core, at the first GPU allocation", RAISES,
            "Caps the GPU memory gputrain reserves on each GPU at this fraction of the device's memory. "
            "An invalid value makes every GPU allocation raise ValueError."),
    Setting("GPUTRAIN_GPU_ALLOW_GROWTH", BOOL, True, "true",
            "once per process, by the C++ core, at the first GPU allocation", RAISES,
            "false reserves a device's whole allowance at its first use instead of growing as needed. "
            "An invalid value makes every GPU allocation raise ValueError."),
    Setting("GPUTRAIN_GPU_GRAPHS", BOOL, True, "true",
            "each time a training plan is built", RAISES,
            "false launches a GPU training step kernel by kernel instead of as one captured graph."),
    Setting("GPUTRAIN_GEMM_KERNEL", _choice("simple"), None, "the pipelined kernel",
            "once per process, by the GPU module, at the first GEMM launch", IGNORED,
            "`simple` runs the reference GEMM main loop (in builds with GPUTRAIN_GEMM_REFERENCE=ON)."),
    Setting("GPUTRAIN_POOL_KERNEL", _choice("simple"), None, "the fast kernels",
            "once per process, by the GPU module, at the first pooling launch", IGNORED,
            "`simple` runs the reference pooling kernels (64-bit indices, one channel a thread)."),
    Setting("GPUTRAIN_DATA_DIR", PATH, None, "`~/.gputrain/datasets`",
            "each time a dataset is loaded", RAISES,
            "Where datasets are downloaded to and looked for."),
    Setting("GPUTRAIN_CHECKPOINT_DIR", PATH, None, "the platform's persistent folder, else "
            "`~/.gputrain/checkpoints`",
            "each time a default checkpoint path is chosen", RAISES,
            "Where checkpoints go when no file is named."),
    Setting("GPUTRAIN_PROBE_TIMEOUT", SECONDS, 30.0, "30",
            "at each probe of the drivers (`gputrain.devices()`, the doctor)", IGNORED,
            "Bounds each driver layer of the device probe; a driver that hangs longer is reported."),
    Setting("GPUTRAIN_PROBE_ROOT", PATH, None, "`/`",
            "at each file the probe reads", RAISES,
            "The probe reads /sys, /proc, /dev, /etc and marker files under this folder.", "test-only"),
    Setting("GPUTRAIN_PROBE_LIBCUDA", PATH, None, "`libcuda.so.1`",
            "at each probe of the drivers", RAISES, "The file the probe loads as the CUDA driver.", "test-only"),
    Setting("GPUTRAIN_PROBE_LIBNVML", PATH, None, "`libnvidia-ml.so.1`",
            "at each probe of the drivers", RAISES, "The file the probe loads as NVML.", "test-only"),
    Setting("GPUTRAIN_PROBE_LIBHIP", PATH, None, "`libamdhip64.so`",
            "at each probe of the drivers", RAISES, "The file the probe loads as the HIP runtime.", "test-only"),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _TABLE}

_lock = threading.Lock()
_parsed: dict[tuple[str, str], Any] = {}  # (name, text) -> value or SettingValueError: each text parsed once
_warned: set[tuple[str, str]] = set()


def _setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not a gputrain setting; the settings are: {', '.join(SETTINGS)}") from None


def _parse(setting: Setting, text: str) -> Any:
    key = (setting.name, text)
    with _lock:
        if key not in _parsed:
            try:
                _parsed[key] = setting.parse(text)
            except SettingValueError as exc:
                _parsed[key] = exc
        return _parsed[key]


def raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's text, None when unset or empty."""
    _setting(name)
    return (os.environ if environ is None else environ).get(name) or None


def get(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The value of the setting `name` (the table's default when unset or empty). An invalid value raises
    SettingValueError, or for a setting whose invalid values are ignored, gives the default and warns once."""
    setting = _setting(name)
    text = raw(name, environ)
    if text is None:
        return setting.default
    value = _parse(setting, text)
    if not isinstance(value, SettingValueError):
        return value
    if setting.invalid == RAISES:
        raise value
    with _lock:
        first = (name, text) not in _warned
        _warned.add((name, text))
    if first:
        warnings.warn(f"{value}; using the default ({setting.default_text.strip('`')})", RuntimeWarning,
                      stacklevel=2)
    return setting.default


def problems(environ: Mapping[str, str] | None = None) -> list[SettingValueError]:
    """Every setting whose value is invalid, in the table's order."""
    found = []
    for setting in _TABLE:
        text = raw(setting.name, environ)
        value = None if text is None else _parse(setting, text)
        if isinstance(value, SettingValueError):
            found.append(value)
    return found


def markdown_table() -> str:
    """The README's table of the settings, generated from this one."""
    rows = ["| Variable | Values | Default | Read | If invalid | What it does |",
            "|---|---|---|---|---|---|"]
    for s in _TABLE:
        doc = s.doc + (" Test hook: users have no reason to set it." if s.kind == "test-only" else "")
        invalid = ("cannot be" if s.type.any_text else
                   "error when read" if s.invalid == RAISES else "default used, doctor reports it")
        cells = [f"`{s.name}`", s.type.expected, s.default_text, s.read, invalid, doc]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
