"""What this gputrain build can do, as the probe needs it: whether a GPU backend was built, for which
architectures and with which toolkit, what the backend's own module reports once loaded, and the
device gputrain itself picks. Everything goes through gputrain._backends, the one source of truth."""
from __future__ import annotations

import json
from importlib import metadata
from urllib.parse import unquote, urlparse

from .. import _backends, settings

NAMES = {"cuda": "CUDA", "hip": "HIP (ROCm)"}


def backend_info(backend: str) -> dict:
    return _backends.build_info().get("backends", {}).get(backend, {})


def is_built(backend: str) -> bool:
    return _backends.is_built(backend)


def module_status(backend: str) -> dict:
    """The backend module's own view (loaded, reason, device_count, error), loading it if needed."""
    return _backends.backend_status(backend)


def core_error() -> str | None:
    """Why gputrain's C++ core failed to load, or None when it loaded."""
    return _backends.core_error()


def default_device(probe_usable) -> tuple[str | None, str | None]:
    """(the device gputrain's ops use when given none, None), or (None, why) when GPUTRAIN_DEVICE names
    a device that is malformed or not there; (None, None) when the core did not load, so that no device
    runs anything. A GPU counts when `probe_usable(backend)`, the probe's verdict on its first device
    (which includes a kernel that failed there in this process): no kernel is launched to decide."""
    if core_error() is not None:
        return None, None
    try:  # warn=False: the report says why a GPU was passed over
        return _backends.default_device(warn=False, runs_kernels=probe_usable), None
    except settings.SettingValueError as exc:
        return None, exc.why
    except (ValueError, _backends._core.DeviceUnavailableError) as exc:
        return None, str(exc)


def kernel_failure(backend: str) -> str | None:
    """Why a kernel launched on the backend's first device in this process failed, if one did."""
    return _backends.kernel_reason(backend)


def launch_test_kernel(backend: str) -> bool:
    """Runs a small kernel on the backend's first device (once per process; this creates a GPU context
    in this process). False when it failed: kernel_failure() says why."""
    return _backends.kernels_run(backend)


def install_source() -> str | None:
    """Where pip installed this gputrain from, as pip takes it again: a git URL (with the commit), a
    local folder, or an archive URL; None when pip did not record it (a development build)."""
    try:
        recorded = metadata.distribution("gputrain").read_text("direct_url.json")
        info = json.loads(recorded) if recorded else None
    except (metadata.PackageNotFoundError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        return None
    url = info["url"]
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        revision = vcs.get("requested_revision") or vcs.get("commit_id")
        return f"{vcs.get('vcs', 'git')}+{url}" + (f"@{revision}" if revision else "")
    if url.startswith("file://") and "dir_info" in info:
        return unquote(urlparse(url).path)
    return url


def reinstall_command(option: str | None = None) -> str:
    """The pip command that builds gputrain again from the source it came from (pip passes -C options
    to CMake); --no-cache-dir so that pip does not reuse the wheel it built last time."""
    source = install_source()
    command = f"pip install --force-reinstall --no-cache-dir \"{source or '.'}\""
    if option:
        command += f" -Ccmake.define.{option}"
    return command if source else f"{command} (from your gputrain checkout)"
