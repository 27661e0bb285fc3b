"""gputrain.devices() and is_gpu_available(): what each Device reports and when a GPU counts as
usable (backend built and loaded, driver new enough, nodes accessible, not hidden, architecture
compiled, backend module sees it), on fake machines with a fake build record."""
import pytest

import gputrain
from fakes import t4
from fakes.fixtures import INSTALL, fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import amd_card, nvidia_t4


def gpus():
    return [d for d in gputrain.devices() if d.is_gpu]


def test_cpu_first_and_alone_without_gpus(scenario, fake_build):
    devs = gputrain.devices()
    assert len(devs) == 1
    cpu = devs[0]
    assert (cpu.id, cpu.backend, cpu.index, cpu.usable, cpu.reason) == ("cpu", "cpu", 0, True, None)
    assert cpu.name == "Intel(R) Xeon(R) CPU @ 2.20GHz" and cpu.cores == 2 and cpu.logical_cpus == 2
    assert cpu.simd == ["SSE4.2", "AVX", "AVX2", "FMA"] and cpu.memory_total == 13290452 * 1024
    assert not gputrain.is_gpu_available()


def test_usable_t4_reports_everything(scenario, fake_build):
    nvidia_t4(scenario, **{"gpu.0.procs": "31337:524288000"})
    scenario.root.write("/proc/31337/comm", "python3\n")
    (d,) = gpus()
    assert d.usable and d.reason is None and d.issues == [] and d.notes == []
    assert (d.id, d.name, d.arch, d.compute_capability, d.multiprocessors, d.clock_mhz) == (
        "cuda:0", "Tesla T4", "sm_75", "7.5", 40, 1590)
    assert (d.memory_total, d.memory_free, d.pci_bus_id, d.uuid) == (
        15843721216, 15509831680, "0000:00:04.0", "GPU-5c5e1d6a-8f0e-4b51-9d3a-0123456789ab")
    assert (d.driver_version, d.driver_cuda_version, d.toolkit_version) == ("535.104.05", "12.2", "12.4.131")
    assert (d.utilization, d.temperature, d.power_w, d.power_limit_w) == (3, 44, 9.8, 70.0)
    assert [(p.pid, p.name, p.memory) for p in d.processes] == [(31337, "python3", 524288000)]
    assert repr(d) == ("<Device cuda:0 'Tesla T4': sm_75, 40 SMs, 14.8 GiB (14.4 GiB free), 0000:00:04.0, "
                       "driver 535.104.05; usable>")
    assert "driver 535.104.05, supports CUDA 12.2, gputrain built with CUDA 12.4.131" in str(d)
    assert "process 31337 (python3) holds 500.0 MiB" in str(d)
    assert gputrain.is_gpu_available()


def test_not_built_with_cuda(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.without("cuda", "no nvcc on PATH, in CUDACXX, CUDA_PATH or /usr/local/cuda/bin")
    (d,) = gpus()
    assert not d.usable and [i.id for i in d.issues] == ["no-backend"]
    assert d.toolkit_version is None
    assert d.reason == (
        "the NVIDIA GPU Tesla T4 is here, but this gputrain was built without CUDA (build said: no nvcc on PATH, "
        "in CUDACXX, CUDA_PATH or /usr/local/cuda/bin). To fix: install the CUDA toolkit (nvcc), then reinstall "
        f"gputrain from source: {INSTALL} -Ccmake.define.GPUTRAIN_CUDA=ON")
    assert not gputrain.is_gpu_available()


def test_driver_too_old_for_toolkit(scenario, fake_build):
    nvidia_t4(scenario, driver_cuda=12020, driver="535.104.05")
    fake_build.backends["cuda"]["toolkit_version"] = "13.0.88"
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["driver-too-old"]
    assert d.reason == (
        "the NVIDIA driver 535.104.05 supports CUDA up to 12.2, but this gputrain was built with CUDA 13.0.88, "
        "which needs driver 580 or newer. To fix: update the NVIDIA driver to 580 or newer, or reinstall "
        "gputrain built with a CUDA 12.x toolkit")


def test_architecture_not_compiled(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "80-real,86-real,90"
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["arch-not-compiled"]
    assert d.reason == (
        "this GPU is sm_75 (compute capability 7.5); this gputrain was compiled for 80-real,86-real,90 and has no "
        f"PTX that could be JIT-compiled for it. To fix: rebuild for it: {INSTALL} "
        "-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=75")


def test_ptx_jit_needs_a_driver_as_new_as_the_toolkit(scenario, fake_build):
    nvidia_t4(scenario, driver_cuda=12040)
    fake_build.backends["cuda"]["architectures"] = "60"  # sm_60 SASS cannot run on 7.5; its PTX can JIT
    (d,) = gpus()
    assert d.usable and d.notes == ["runs through PTX JIT from sm_60 (the first launch of each kernel is slower)"]
    nvidia_t4(scenario, driver_cuda=12020)  # minor-version compatibility runs SASS, not newer PTX
    (d,) = gpus()
    assert not d.usable and [i.id for i in d.issues] == ["arch-not-compiled"]
    assert "PTX from CUDA 12.4 cannot be JIT-compiled by a driver that supports CUDA 12.2" in d.reason


def test_unknown_architecture_record_does_not_block(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "native"
    (d,) = gpus()
    assert d.usable and d.notes == ["cannot tell from the build record 'native' whether sm_75 is compiled in"]


def test_backend_module_fails_to_load(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.modules["cuda"] = {"loaded": False, "device_count": 0, "reason": (
        "gputrain._cuda failed to load: ImportError: libcudart.so.12: cannot open shared object file")}
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["backend-load-failed"]
    assert d.reason.startswith("gputrain._cuda failed to load: ImportError: libcudart.so.12")


def test_backend_module_sees_no_device(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.modules["cuda"] = {"loaded": True, "device_count": 0, "reason": "the cuda driver sees no device (x)"}
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["backend-no-device"]
    assert d.reason.startswith("gputrain's CUDA module sees 0 device(s): the cuda driver sees no device (x). To fix:")
    assert not gputrain.is_gpu_available()


def test_device_hidden_by_cuda_visible_devices(scenario, fake_build, monkeypatch):
    second = t4(1, pci="0000:00:05.0", uuid="GPU-11111111-2222-3333-4444-555555555555")
    nvidia_t4(scenario, **{"cuda.map": "1", "nvml.count": 2, **second})
    scenario.root.pci("0000:00:05.0", 0x10DE, 0x1EB8, driver="nvidia")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    visible, hidden = gpus()
    assert (visible.id, visible.pci_bus_id, visible.usable) == ("cuda:0", "0000:00:05.0", True)
    assert (hidden.id, hidden.index, hidden.pci_bus_id, hidden.usable) == ("-", None, "0000:00:04.0", False)
    assert [i.id for i in hidden.issues] == ["devices-hidden"]
    assert hidden.reason.startswith("CUDA_VISIBLE_DEVICES='1' hides 1 of the 2 NVIDIA GPU(s) the driver sees")


def test_gpu_on_pci_without_driver(scenario, fake_build):
    scenario.root.pci("0000:00:1e.0", 0x10DE, 0x1EB8)
    (d,) = gpus()
    assert (d.id, d.name, d.pci_bus_id, d.usable) == ("-", "NVIDIA GPU [10de:1eb8]", "0000:00:1e.0", False)
    assert [i.id for i in d.issues] == ["driver-missing"]
    assert d.reason.startswith("no NVIDIA driver is installed: ")
    assert d.reason.endswith(" although an NVIDIA GPU (0000:00:1e.0) is on the PCI bus. To fix: install the NVIDIA "
                             "driver, 525.60.13 or newer (Ubuntu: sudo ubuntu-drivers install), then reboot")


def test_gpu_driven_by_nouveau(scenario, fake_build):
    nvidia_t4(scenario)
    scenario.root.pci("0000:00:05.0", 0x10DE, 0x1EB8, driver="nouveau")
    t4_dev, other = gpus()
    assert t4_dev.usable and not other.usable
    assert [i.id for i in other.issues] == ["driver-missing"] and "nouveau" in other.reason


def test_amd_gfx1031_needs_the_override_when_only_gfx1030_is_built(scenario, fake_build, monkeypatch):
    amd_card(scenario, target=100301)
    (d,) = gpus()
    assert (d.id, d.arch, d.compute_capability, d.multiprocessors, d.memory_total, d.memory_free) == (
        "hip:0", "gfx1031", "10.3", 40, 12 << 30, 11 << 30)
    assert (d.pci_bus_id, d.uuid, d.toolkit_version) == ("0000:03:00.0", "GPU-00000000000077aa", "6.1.40091")
    assert [i.id for i in d.issues] == ["hsa-override"]
    assert "set HSA_OVERRIDE_GFX_VERSION=10.3.0 before Python starts" in d.reason
    monkeypatch.setenv("HSA_OVERRIDE_GFX_VERSION", "10.3.0")
    (d,) = gpus()
    assert d.usable and d.reason is None


def test_amd_gfx1031_compiled_in_is_usable(scenario, fake_build):
    amd_card(scenario, target=100301)
    fake_build.backends["hip"]["architectures"] = "gfx1030,gfx1031"
    (d,) = gpus()
    assert d.usable and gputrain.is_gpu_available()


def test_amd_other_family_gets_a_rebuild_not_an_override(scenario, fake_build):
    amd_card(scenario, target=110001)  # gfx1101, with gfx1030 and gfx1100 compiled in
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["arch-not-compiled"]
    assert "HSA_OVERRIDE_GFX_VERSION" not in d.reason
    assert d.reason.endswith("-Ccmake.define.GPUTRAIN_HIP_ARCHITECTURES=gfx1101")


def test_amd_override_pointing_elsewhere(scenario, fake_build, monkeypatch):
    amd_card(scenario, target=100301)
    monkeypatch.setenv("HSA_OVERRIDE_GFX_VERSION", "9.0.0")
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["arch-not-compiled"]
    assert "HSA_OVERRIDE_GFX_VERSION=9.0.0 makes it gfx900" in d.reason


def test_amd_nodes_not_accessible(scenario, fake_build):
    amd_card(scenario, target=100300, kfd_mode=0o660, render_mode=0o660)
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["device-access"]
    assert d.reason == (
        "this process may not open /dev/kfd (-rw-rw----, group render), /dev/dri/renderD128 (-rw-rw----, group "
        "render). To fix: add your user to the group(s) render: sudo usermod -aG render $USER, then log out and "
        "back in (in Docker: --group-add render)")


def test_amd_hidden_by_rocr_visible_devices(scenario, fake_build, monkeypatch):
    amd_card(scenario, target=100300)
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "GPU-ffff")
    (d,) = gpus()
    assert d.index is None and [i.id for i in d.issues] == ["devices-hidden"]
    assert d.reason.startswith("ROCR_VISIBLE_DEVICES='GPU-ffff' hides this GPU (KFD node 1)")


def test_amd_without_hip_runtime(scenario, fake_build):
    amd_card(scenario, target=100300)
    scenario.use_hip(str(scenario.tmp / "missing-libamdhip64.so"))
    (d,) = gpus()
    assert [i.id for i in d.issues] == ["driver-missing"]
    assert d.reason.startswith("the ROCm runtime is not installed: ")


def test_amd_on_pci_without_kfd(scenario, fake_build):
    scenario.root.pci("0000:0a:00.0", 0x1002, 0x744C, pci_class=0x030000)
    (d,) = gpus()
    assert (d.backend, d.index, d.pci_bus_id) == ("hip", None, "0000:0a:00.0")
    assert [i.id for i in d.issues] == ["driver-missing"]
    assert "exposes no compute node in /sys/class/kfd" in d.reason


def test_order_is_cpu_then_cuda_then_hip(scenario, fake_build):
    amd_card(scenario, target=100300)
    nvidia_t4(scenario)
    assert [d.id for d in gputrain.devices()] == ["cpu", "cuda:0", "hip:0"]


def test_device_to_dict_round_trips_to_json(scenario, fake_build):
    import json

    nvidia_t4(scenario)
    data = json.loads(json.dumps([d.to_dict() for d in gputrain.devices()]))
    assert data[1]["id"] == "cuda:0" and data[1]["arch"] == "sm_75" and data[1]["usable"] is True
    assert data[1]["processes"] == [] and data[0]["simd"] == ["SSE4.2", "AVX", "AVX2", "FMA"]


def test_device_list_renders_table_and_html(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "80-real"
    devs = gputrain.devices()
    text = str(devs)
    lines = text.splitlines()
    assert lines[0].split() == ["device", "name", "details", "usable"]
    assert lines[1].startswith("cpu ") and lines[1].endswith("yes")
    assert lines[2].startswith("cuda:0  Tesla T4") and lines[2].endswith("no")
    assert "not usable:" in lines and any(l.startswith("  cuda:0 Tesla T4: this GPU is sm_75") for l in lines)
    page = devs._repr_html_()
    assert page.startswith("<table>") and "<td>cuda:0</td>" in page and "this GPU is sm_75" in page
    assert "<script" not in page


@pytest.mark.parametrize("name", ["<b>x</b>", "Tesla \"T4\""])
def test_html_escapes_device_names(scenario, fake_build, name):
    nvidia_t4(scenario, **{"gpu.0.name": name})
    page = gputrain.devices()._repr_html_()
    assert name not in page and ("&lt;b&gt;" in page or "&quot;T4&quot;" in page)
