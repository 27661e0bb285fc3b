"""NVIDIA devices through the CUDA driver API (libcuda.so.1), loaded with ctypes. Only calls that
create no context are made: cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
cuDeviceGetAttribute, cuDeviceTotalMem_v2, cuDeviceGetPCIBusId, cuDeviceGetUuid(_v2)."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from . import libs, pci

# CUresult values the probe reacts to (cuda.h); other codes are named by cuGetErrorName.
CUDA_SUCCESS = 0
CUDA_ERROR_NOT_INITIALIZED = 3
CUDA_ERROR_STUB_LIBRARY = 34
CUDA_ERROR_NO_DEVICE = 100
CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803
CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804
_ERROR_NAMES = {
    0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
    3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED", 34: "CUDA_ERROR_STUB_LIBRARY",
    46: "CUDA_ERROR_DEVICE_UNAVAILABLE", 100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE",
    102: "CUDA_ERROR_DEVICE_NOT_LICENSED", 304: "CUDA_ERROR_OPERATING_SYSTEM",
    803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", 804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
    999: "CUDA_ERROR_UNKNOWN",
}
# CUdevice_attribute values (cuda.h).
_ATTR_CLOCK_RATE_KHZ = 13
_ATTR_MULTIPROCESSORS = 16
_ATTR_CC_MAJOR = 75
_ATTR_CC_MINOR = 76


@dataclass
class CudaDevice:
    index: int
    name: str | None = None
    compute_capability: tuple[int, int] | None = None
    multiprocessors: int | None = None
    clock_mhz: int | None = None
    memory_total: int | None = None
    pci_bus_id: str | None = None
    uuid: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class CudaDriver(libs.LayerReport):
    """What the driver API said; `init_code` is cuInit's CUresult."""
    driver_version: int | None = None  # cuDriverGetVersion: 12020 means CUDA 12.2
    devices: list[CudaDevice] = field(default_factory=list)

    INIT_CALL = "cuInit"
    NAME = "the CUDA driver"
    WHAT = "a CUDA driver library"

    @property
    def cuda_version(self) -> tuple[int, int] | None:
        if not self.driver_version:
            return None
        return self.driver_version // 1000, (self.driver_version % 1000) // 10


def format_uuid(raw: bytes) -> str:
    """16 bytes → 'GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', the form nvidia-smi and NVML print."""
    h = raw.hex()
    return f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _error_name(lib, code: int) -> str:
    name = _ERROR_NAMES.get(code)
    if name is None:
        try:
            text = ctypes.c_char_p()
            if lib.cuGetErrorName(code, ctypes.byref(text)) == CUDA_SUCCESS and text.value:
                name = text.value.decode(errors="replace")
        except AttributeError:
            pass
    return f"{name or 'CUresult'} ({code})"


def _query(progress: libs.Progress, lib, report: CudaDriver) -> None:
    progress.step = "cuInit"
    code = libs.required(lib, report, "cuInit")(0)
    report.init_code = code
    progress.step = "cuDriverGetVersion"
    version = ctypes.c_int(0)
    code_version = libs.required(lib, report, "cuDriverGetVersion")(ctypes.byref(version))
    if code_version == CUDA_SUCCESS and version.value > 0:
        report.driver_version = version.value  # available even when cuInit fails
    if code != CUDA_SUCCESS:
        report.init_error = _error_name(lib, code)
        return
    progress.step = "cuDeviceGetCount"
    count = ctypes.c_int(0)
    code = libs.required(lib, report, "cuDeviceGetCount")(ctypes.byref(count))
    if code != CUDA_SUCCESS:
        report.count_error = f"cuDeviceGetCount failed: {_error_name(lib, code)}"
        return
    for index in range(max(count.value, 0)):
        report.devices.append(_device(progress, lib, report, index))


def _device(progress: libs.Progress, lib, report: CudaDriver, index: int) -> CudaDevice:
    dev = CudaDevice(index=index)
    handle = ctypes.c_int(0)

    def call(name, *args) -> bool:
        progress.step = f"{name} (device {index})"
        fn = getattr(lib, name, None)
        if fn is None:
            dev.errors.append(f"{name} is missing from {report.library}")
            return False
        code = fn(*args)
        if code != CUDA_SUCCESS:
            dev.errors.append(f"{name}: {_error_name(lib, code)}")
        return code == CUDA_SUCCESS

    if not call("cuDeviceGet", ctypes.byref(handle), index):
        return dev
    buf = ctypes.create_string_buffer(256)
    if call("cuDeviceGetName", buf, len(buf), handle):
        dev.name = buf.value.decode(errors="replace")

    def attribute(attr: int) -> int | None:
        value = ctypes.c_int(0)
        return value.value if call("cuDeviceGetAttribute", ctypes.byref(value), attr, handle) else None

    major, minor = attribute(_ATTR_CC_MAJOR), attribute(_ATTR_CC_MINOR)
    if major is not None and minor is not None:
        dev.compute_capability = (major, minor)
    dev.multiprocessors = attribute(_ATTR_MULTIPROCESSORS)
    clock = attribute(_ATTR_CLOCK_RATE_KHZ)
    dev.clock_mhz = clock // 1000 if clock else None
    total = ctypes.c_size_t(0)
    if call("cuDeviceTotalMem_v2", ctypes.byref(total), handle):
        dev.memory_total = total.value
    bus = ctypes.create_string_buffer(32)
    if call("cuDeviceGetPCIBusId", bus, len(bus), handle):
        dev.pci_bus_id = pci.normalize_bus_id(bus.value.decode(errors="replace"))
    uuid = ctypes.create_string_buffer(16)
    name = "cuDeviceGetUuid_v2" if hasattr(lib, "cuDeviceGetUuid_v2") else "cuDeviceGetUuid"
    if call(name, uuid, handle):
        dev.uuid = format_uuid(uuid.raw)
    return dev


def probe() -> CudaDriver:
    return libs.probe_layer("cuda", CudaDriver, _query)
