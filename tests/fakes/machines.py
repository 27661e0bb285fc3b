"""Ready-made fake machines for the probe tests, built on a Scenario: what a Colab T4 runtime, a
driverless NVIDIA host or an AMD workstation looks like to the probe."""
from __future__ import annotations

from . import t4


def nvidia_t4(scenario, driver_cuda: int = 12020, driver: str = "535.104.05", **script) -> None:
    """One Tesla T4 with a working driver, libcuda and NVML (a Colab GPU runtime, less Colab itself)."""
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8, driver="nvidia", numa=-1)
    scenario.root.nvidia_driver(driver, gpus=1)
    scenario.use_cuda()
    scenario.use_nvml()
    scenario.script({"cuda.count": 1, "cuda.driver_version": driver_cuda, "nvml.count": 1, "nvml.driver": driver,
                     "nvml.cuda_version": driver_cuda, **t4(), **script})


def amd_card(scenario, target: int = 100301, kfd_mode: int = 0o666, render_mode: int = 0o666, **props) -> str:
    """One AMD GPU (default an RX 6700 XT, gfx1031) in the KFD topology with accessible device nodes
    and an installed HIP runtime. Returns its PCI bus id."""
    scenario.root.kfd_cpu_node(0)
    bus = scenario.root.kfd_gpu(1, gpu_id=41000, target=target, render_minor=128, unique_id=0x77AA, **props)
    scenario.root.dev_node("/dev/kfd", mode=kfd_mode, gid=109)
    scenario.root.dev_node("/dev/dri/renderD128", mode=render_mode, gid=109)
    scenario.use_hip(str(scenario.libs["fake_empty"]))
    return bus
