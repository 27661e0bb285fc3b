"""Pytest fixtures for the probe tests: the compiled fake libraries (once per session), a clean
environment pointing the probe at a FakeRoot, and a fake build record."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import FakeRoot, compile_libraries, write_script

# Everything the probe reads from the environment, cleared so that the machine running the tests
# (a Colab runtime, a CI container) cannot leak into a scenario.
_PROBE_ENV_PREFIXES = ("COLAB_", "KAGGLE_", "PAPERSPACE_", "SAGEMAKER_", "SM_")
_PROBE_ENV = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HSA_OVERRIDE_GFX_VERSION",
              "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
              "XLA_PYTHON_CLIENT_ALLOCATOR", "GPUTRAIN_DEVICE", "TRAINING_JOB_NAME", "WSL_DISTRO_NAME",
              "container", "GPUTRAIN_PROBE_TIMEOUT")


@pytest.fixture(scope="session")
def fake_libs(tmp_path_factory) -> dict[str, Path]:
    return compile_libraries(tmp_path_factory.mktemp("fake-libs"))


class Scenario:
    """One test's fake machine: root tree, library choice, script, and call log."""

    def __init__(self, root: FakeRoot, libs: dict[str, Path], tmp: Path, monkeypatch):
        self.root, self.libs, self.tmp, self._mp = root, libs, tmp, monkeypatch
        self.script_path = tmp / "script.txt"
        self.log_path = tmp / "calls.log"
        self.script({})
        monkeypatch.setenv("FAKE_GPU_SCRIPT", str(self.script_path))
        monkeypatch.setenv("FAKE_GPU_LOG", str(self.log_path))

    def script(self, entries: dict) -> None:
        write_script(self.script_path, entries)

    def use_cuda(self, library: str = "fake_libcuda") -> None:
        self._mp.setenv("GPUTRAIN_PROBE_LIBCUDA", str(self.libs[library]))

    def use_nvml(self, library: str = "fake_nvml") -> None:
        self._mp.setenv("GPUTRAIN_PROBE_LIBNVML", str(self.libs[library]))

    def use_hip(self, path: str) -> None:
        self._mp.setenv("GPUTRAIN_PROBE_LIBHIP", path)

    def during_cpu_window(self, change) -> None:
        """The doctor's CPU-load window: instead of sleeping, call change() to move the fake /proc on to
        its state at the end of the window."""
        from gputrain.probe import cpu_load

        self._mp.setattr(cpu_load, "_sleep", lambda seconds: change())

    def calls(self) -> list[str]:
        return self.log_path.read_text().split() if self.log_path.exists() else []


@pytest.fixture
def scenario(tmp_path, monkeypatch, fake_libs) -> Scenario:
    """A FakeRoot with no GPU and no driver libraries (each hook names a file that does not exist)."""
    for key in list(os.environ):
        if key in _PROBE_ENV or key.startswith(_PROBE_ENV_PREFIXES):
            monkeypatch.delenv(key)
    root = FakeRoot(tmp_path / "root")
    monkeypatch.setenv("GPUTRAIN_PROBE_ROOT", str(root.root))
    missing = str(tmp_path / "no-such-library.so")
    for hook in ("GPUTRAIN_PROBE_LIBCUDA", "GPUTRAIN_PROBE_LIBNVML", "GPUTRAIN_PROBE_LIBHIP"):
        monkeypatch.setenv(hook, missing)
    return Scenario(root, fake_libs, tmp_path, monkeypatch)


class FakeBuild:
    """Stands in for this gputrain's build record and its backend modules, in gputrain._backends itself,
    so the real default_device() and is_built() run on it. Unless a test sets modules[backend], a
    module sees the devices the fake driver reports, as a real module sees what its driver does."""

    def __init__(self):
        self.backends = {
            "cpu": {"built": True, "status": "built"},
            "cuda": {"built": True, "status": "built", "toolkit_version": "12.4.131",
                     "architectures": "75,80-real,86-real"},
            "hip": {"built": True, "status": "built", "toolkit_version": "6.1.40091",
                    "architectures": "gfx1030,gfx1100"},
        }
        self.modules: dict[str, dict] = {}
        self.kernel_failures: dict[str, str] = {}  # backend -> why its test kernel fails (set by a test)
        self.kernel_launches: list[str] = []  # backends a test kernel was launched on

    def kernel_reason(self, backend: str) -> str | None:
        """As _backends.kernel_reason: why a kernel launched in this process failed, once one was."""
        return self.kernel_failures.get(backend) if backend in self.kernel_launches else None

    def without(self, backend: str, status: str) -> None:
        self.backends[backend] = {"built": False, "status": status}

    def kernels_run(self, backend: str) -> bool:
        """A fake GPU runs our kernels where the probe finds it usable (the build covers its arch), unless
        the test set a failure."""
        import gputrain
        self.kernel_launches.append(backend)
        if backend in self.kernel_failures:
            return False
        return any(d.backend == backend and d.index == 0 and d.usable for d in gputrain.devices())

    def build_info(self) -> dict:
        return {"version": "0.0.0-test", "backends": {k: dict(v) for k, v in self.backends.items()}}

    def backend_status(self, backend: str) -> dict:
        from gputrain.probe import amd, nvidia, visible

        if backend == "cpu":
            return {"loaded": True, "reason": None, "device_count": 1, "devices": [{"index": 0, "name": "cpu"}]}
        if not self.backends[backend]["built"]:
            return {"loaded": False, "reason": f"this gputrain was built without {backend}", "device_count": 0}
        if backend in self.modules:
            return dict(self.modules[backend])
        if backend == "cuda":
            driver = nvidia.probe()
            toolkit = int(self.backends["cuda"]["toolkit_version"].split(".")[0])
            if driver.cuda_version and driver.cuda_version[0] < toolkit:  # as the CUDA runtime refuses it
                return {"loaded": True, "device_count": 0, "error": "cudaErrorInsufficientDriver",
                        "reason": "no NVIDIA driver is loaded on this machine (cudaErrorInsufficientDriver)"}
            count = len(driver.devices)
        else:
            gpus = amd.probe().gpus
            count = len(visible.amd_visible(dict(os.environ), [g.uuid for g in gpus])[0])
        return {"loaded": True, "device_count": count, "error": None,
                "reason": None if count else f"the fake {backend} module sees no device"}


FAKE_SOURCE = "git+https://example.org/gputrain.git@0123abc"
INSTALL = f'pip install --force-reinstall --no-cache-dir "{FAKE_SOURCE}"'


@pytest.fixture
def fake_build(monkeypatch) -> FakeBuild:
    from gputrain import _backends
    from gputrain.probe import build as probe_build

    fake = FakeBuild()
    monkeypatch.setattr(_backends, "build_info", fake.build_info)
    monkeypatch.setattr(_backends, "backend_status", fake.backend_status)
    monkeypatch.setattr(_backends, "kernels_run", fake.kernels_run)
    monkeypatch.setattr(_backends, "kernel_reason", fake.kernel_reason)
    # Where the reinstall commands of findings say gputrain comes from.
    monkeypatch.setattr(probe_build, "install_source", lambda: FAKE_SOURCE)
    monkeypatch.setattr(_backends, "_warned", set())  # the fallback warning is this test's alone
    return fake
