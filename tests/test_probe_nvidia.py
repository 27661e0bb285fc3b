"""The CUDA driver-API and NVML layers of the probe, against the fake libcuda and libnvidia-ml built
from tests/fakes: parsed values, every scripted error, missing and broken libraries, a hanging
driver, and that no call creating a context is ever made."""
import subprocess
import sys
import textwrap

import pytest

from fakes import t4
from fakes.fixtures import fake_libs, scenario  # noqa: F401  (pytest fixtures)
from gputrain.probe import nvidia, nvml

# The driver-API and NVML calls that create no context: all the probe may make.
CONTEXT_FREE = {
    "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetAttribute",
    "cuDeviceTotalMem_v2", "cuDeviceGetPCIBusId", "cuDeviceGetUuid", "cuDeviceGetUuid_v2", "cuGetErrorName",
    "nvmlInit_v2", "nvmlShutdown", "nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion_v2",
    "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName", "nvmlDeviceGetUUID",
    "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetMaxClockInfo", "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetGraphicsRunningProcesses_v3",
}


def two_gpus():
    return {"cuda.count": 2, "cuda.driver_version": 12040, "nvml.count": 2, "nvml.driver": "550.54.15",
            "nvml.cuda_version": 12040, **t4(0),
            **t4(1, name="NVIDIA A100-SXM4-40GB", cc=80, sms=108, clock_khz=1410000, memory=42505273344,
                 free=1073741824, pci="0000:00:05.0", uuid="GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
                 util=97, temp=71, power_mw=312000, power_limit_mw=400000, max_sm_clock=1410,
                 procs="4242:40000000000,77:-", graphics_procs="77:12345")}


def test_driver_api_reads_each_device(scenario):
    scenario.use_cuda()
    scenario.script(two_gpus())
    report = nvidia.probe()
    assert report.initialized and report.problem is None
    assert report.driver_version == 12040 and report.cuda_version == (12, 4)
    t4_dev, a100 = report.devices
    assert (t4_dev.index, t4_dev.name, t4_dev.compute_capability, t4_dev.multiprocessors, t4_dev.clock_mhz,
            t4_dev.memory_total, t4_dev.pci_bus_id, t4_dev.uuid) == (
        0, "Tesla T4", (7, 5), 40, 1590, 15843721216, "0000:00:04.0", "GPU-5c5e1d6a-8f0e-4b51-9d3a-0123456789ab")
    assert (a100.name, a100.compute_capability, a100.multiprocessors, a100.pci_bus_id, a100.uuid) == (
        "NVIDIA A100-SXM4-40GB", (8, 0), 108, "0000:00:05.0", "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")
    assert a100.errors == [] and t4_dev.errors == []


def test_nvml_reads_memory_utilization_power_and_processes(scenario):
    scenario.use_nvml()
    scenario.script(two_gpus())
    report = nvml.probe()
    assert report.initialized and report.problem is None
    assert (report.driver_version, report.cuda_driver_version) == ("550.54.15", 12040)
    first, second = report.devices
    assert (first.name, first.pci_bus_id, first.memory_total, first.memory_free, first.memory_used) == (
        "Tesla T4", "0000:00:04.0", 15843721216, 15509831680, 15843721216 - 15509831680)
    assert (second.utilization, second.temperature, second.power_w, second.power_limit_w, second.max_clock_mhz) == (
        97, 71, 312.0, 400.0, 1410)
    # pid 77 is in both lists: the entry with a size wins over NVML_VALUE_NOT_AVAILABLE.
    assert second.processes == [(77, 12345), (4242, 40000000000)]
    assert report.by_uuid("GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9") is second
    assert report.by_bus_id("0000:00:04.0") is first
    assert "nvmlShutdown" in scenario.calls()  # init and shutdown stay paired


def test_probe_makes_only_context_free_calls(scenario):
    scenario.use_cuda()
    scenario.use_nvml()
    scenario.script(two_gpus())
    nvidia.probe()
    nvml.probe()
    calls = set(scenario.calls())
    assert {"cuInit", "cuDeviceGetName", "nvmlDeviceGetMemoryInfo"} <= calls
    assert calls <= CONTEXT_FREE, f"calls outside the context-free list: {calls - CONTEXT_FREE}"


@pytest.mark.parametrize("code, name", [
    (100, "CUDA_ERROR_NO_DEVICE (100)"),
    (3, "CUDA_ERROR_NOT_INITIALIZED (3)"),
    (803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)"),
    (34, "CUDA_ERROR_STUB_LIBRARY (34)"),
    (999, "CUDA_ERROR_UNKNOWN (999)"),
    # 35 is the runtime's cudaErrorInsufficientDriver, not a CUresult: named as the library names it.
    (35, "CUresult (35)"),
])
def test_cuinit_errors_are_recorded(scenario, code, name):
    scenario.use_cuda()
    scenario.script({"cuda.init": code, "cuda.driver_version": 11040, "cuda.count": 1, **t4()})
    report = nvidia.probe()
    assert not report.initialized
    assert report.init_code == code and report.init_error == name
    assert report.devices == [] and report.problem == f"cuInit failed: {name}"
    assert report.driver_version == 11040  # cuDriverGetVersion answers without cuInit


def test_error_name_comes_from_the_library_for_unknown_codes(scenario):
    scenario.use_cuda()
    scenario.script({"cuda.init": 222, "cuda.error_name.222": "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"})
    assert nvidia.probe().init_error == "CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222)"


def test_per_device_call_failures_keep_the_rest(scenario):
    scenario.use_cuda()
    scenario.script({"cuda.count": 1, **t4(), "cuda.fail.cuDeviceGetName": 999, "cuda.fail.cuDeviceGetUuid_v2": 1})
    (dev,) = nvidia.probe().devices
    assert dev.name is None and dev.uuid is None
    assert dev.compute_capability == (7, 5) and dev.pci_bus_id == "0000:00:04.0"
    assert dev.errors == ["cuDeviceGetName: CUDA_ERROR_UNKNOWN (999)",
                          "cuDeviceGetUuid_v2: CUDA_ERROR_INVALID_VALUE (1)"]


def test_device_count_failure_is_recorded(scenario):
    scenario.use_cuda()
    scenario.script({"cuda.fail.cuDeviceGetCount": 999})
    report = nvidia.probe()
    assert report.init_code == 0 and report.devices == []
    assert report.problem == "cuDeviceGetCount failed: CUDA_ERROR_UNKNOWN (999)"


def test_missing_library_is_recorded(scenario):
    report = nvidia.probe()
    assert not report.loaded and "no-such-library.so" in report.load_error
    assert report.problem.startswith(f"{report.library} could not be loaded (")
    n = nvml.probe()
    assert n.load_error and n.devices == [] and not n.initialized


def test_broken_library_file_is_recorded(scenario, tmp_path, monkeypatch):
    broken = tmp_path / "libcuda-broken.so.1"
    broken.write_bytes(b"\x7fELF this is not a shared object")
    monkeypatch.setenv("GPUTRAIN_PROBE_LIBCUDA", str(broken))
    report = nvidia.probe()
    assert report.load_error and str(broken) in report.load_error and report.devices == []


def test_library_without_driver_symbols_is_recorded(scenario):
    scenario.use_cuda("fake_empty")
    scenario.use_nvml("fake_empty")
    report = nvidia.probe()
    assert report.missing_symbol == "cuInit" and not report.initialized
    assert report.problem.endswith("has no cuInit: it is not a CUDA driver library")
    assert nvml.probe().missing_symbol == "nvmlInit_v2"


@pytest.mark.parametrize("code, name", [(9, "NVML_ERROR_DRIVER_NOT_LOADED (9)"),
                                        (18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH (18)"),
                                        (4, "NVML_ERROR_NO_PERMISSION (4)"),
                                        (555, "fake NVML error (555)")])
def test_nvml_init_errors_are_recorded(scenario, code, name):
    scenario.use_nvml()
    scenario.script({"nvml.init": code, "nvml.count": 1, **t4()})
    report = nvml.probe()
    assert report.init_code == code and report.init_error == name and report.devices == []
    assert report.problem == f"nvmlInit_v2 failed: {name}"
    assert "nvmlShutdown" not in scenario.calls()  # nothing to shut down after a failed init


def test_nvml_not_supported_is_quiet_other_errors_are_kept(scenario):
    scenario.use_nvml()
    scenario.script({"nvml.count": 1, **t4(), "nvml.fail.nvmlDeviceGetPowerUsage": 3,
                     "nvml.fail.nvmlDeviceGetTemperature": 15})
    (dev,) = nvml.probe().devices
    assert dev.power_w is None and dev.temperature is None and dev.utilization == 3
    assert dev.errors == ["nvmlDeviceGetTemperature: NVML_ERROR_GPU_IS_LOST (15)"]


def test_nvml_process_list_grows_past_first_buffer(scenario):
    scenario.use_nvml()
    # The probe asks for 64 first; NVML answers INSUFFICIENT_SIZE with the count it needs.
    scenario.script({"nvml.count": 1, **t4(many_procs=150)})
    (dev,) = nvml.probe().devices
    assert len(dev.processes) == 150 and dev.errors == []
    assert dev.processes[0] == (1000, 1 << 20) and dev.processes[-1] == (1149, 150 << 20)


def test_hanging_driver_is_cut_off_and_not_entered_again(scenario, fake_libs, tmp_path):
    # In a child process, so the thread left sleeping in the fake cuInit ends with it.
    script = tmp_path / "hang.txt"
    script.write_text("cuda.hang=cuInit\ncuda.hang_seconds=30\ncuda.count=1\n")
    code = textwrap.dedent("""
        from gputrain.probe import nvidia
        first = nvidia.probe()
        second = nvidia.probe()
        print(first.timed_out)
        print(second.timed_out)
        print(first.initialized, first.devices)
    """)
    env = {**dict(__import__("os").environ), "GPUTRAIN_PROBE_LIBCUDA": str(fake_libs["fake_libcuda"]),
           "FAKE_GPU_SCRIPT": str(script), "GPUTRAIN_PROBE_TIMEOUT": "0.5"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    first, second, state = result.stdout.splitlines()
    assert first == "cuInit did not return within 0.5 s"
    assert second == "cuInit did not return within 0.5 s (earlier in this process)"
    assert state == "False []"


def test_uuid_formatting():
    raw = bytes.fromhex("5c5e1d6a8f0e4b519d3a0123456789ab")
    assert nvidia.format_uuid(raw) == "GPU-5c5e1d6a-8f0e-4b51-9d3a-0123456789ab"
