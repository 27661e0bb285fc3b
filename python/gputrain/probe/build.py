"""What this gputrain build can do, as the probe needs it: whether a GPU backend was built, for which
architectures and with which toolkit, what the backend's own module reports once loaded, and the
device gputrain itself picks. Everything goes through gputrain._backends, the one source of truth."""
from __future__ import annotations

from .. import _backends, _core

NAMES = {"cuda": "CUDA", "hip": "HIP (ROCm)"}
# How a user rebuilds gputrain from source with an option set; pip passes -C options to CMake.
REINSTALL = "pip install --force-reinstall --no-binary gputrain gputrain -Ccmake.define.{option}"


def backend_info(backend: str) -> dict:
    return _backends.build_info().get("backends", {}).get(backend, {})


def is_built(backend: str) -> bool:
    return _backends.is_built(backend)


def module_status(backend: str) -> dict:
    """The backend module's own view (loaded, reason, device_count, error), loading it if needed."""
    return _backends.backend_status(backend)


def default_device() -> tuple[str | None, str | None]:
    """(the device gputrain's ops use when given none, None), or (None, why) when GPUTRAIN_DEVICE names
    a device that is malformed or not there."""
    try:
        return _backends.default_device(warn=False), None  # the report says why a GPU was passed over
    except (ValueError, _core.DeviceUnavailableError) as exc:
        return None, str(exc)


def reinstall_command(option: str) -> str:
    return REINSTALL.format(option=option)
