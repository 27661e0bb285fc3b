"""Build record, lazy GPU modules, default device and the no-device path of each GPU backend."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gputrain
from gputrain import _backends


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_build_info_records_version_and_cpu():
    info = gputrain.build_info()
    assert info["version"] == gputrain.__version__
    cpu = info["backends"]["cpu"]
    assert cpu["built"] is True and cpu["compiler"] and "-O" in cpu["flags"]
    for backend in ("cuda", "hip"):
        entry = info["backends"][backend]
        assert isinstance(entry["built"], bool) and entry["status"]
        if entry["built"]:
            assert entry["toolkit_version"] and entry["architectures"]


def test_expected_backends_were_built():
    # CI names the backends it built (GPUTRAIN_EXPECT_BACKENDS=cpu,cuda,hip); a silent AUTO fallback fails.
    expected = [b for b in os.environ.get("GPUTRAIN_EXPECT_BACKENDS", "cpu").split(",") if b]
    built = [name for name, entry in gputrain.build_info()["backends"].items() if entry["built"]]
    assert set(expected) <= set(built), f"expected {expected} built, build_info says {built}"
    assert gputrain.is_built_with_cuda() == ("cuda" in built)
    assert gputrain.is_built_with_rocm() == ("hip" in built)


def test_import_loads_core_only():
    result = run_python("import sys, gputrain; print(sorted(m for m in sys.modules if m.startswith('gputrain.')))")
    assert result.returncode == 0, result.stderr
    loaded = eval(result.stdout)
    assert "gputrain._core" in loaded
    assert "gputrain._cuda" not in loaded and "gputrain._hip" not in loaded


def test_gpu_module_that_fails_to_load_is_a_recorded_reason():
    # A finder that makes both GPU modules fail as a missing runtime library would.
    code = """
import sys
class Broken:
    def find_spec(self, name, path=None, target=None):
        if name in ("gputrain._cuda", "gputrain._hip"):
            raise ImportError("libfake.so.1: cannot open shared object file")
sys.meta_path.insert(0, Broken())
import gputrain
from gputrain import _backends
for b in ("cuda", "hip"):
    print(b, _backends.load_backend(b), gputrain.backend_reason(b))
print(gputrain.default_device())
"""
    result = run_python(code, GPUTRAIN_DEVICE="")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for line, backend in zip(lines, ("cuda", "hip")):
        assert line.startswith(f"{backend} False ")
        if _backends.is_built(backend):
            assert "failed to load" in line and "libfake.so.1" in line
        else:
            assert "built without" in line
    assert lines[-1] == "cpu"


@pytest.mark.parametrize("backend", ["cuda", "hip"])
def test_gpu_module_without_device_reports_it_cleanly(backend):
    if not _backends.is_built(backend):
        pytest.skip(f"this build has no {backend} backend")
    assert _backends.load_backend(backend), gputrain.backend_reason(backend)
    status = _backends.backend_status(backend)
    if status["device_count"] > 0:
        assert status["reason"] is None and status["devices"][0]["name"]
        return
    # No device: a reason naming the runtime's error, and ops raise DeviceUnavailableError with it.
    assert status["reason"] and ("no" in status["reason"])
    assert f"{backend}GetDeviceCount" in status["reason"], status["reason"]  # the vendor's own call names
    with pytest.raises(gputrain.DeviceUnavailableError, match=f"{backend}:0"):
        gputrain.ops.add(np.ones(2, np.float32), np.ones(2, np.float32), device=f"{backend}:0")


def test_cuda_module_links_its_runtime_statically():
    # Colab and Kaggle images ship drivers whose CUDA runtime differs from the toolkit that built us, and
    # a machine without a GPU has none: the module must not need libcudart (nor libcuda: the runtime
    # opens the driver itself when a GPU is used).
    if not _backends.is_built("cuda"):
        pytest.skip("this build has no cuda backend")
    if shutil.which("readelf") is None:
        pytest.skip("readelf is not on PATH")
    spec = importlib.util.find_spec("gputrain._cuda")
    dynamic = subprocess.run(["readelf", "-d", spec.origin], capture_output=True, text=True, timeout=60)
    assert dynamic.returncode == 0, dynamic.stderr
    needed = [line.split("[", 1)[1].rstrip("]") for line in dynamic.stdout.splitlines() if "(NEEDED)" in line]
    assert needed and not [lib for lib in needed if lib.startswith(("libcudart", "libcuda."))], needed


def test_default_device_honours_environment():
    result = run_python("import gputrain; print(gputrain.default_device())", GPUTRAIN_DEVICE="cpu")
    assert result.returncode == 0 and result.stdout.strip() == "cpu"
    result = run_python("import gputrain; gputrain.default_device()", GPUTRAIN_DEVICE="tpu:0")
    assert result.returncode != 0 and "ValueError" in result.stderr and "tpu" in result.stderr


def test_default_device_is_first_usable():
    expected = next((f"{b}:0" for b in ("cuda", "hip") if _backends.is_usable(b)), "cpu")
    result = run_python("import gputrain; print(gputrain.default_device())", GPUTRAIN_DEVICE="")
    assert result.stdout.strip() == expected, result.stderr


def test_cli_devices_json():
    result = subprocess.run([sys.executable, "-m", "gputrain", "devices", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["backend"]: row for row in report["backends"]}
    assert rows["cpu"]["device_count"] == 1
    for backend in ("cuda", "hip"):
        assert rows[backend]["built"] == _backends.is_built(backend)
        assert rows[backend]["device_count"] > 0 or rows[backend]["reason"]


@pytest.fixture
def fresh_registry():
    """The default device is resolved once and kept: these tests resolve it afresh from what they fake,
    and leave nothing of it behind for later tests."""
    _backends.refresh_devices()
    yield
    _backends.refresh_devices()


def test_default_device_passes_over_a_gpu_whose_kernels_do_not_run(monkeypatch, fresh_registry):
    # A listed device whose architecture this build lacks fails its first kernel launch: the default
    # device must fall back, and say why, rather than fail later inside fit.
    monkeypatch.delenv("GPUTRAIN_DEVICE", raising=False)
    monkeypatch.setattr(_backends, "is_usable", lambda backend: backend == "cuda")
    monkeypatch.setattr(_backends, "_kernel_checks", {})
    monkeypatch.setattr(_backends, "_warned", set())

    def no_kernel_image(a, b, device):
        raise gputrain._core.GPUError("add: cudaErrorNoKernelImageForDevice (no kernel image is available)")

    monkeypatch.setattr(_backends._core, "add", no_kernel_image)
    with pytest.warns(RuntimeWarning, match=r"cuda:0 is present but gputrain's kernels do not run on it "
                                            r"\(GPUError: add: cudaErrorNoKernelImageForDevice"):
        assert _backends.default_device() == "cpu"
    assert not _backends.kernels_run("cuda")
    assert "no kernel image" in _backends.kernel_reason("cuda")


def test_default_device_uses_a_gpu_whose_kernels_run(monkeypatch, fresh_registry):
    monkeypatch.delenv("GPUTRAIN_DEVICE", raising=False)
    monkeypatch.setattr(_backends, "is_usable", lambda backend: backend == "hip")
    monkeypatch.setattr(_backends, "_kernel_checks", {})
    monkeypatch.setattr(_backends._core, "add", lambda a, b, device: a + b)
    assert _backends.default_device() == "hip:0"
    assert _backends.kernel_reason("hip") is None
