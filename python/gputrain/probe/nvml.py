"""NVIDIA devices through NVML (libnvidia-ml.so.1): driver version, free memory, utilization,
temperature, power and the processes holding memory, all without a CUDA context. NVML also sees the
devices that CUDA_VISIBLE_DEVICES hides from CUDA."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from . import libs, pci

NVML_SUCCESS = 0
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
_ERROR_NAMES = {
    1: "NVML_ERROR_UNINITIALIZED", 2: "NVML_ERROR_INVALID_ARGUMENT", 3: "NVML_ERROR_NOT_SUPPORTED",
    4: "NVML_ERROR_NO_PERMISSION", 6: "NVML_ERROR_NOT_FOUND", 7: "NVML_ERROR_INSUFFICIENT_SIZE",
    9: "NVML_ERROR_DRIVER_NOT_LOADED", 12: "NVML_ERROR_LIBRARY_NOT_FOUND",
    13: "NVML_ERROR_FUNCTION_NOT_FOUND", 15: "NVML_ERROR_GPU_IS_LOST", 17: "NVML_ERROR_OPERATING_SYSTEM",
    18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH", 999: "NVML_ERROR_UNKNOWN",
}
_NOT_AVAILABLE = 0xFFFFFFFFFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE in usedGpuMemory
_TEMPERATURE_GPU = 0
_CLOCK_SM = 1


class _Memory(ctypes.Structure):  # nvmlMemory_t
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


class _Utilization(ctypes.Structure):  # nvmlUtilization_t
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class _PciInfo(ctypes.Structure):  # nvmlPciInfo_t, as nvmlDeviceGetPciInfo_v3 fills it
    _fields_ = [("busIdLegacy", ctypes.c_char * 16), ("domain", ctypes.c_uint), ("bus", ctypes.c_uint),
                ("device", ctypes.c_uint), ("pciDeviceId", ctypes.c_uint),
                ("pciSubSystemId", ctypes.c_uint), ("busId", ctypes.c_char * 32)]


class _ProcessInfo(ctypes.Structure):  # nvmlProcessInfo_t of the _v3 process queries
    _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]


@dataclass
class NvmlDevice:
    index: int
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    memory_total: int | None = None
    memory_free: int | None = None
    memory_used: int | None = None
    utilization: int | None = None  # percent of time a kernel ran over the last sample period
    temperature: int | None = None  # °C
    power_w: float | None = None
    power_limit_w: float | None = None
    max_clock_mhz: int | None = None
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes or None)
    errors: list[str] = field(default_factory=list)


@dataclass
class Nvml(libs.LayerReport):
    driver_version: str | None = None  # '535.104.05'
    cuda_driver_version: int | None = None  # 12020
    devices: list[NvmlDevice] = field(default_factory=list)

    INIT_CALL = "nvmlInit_v2"
    NAME = "NVML"
    WHAT = "NVML"

    def by_uuid(self, uuid: str | None) -> NvmlDevice | None:
        return next((d for d in self.devices if uuid and d.uuid == uuid), None)

    def by_bus_id(self, bus_id: str | None) -> NvmlDevice | None:
        return next((d for d in self.devices if bus_id and d.pci_bus_id == bus_id), None)


def _error_name(lib, code: int) -> str:
    name = _ERROR_NAMES.get(code)
    if name is None:
        fn = getattr(lib, "nvmlErrorString", None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            text = fn(code)
            name = text.decode(errors="replace") if text else None
    return f"{name or 'nvmlReturn'} ({code})"


def _query(progress: libs.Progress, lib, report: Nvml) -> None:
    progress.step = "nvmlInit_v2"
    code = libs.required(lib, report, "nvmlInit_v2")()
    report.init_code = code
    if code != NVML_SUCCESS:
        report.init_error = _error_name(lib, code)
        return
    try:
        _query_initialized(progress, lib, report)
    finally:
        shutdown = getattr(lib, "nvmlShutdown", None)
        if shutdown is not None:
            progress.step = "nvmlShutdown"
            shutdown()  # NVML counts init/shutdown pairs; leave it as we found it


def _query_initialized(progress: libs.Progress, lib, report: Nvml) -> None:
    buf = ctypes.create_string_buffer(96)
    progress.step = "nvmlSystemGetDriverVersion"
    fn = getattr(lib, "nvmlSystemGetDriverVersion", None)
    if fn is not None and fn(buf, len(buf)) == NVML_SUCCESS:
        report.driver_version = buf.value.decode(errors="replace")
    version = ctypes.c_int(0)
    progress.step = "nvmlSystemGetCudaDriverVersion_v2"
    fn = getattr(lib, "nvmlSystemGetCudaDriverVersion_v2", None)
    if fn is not None and fn(ctypes.byref(version)) == NVML_SUCCESS and version.value > 0:
        report.cuda_driver_version = version.value
    count = ctypes.c_uint(0)
    progress.step = "nvmlDeviceGetCount_v2"
    code = libs.required(lib, report, "nvmlDeviceGetCount_v2")(ctypes.byref(count))
    if code != NVML_SUCCESS:
        report.count_error = f"nvmlDeviceGetCount_v2 failed: {_error_name(lib, code)}"
        return
    for index in range(count.value):
        report.devices.append(_device(progress, lib, index))


def _device(progress: libs.Progress, lib, index: int) -> NvmlDevice:
    dev = NvmlDevice(index=index)
    handle = ctypes.c_void_p()

    def call(name, *args, quiet=(3,)) -> bool:
        # NOT_SUPPORTED (3) is normal for power or temperature on some boards: not worth reporting.
        progress.step = f"{name} (device {index})"
        fn = getattr(lib, name, None)
        if fn is None:
            dev.errors.append(f"{name} is missing")
            return False
        code = fn(*args)
        if code != NVML_SUCCESS and code not in quiet:
            dev.errors.append(f"{name}: {_error_name(lib, code)}")
        return code == NVML_SUCCESS

    if not call("nvmlDeviceGetHandleByIndex_v2", index, ctypes.byref(handle), quiet=()):
        return dev
    buf = ctypes.create_string_buffer(96)
    if call("nvmlDeviceGetName", handle, buf, len(buf)):
        dev.name = buf.value.decode(errors="replace")
    if call("nvmlDeviceGetUUID", handle, buf, len(buf)):
        dev.uuid = buf.value.decode(errors="replace")
    info = _PciInfo()
    if call("nvmlDeviceGetPciInfo_v3", handle, ctypes.byref(info)):
        dev.pci_bus_id = pci.normalize_bus_id(info.busId.decode(errors="replace"))
    memory = _Memory()
    if call("nvmlDeviceGetMemoryInfo", handle, ctypes.byref(memory)):
        dev.memory_total, dev.memory_free, dev.memory_used = memory.total, memory.free, memory.used
    util = _Utilization()
    if call("nvmlDeviceGetUtilizationRates", handle, ctypes.byref(util)):
        dev.utilization = util.gpu
    value = ctypes.c_uint(0)
    if call("nvmlDeviceGetTemperature", handle, _TEMPERATURE_GPU, ctypes.byref(value)):
        dev.temperature = value.value
    if call("nvmlDeviceGetPowerUsage", handle, ctypes.byref(value)):
        dev.power_w = value.value / 1000.0  # milliwatts
    if call("nvmlDeviceGetEnforcedPowerLimit", handle, ctypes.byref(value)):
        dev.power_limit_w = value.value / 1000.0
    if call("nvmlDeviceGetMaxClockInfo", handle, _CLOCK_SM, ctypes.byref(value)):
        dev.max_clock_mhz = value.value
    seen: dict[int, int | None] = {}
    for query in ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v3"):
        progress.step = f"{query} (device {index})"
        for pid, used in _processes(lib, query, handle, dev.errors):
            if seen.get(pid) is None:  # a process in both lists: keep the entry that has a size
                seen[pid] = used
    dev.processes = sorted(seen.items())
    return dev


def _processes(lib, query: str, handle, errors: list[str]) -> list[tuple[int, int | None]]:
    fn = getattr(lib, query, None)
    if fn is None:
        return []  # an older driver; the process list is optional
    capacity = 64
    for _ in range(3):  # the list can grow between two calls; give up after three tries
        infos = (_ProcessInfo * capacity)()
        count = ctypes.c_uint(capacity)
        code = fn(handle, ctypes.byref(count), infos)
        if code == NVML_ERROR_INSUFFICIENT_SIZE:
            capacity = max(count.value, capacity * 2)
            continue
        if code != NVML_SUCCESS:
            if code != 3:
                errors.append(f"{query}: {_error_name(lib, code)}")
            return []
        return [(p.pid, None if p.usedGpuMemory == _NOT_AVAILABLE else p.usedGpuMemory)
                for p in infos[: count.value]]
    errors.append(f"{query}: the process list kept growing")
    return []


def probe() -> Nvml:
    return libs.probe_layer("nvml", Nvml, _query)
