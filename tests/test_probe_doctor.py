"""gputrain.doctor(): each finding the issue asks for (id, severity, what was seen, the one action),
on fake machines, and the report's text, HTML and JSON forms."""
import json
import sys
import types

import pytest

import gputrain
from fakes.fixtures import INSTALL, fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import amd_card, nvidia_t4

HOUR = 3600


def only(report, finding_id):
    (found,) = report.by_id(finding_id)
    return found


def ids(report):
    return [f.id for f in report.findings]


@pytest.mark.parametrize("platform_setup, action_start", [
    (lambda s, mp: mp.setenv("COLAB_RELEASE_TAG", "r"),
     "Runtime → Change runtime type → Hardware accelerator: GPU"),
    (lambda s, mp: mp.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive"), "in the notebook's side panel: Settings → "
                                                                     "Accelerator → GPU"),
    (lambda s, mp: mp.setenv("PAPERSPACE_NOTEBOOK_ID", "n1"), "stop this notebook and start it again on a GPU"),
    (lambda s, mp: s.root.write("/opt/ml/metadata/resource-metadata.json", "{}"), "switch this notebook or Studio"),
    (lambda s, mp: s.root.write("/sys/class/dmi/id/sys_vendor", "Amazon EC2\n"), "launch a GPU instance type"),
    (lambda s, mp: s.root.write("/.dockerenv", ""), "if the host has a GPU, start the container with it: "
                                                    "docker run --gpus all"),
    (lambda s, mp: mp.setenv("WSL_DISTRO_NAME", "Ubuntu"), "install the NVIDIA Windows driver"),
    (lambda s, mp: None, "gputrain runs on the CPU here"),
])
def test_no_gpu_attached_with_the_platform_action(scenario, fake_build, monkeypatch, platform_setup, action_start):
    platform_setup(scenario, monkeypatch)
    report = gputrain.doctor()
    assert ids(report) == ["no-gpu"]
    f = only(report, "no-gpu")
    assert f.severity == "warning" and f.action.startswith(action_start)
    assert f.seen.startswith("no GPU is attached to this runtime: no NVIDIA or AMD GPU on the PCI bus, no "
                             "/dev/nvidia*, no /sys/class/kfd, and ")
    assert report.default_device == "cpu" and not report.gpu_available


def test_ready_gpu(scenario, fake_build):
    nvidia_t4(scenario)
    report = gputrain.doctor()
    assert ids(report) == ["gpu-ready"]
    f = only(report, "gpu-ready")
    assert f.severity == "info" and f.action == "nothing to do; it is the default device"
    assert f.seen == ("cuda:0 Tesla T4 (sm_75, 40 SMs, 14.8 GiB (14.4 GiB free), 0000:00:04.0, driver 535.104.05) "
                      "is usable")
    assert report.default_device == "cuda:0" and report.gpu_available


def test_hardware_without_backend(scenario, fake_build):
    nvidia_t4(scenario)
    amd_card(scenario, target=100300)
    fake_build.without("cuda", "GPUTRAIN_CUDA=OFF")
    fake_build.without("hip", "no hipcc found")
    report = gputrain.doctor()
    assert ids(report) == ["no-backend", "no-backend"]
    cuda, hip = report.findings
    assert cuda.severity == "error"
    assert cuda.seen == ("the NVIDIA GPU Tesla T4 is here, but this gputrain was built without CUDA (build said: "
                         "GPUTRAIN_CUDA=OFF)")
    assert cuda.action.endswith("-Ccmake.define.GPUTRAIN_CUDA=ON")
    assert hip.seen == ("the AMD GPU (gfx1030) is here, but this gputrain was built without HIP (ROCm) (build said: "
                        "no hipcc found)")
    assert hip.action == f"install ROCm's hipcc, then reinstall gputrain from source: {INSTALL} -Ccmake.define.GPUTRAIN_HIP=ON"


def test_driver_library_missing_with_hardware(scenario, fake_build):
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8)
    report = gputrain.doctor()
    f = only(report, "driver-missing")
    assert f.severity == "error" and "although an NVIDIA GPU (0000:00:04.0) is on the PCI bus" in f.seen
    assert f.action == ("install the NVIDIA driver, 525.60.13 or newer (Ubuntu: sudo ubuntu-drivers install), "
                        "then reboot")
    assert "no-gpu" not in ids(report)


def test_kernel_module_without_user_space_library(scenario, fake_build):
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8, driver="nvidia")
    scenario.root.nvidia_driver("550.54.15")
    f = only(gputrain.doctor(), "driver-missing")
    assert f.seen.startswith("the NVIDIA kernel module 550.54.15 is loaded but its user-space library ")
    assert f.action == ("install the driver's compute libraries of the same version (Ubuntu: sudo apt install "
                        "libnvidia-compute-550)")


def test_kernel_module_not_loaded(scenario, fake_build):
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8)
    scenario.use_cuda()
    scenario.script({"cuda.init": 100})
    f = only(gputrain.doctor(), "driver-missing")
    assert f.seen == ("the NVIDIA kernel module is not loaded (no /proc/driver/nvidia/version): cuInit failed with "
                      "CUDA_ERROR_NO_DEVICE (100)")
    assert f.action.startswith("load it with `sudo modprobe nvidia`")


def test_stub_library_on_the_library_path(scenario, fake_build, monkeypatch):
    nvidia_t4(scenario, **{"cuda.init": 34})
    monkeypatch.setenv("LD_LIBRARY_PATH", "/usr/local/cuda/lib64/stubs")
    f = only(gputrain.doctor(), "driver-missing")
    assert "is the CUDA toolkit's stub library, not a driver (LD_LIBRARY_PATH=/usr/local/cuda/lib64/stubs)" in f.seen
    assert f.action.startswith("remove the toolkit's lib64/stubs directory from LD_LIBRARY_PATH")


def test_driver_too_old(scenario, fake_build):
    nvidia_t4(scenario, driver_cuda=11040, driver="470.256.02")
    report = gputrain.doctor()
    assert ids(report) == ["driver-too-old"]
    f = report.findings[0]
    assert f.seen == ("the NVIDIA driver 470.256.02 supports CUDA up to 11.4, but this gputrain was built with CUDA "
                      "12.4.131, which needs driver 525.60.13 or newer")
    assert f.action == ("update the NVIDIA driver to 525.60.13 or newer, or reinstall gputrain built with a "
                        "CUDA 11.x toolkit")


def test_driver_and_kernel_module_mismatch(scenario, fake_build):
    nvidia_t4(scenario, **{"cuda.init": 803, "nvml.init": 18})
    scenario.root.nvidia_driver("535.104.05")
    report = gputrain.doctor()
    f = only(report, "driver-mismatch")
    assert f.seen == ("the NVIDIA driver library and the loaded kernel module differ in version (kernel module "
                      "535.104.05): cuInit failed with CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)")
    assert f.action == "reboot, so that the kernel module of the newly installed driver is loaded"
    # NVML saw no device either, but the T4 on the PCI bus is listed, with the same reason.
    assert [d.id for d in report.devices] == ["cpu", "-"]


@pytest.mark.parametrize("code, name", [(999, "CUDA_ERROR_UNKNOWN (999)"), (35, "CUresult (35)")])
def test_other_driver_errors(scenario, fake_build, code, name):
    nvidia_t4(scenario, **{"cuda.init": code})
    f = only(gputrain.doctor(), "driver-error")
    assert f.seen == f"cuInit failed: {name}" and f.severity == "error"
    assert f.action.startswith("look for NVRM or Xid errors in `dmesg`")


def test_architecture_not_compiled(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "86-real,89-real"
    f = only(gputrain.doctor(), "arch-not-compiled")
    assert f.severity == "error" and f.action.endswith("-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=75")


def test_hsa_override_for_gfx1031(scenario, fake_build):
    amd_card(scenario, target=100301)
    f = only(gputrain.doctor(), "hsa-override")
    assert f.seen == ("this GPU is gfx1031, which this gputrain was not compiled for (gfx1030,gfx1100), but gfx1030 "
                      "code runs on it")
    assert f.action.startswith("set HSA_OVERRIDE_GFX_VERSION=10.3.0 before Python starts")


@pytest.mark.parametrize("target", [110001, 90010, 90402, 101000])  # gfx1101, gfx90a, gfx942, gfx10a0
def test_hsa_override_never_suggested_outside_gfx103x(scenario, fake_build, target):
    amd_card(scenario, target=target)
    report = gputrain.doctor()
    assert "hsa-override" not in ids(report) and "arch-not-compiled" in ids(report)
    assert all("HSA_OVERRIDE_GFX_VERSION" not in f.action + f.seen for f in report.findings)


def test_kfd_not_accessible(scenario, fake_build):
    amd_card(scenario, target=100300, kfd_mode=0o660)
    f = only(gputrain.doctor(), "device-access")
    assert f.seen == "this process may not open /dev/kfd (-rw-rw----, group render)"
    assert f.action.startswith("add your user to the group(s) render: sudo usermod -aG render $USER")


def test_render_node_missing(scenario, fake_build):
    amd_card(scenario, target=100300)
    scenario.root.remove("/dev/dri/renderD128")
    f = only(gputrain.doctor(), "device-access")
    assert f.seen == "this process may not open /dev/dri/renderD128 (missing)"


def test_cuda_visible_devices_hiding_everything(scenario, fake_build, monkeypatch):
    nvidia_t4(scenario, **{"cuda.init": 100})  # CUDA_VISIBLE_DEVICES="" makes cuInit find no device
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    report = gputrain.doctor()
    f = only(report, "devices-hidden")
    assert f.seen == "CUDA_VISIBLE_DEVICES='' hides 1 of the 1 NVIDIA GPU(s) the driver sees"
    assert f.severity == "warning" and f.action.startswith("unset CUDA_VISIBLE_DEVICES")
    assert ids(report) == ["devices-hidden"]


def test_hip_visible_devices_hiding(scenario, fake_build, monkeypatch):
    amd_card(scenario, target=100300)
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    f = only(gputrain.doctor(), "devices-hidden")
    assert f.seen == "HIP_VISIBLE_DEVICES='1' hides this GPU (KFD node 1)"


def test_memory_held_by_other_processes(scenario, fake_build):
    nvidia_t4(scenario, **{"gpu.0.free": 1 << 30, "gpu.0.procs": "4242:13958643712,977:-"})
    scenario.root.write("/proc/4242/comm", "python3\n")
    report = gputrain.doctor()
    f = only(report, "memory-held")
    assert f.severity == "warning"
    assert f.seen == ("cuda:0 Tesla T4: 1 other process(es) hold 13.0 GiB of 14.8 GiB (pid 4242 (python3) 13.0 GiB); "
                      "1.0 GiB free")
    assert f.action.startswith("stop them (another notebook's kernel: Kernel → Shut Down; else `kill PID`)")


def test_memory_taken_by_an_unknown_holder(scenario, fake_build):
    nvidia_t4(scenario, **{"gpu.0.free": 1 << 29})
    f = only(gputrain.doctor(), "memory-held")
    assert f.seen == ("cuda:0 Tesla T4: only 512.0 MiB of 14.8 GiB is free, and the driver does not say which "
                      "process holds the rest")


def test_amd_memory_held_by_another_process(scenario, fake_build):
    amd_card(scenario, target=100300, vram_total=16 << 30, vram_used=15 << 30)
    scenario.root.write("/sys/class/kfd/kfd/proc/5150/vram_41000", f"{14 << 30}\n")
    f = only(gputrain.doctor(), "memory-held")
    assert f.seen.startswith("hip:0 AMD GPU (gfx1030): 1 other process(es) hold 14.0 GiB of 16.0 GiB (pid 5150 "
                             "(not visible here) 14.0 GiB)")


def test_tensorflow_preallocating_in_this_process(scenario, fake_build, monkeypatch):
    import os

    nvidia_t4(scenario, **{"gpu.0.free": 1 << 28, "gpu.0.procs": f"{os.getpid()}:15300000000"})
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    report = gputrain.doctor()
    f = only(report, "tf-preallocate")
    assert f.severity == "warning"
    assert f.seen.endswith("this process already holds 14.2 GiB of cuda:0")
    assert "TF_FORCE_GPU_ALLOW_GROWTH" in f.seen and f.action.startswith("set TF_FORCE_GPU_ALLOW_GROWTH=true before")
    assert "memory-held" not in ids(report)  # the memory is this process's own
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    assert "tf-preallocate" not in ids(gputrain.doctor())


def test_jax_preallocation(scenario, fake_build, monkeypatch):
    nvidia_t4(scenario)
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))
    f = only(gputrain.doctor(), "jax-preallocate")
    assert f.severity == "info" and f.action.startswith("set XLA_PYTHON_CLIENT_PREALLOCATE=false before JAX")
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    assert "jax-preallocate" not in ids(gputrain.doctor())


def test_frameworks_without_a_gpu_are_not_reported(scenario, fake_build, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    assert ids(gputrain.doctor()) == ["no-gpu"]


def test_container_started_without_nvidia_gpu(scenario, fake_build):
    scenario.root.write("/.dockerenv", "")
    scenario.root.pci("0000:00:1e.0", 0x10DE, 0x2236, driver="nvidia")
    report = gputrain.doctor()
    f = only(report, "container-no-gpu")
    assert f.seen == ("this container was started without GPU access: the host's NVIDIA GPU (0000:00:1e.0) is on the "
                      "PCI bus, but there is no /dev/nvidia* and no driver library in the container")
    assert f.action.startswith("start the container with the GPU: docker run --gpus all")
    assert "no-gpu" not in ids(report)


def test_container_started_without_amd_gpu(scenario, fake_build):
    scenario.root.write("/.dockerenv", "")
    amd_card(scenario, target=100300)
    scenario.root.remove("/dev/kfd")
    f = only(gputrain.doctor(), "container-no-gpu")
    assert f.action == ("start the container with --device=/dev/kfd --device=/dev/dri --group-add video "
                        "--group-add render")


def test_container_with_device_nodes_but_no_library(scenario, fake_build):
    scenario.root.write("/.dockerenv", "")
    scenario.root.dev_node("/dev/nvidia0")
    report = gputrain.doctor()
    f = only(report, "driver-missing")
    assert f.seen.startswith("the container has /dev/nvidia0 but not the driver library ")
    assert f.action.startswith("start the container with --gpus all")


def test_device_nodes_alone_count_as_hardware(scenario, fake_build):
    scenario.root.dev_node("/dev/nvidia0")
    scenario.root.dev_node("/dev/kfd")
    fake_build.without("cuda", "GPUTRAIN_CUDA=OFF")
    fake_build.without("hip", "GPUTRAIN_HIP=OFF")
    report = gputrain.doctor()
    assert ids(report) == ["no-backend", "driver-missing", "no-backend", "driver-missing"]
    nvidia_backend, nvidia_driver, amd_backend, amd_driver = report.findings
    assert nvidia_backend.seen.startswith("NVIDIA GPU hardware is here, but this gputrain was built without CUDA")
    assert nvidia_driver.seen.startswith("no NVIDIA driver is installed: ")
    assert amd_backend.seen.startswith("AMD GPU hardware (/dev/kfd) is here, but this gputrain was built without HIP")
    assert amd_driver.seen == ("/dev/kfd exists, but the KFD topology (/sys/class/kfd/kfd/topology/nodes) lists no "
                               "GPU")


def test_wsl_without_windows_driver(scenario, fake_build, monkeypatch):
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu")
    scenario.root.dev_node("/dev/dxg")
    f = only(gputrain.doctor(), "driver-missing")
    assert f.seen.startswith("WSL2 has a GPU (/dev/dxg) but no NVIDIA driver: ")
    assert f.action.startswith("install the NVIDIA Windows driver")


def test_session_limit_approaching_on_colab(scenario, fake_build, monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "r")
    nvidia_t4(scenario)
    scenario.root.uptime(started_ago=11 * HOUR + 20 * 60)
    report = gputrain.doctor()
    f = only(report, "session-limit")
    assert f.severity == "warning"
    assert f.seen == ("this colab session has run 11 h 20 min of its 12 h 00 min limit: about 40 min left, after "
                      "which the runtime and its files are gone")
    assert f.action.startswith("mount Google Drive (from google.colab import drive; drive.mount('/content/drive'))")
    scenario.root.mkdir("/content/drive/MyDrive")
    f = only(gputrain.doctor(), "session-limit")
    assert f.action == ("save a checkpoint now to /content/drive/MyDrive "
                        "(model.save('/content/drive/MyDrive/checkpoint'))")


def test_session_past_limit_on_paperspace(scenario, fake_build, monkeypatch):
    monkeypatch.setenv("PAPERSPACE_NOTEBOOK_ID", "n1")
    scenario.root.mkdir("/storage")
    scenario.root.uptime(started_ago=6 * HOUR + 5 * 60)
    f = only(gputrain.doctor(), "session-limit")
    assert "5 min past the limit" in f.seen and f.action.startswith("save a checkpoint now to /storage")


def test_session_limit_far_away_or_unknown(scenario, fake_build, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    scenario.root.uptime(started_ago=2 * HOUR)
    assert "session-limit" not in ids(gputrain.doctor())
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE")
    scenario.root.uptime(started_ago=100 * HOUR, uptime=200 * HOUR)  # local: no limit at all
    assert "session-limit" not in ids(gputrain.doctor())


def test_nvml_missing_is_information(scenario, fake_build):
    nvidia_t4(scenario)
    scenario._mp.setenv("GPUTRAIN_PROBE_LIBNVML", str(scenario.tmp / "absent.so"))
    report = gputrain.doctor()
    f = only(report, "nvml-unavailable")
    assert f.severity == "info" and report.devices[1].usable and report.devices[1].memory_free is None


def test_bad_gputrain_device(scenario, fake_build, monkeypatch):
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cuda:3")
    nvidia_t4(scenario)
    report = gputrain.doctor()
    f = only(report, "bad-device-env")
    assert f.seen == "GPUTRAIN_DEVICE='cuda:3': cuda:3: only 1 cuda device(s) present"
    assert f.action == "unset GPUTRAIN_DEVICE or set it to one of: cpu, cuda:0"
    assert report.default_device is None
    monkeypatch.setenv("GPUTRAIN_DEVICE", "tpu")
    f = only(gputrain.doctor(), "bad-device-env")
    assert f.seen.startswith("GPUTRAIN_DEVICE='tpu': device: 'tpu' is not a device name")
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    report = gputrain.doctor()
    assert report.default_device == "cpu" and "bad-device-env" not in ids(report)


def test_default_device_passes_over_a_gpu_the_build_cannot_run_on(scenario, fake_build):
    # The CUDA module counts the T4, but no kernel in the build runs on sm_75: the default device is the
    # CPU, and the finding says how to get the GPU.
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "86-real"
    report = gputrain.doctor()
    assert report.default_device == "cpu" and not report.gpu_available
    assert ids(report) == ["arch-not-compiled"]


def test_chosen_device_the_build_cannot_run_on(scenario, fake_build, monkeypatch):
    # GPUTRAIN_DEVICE insists on the T4 the build has no kernels for.
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "86-real"
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cuda:0")
    report = gputrain.doctor()
    assert report.default_device == "cuda:0" and not report.gpu_available
    assert ids(report) == ["arch-not-compiled", "default-device-unusable"]
    f = only(report, "default-device-unusable")
    assert f.seen.startswith("gputrain's default device is cuda:0, which its backend reports, but this GPU is sm_75")
    assert f.action == ("fix cuda:0 as said, or set GPUTRAIN_DEVICE=cpu before Python starts to train on the CPU "
                        "meanwhile")


def test_severity_order_and_report_forms(scenario, fake_build, monkeypatch):
    nvidia_t4(scenario, **{"nvml.count": 2, **_second_gpu()})
    fake_build.backends["cuda"]["architectures"] = "75-real"
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))
    report = gputrain.doctor()
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert {"devices-hidden", "gpu-ready", "jax-preallocate"} <= set(ids(report))
    text = str(report)
    assert text.startswith("gputrain doctor\n  platform: local, session running 10 min\n")
    assert "  GPUs: 2 found, 1 usable by gputrain\n  gputrain will run on: cuda:0\n" in text
    for f in report.findings:
        assert f"[{f.severity}] {f.id}\n  seen: {f.seen}\n  fix:  {f.action}" in text
    assert "not usable:" not in text  # the findings say why; the table does not repeat it
    assert repr(report) == text
    page = report._repr_html_()
    assert page.count("<li><b style=") == len(report.findings) and "<table>" in page
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"platform", "default_device", "gpu_available", "devices", "cpu_load", "openmp_wait",
                         "findings"}
    assert data["findings"][0] == report.findings[0].to_dict() and data["gpu_available"] is True
    assert [d["id"] for d in data["devices"]] == ["cpu", "cuda:0", "-"]


def _second_gpu():
    from fakes import t4

    return t4(1, pci="0000:00:05.0", uuid="GPU-99999999-2222-3333-4444-555555555555")
