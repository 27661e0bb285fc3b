"""`gputrain devices` and `gputrain doctor` (text and --json), in-process on fake machines and as
`python -m gputrain` in a child process, both on this machine and on a fake tree."""
import json
import os
import subprocess
import sys

import pytest

import gputrain
from fakes import FakeRoot
from fakes.fixtures import fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import nvidia_t4
from gputrain import cli


def run_module(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gputrain", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_devices_table(scenario, fake_build, capsys):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "86-real"
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["device", "name", "details", "usable"]
    assert out[1].split()[0] == "cpu" and out[1].endswith("yes")
    assert out[2].startswith("cuda:0  Tesla T4") and "sm_75, 40 SMs, 14.8 GiB (14.4 GiB free)" in out[2]
    assert "driver 535.104.05" in out[2]  # the driver sits in the table row, not only in str(device)
    assert out[2].endswith("no")
    assert out[4] == "not usable:" and out[5].startswith("  cuda:0 Tesla T4: this GPU is sm_75")
    # The backend lists the GPU, but no kernel of this build runs on it: the default passes it over.
    assert out[-2] == "platform: local; default device: cpu"
    assert out[-1] == "no usable GPU: run `gputrain doctor` for why and what to do"


def test_devices_json(scenario, fake_build, capsys):
    nvidia_t4(scenario)
    assert cli.main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["default_device"] == "cuda:0" and data["platform"]["name"] == "local"
    assert [(d["id"], d["usable"]) for d in data["devices"]] == [("cpu", True), ("cuda:0", True)]
    assert data["devices"][1]["driver_cuda_version"] == "12.2"
    assert [row["backend"] for row in data["backends"]] == ["cpu", "cuda", "hip"]  # the modules' own view


def test_doctor_text_and_json(scenario, fake_build, capsys):
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8)
    assert cli.main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("gputrain doctor\n  platform: local")
    assert "[error] driver-missing\n  seen: no NVIDIA driver is installed: " in text
    assert cli.main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in data["findings"]] == ["driver-missing"]
    assert data["findings"][0]["action"].startswith("install the NVIDIA driver, 525.60.13 or newer")
    assert data["gpu_available"] is False and data["default_device"] == "cpu"


def test_module_on_this_machine():
    # Whatever this machine has: the CPU comes first, every GPU is usable or says why, and the doctor's
    # verdict agrees with the device list.
    devices = run_module("devices", "--json")
    assert devices.returncode == 0, devices.stderr
    data = json.loads(devices.stdout)
    assert data["devices"][0]["id"] == "cpu" and data["devices"][0]["usable"] is True
    for d in data["devices"][1:]:
        assert d["usable"] or d["reason"]
    doctor = run_module("doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["gpu_available"] == any(d["usable"] for d in data["devices"][1:])
    assert all(f["severity"] in ("error", "warning", "info") and f["seen"] and f["action"]
               for f in report["findings"])
    if not report["gpu_available"] and len(data["devices"]) == 1:
        assert "no-gpu" in [f["id"] for f in report["findings"]]
    text = run_module("doctor")
    assert text.returncode == 0 and text.stdout.startswith("gputrain doctor\n")


def test_module_in_a_container_without_gpu_access(tmp_path):
    root = FakeRoot(tmp_path / "root")
    root.write("/.dockerenv", "")
    root.pci("0000:00:1e.0", 0x10DE, 0x2236, driver="nvidia")
    missing = str(tmp_path / "absent.so")
    result = run_module("doctor", "--json", GPUTRAIN_PROBE_ROOT=str(root.root), GPUTRAIN_PROBE_LIBCUDA=missing,
                        GPUTRAIN_PROBE_LIBNVML=missing, GPUTRAIN_PROBE_LIBHIP=missing, CUDA_VISIBLE_DEVICES="",
                        GPUTRAIN_DEVICE="")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["platform"]["name"] == "docker"
    (finding,) = [f for f in report["findings"] if f["id"] == "container-no-gpu"]
    assert finding["action"].startswith("start the container with the GPU: docker run --gpus all")
    assert [d["pci_bus_id"] for d in report["devices"][1:]] == ["0000:00:1e.0"]


def test_real_gpu_when_required():
    # On a GPU machine (GPUTRAIN_REQUIRE_GPU=1, as the op tests use it) the probe must find and accept
    # the GPU through the real driver libraries; elsewhere there is nothing to check.
    if os.environ.get("GPUTRAIN_REQUIRE_GPU") != "1":
        pytest.skip("GPUTRAIN_REQUIRE_GPU is not 1: no real GPU to probe")
    report = gputrain.doctor()
    usable = [d for d in report.devices if d.is_gpu and d.usable]
    assert usable, str(report)
    d = usable[0]
    assert d.arch and d.memory_total and d.pci_bus_id and d.uuid and d.driver_version, repr(d)
    assert gputrain.is_gpu_available()
    gpu = gputrain.device_lib.list_local_devices()[1]
    assert gpu.name == "/device:GPU:0" and gpu.physical_device_desc.startswith(f"device: {d.index}, name: {d.name}")
