"""One pass over every layer the probe reads: platform, CPU, PCI bus, device nodes, the CUDA driver
API, NVML, the AMD KFD topology, the environment variables that steer devices and the frameworks
already loaded in this process. Devices and findings are both derived from one Snapshot."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from .. import settings
from . import access, amd, cpu, files, nvidia, nvml, pci
from .platform import Platform, detect_platform

ENV_VARS = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HSA_OVERRIDE_GFX_VERSION",
            "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
            "XLA_PYTHON_CLIENT_ALLOCATOR", "LD_LIBRARY_PATH") + tuple(settings.SETTINGS)
FRAMEWORKS = ("tensorflow", "jax", "torch")


@dataclass
class Snapshot:
    platform: Platform
    cpu: cpu.CpuInfo
    pci: list[pci.PciGpu]
    cuda: nvidia.CudaDriver
    nvml: nvml.Nvml
    amd: amd.AmdReport
    nvidia_nodes: list[str]  # /dev/nvidia0, /dev/nvidia1, ... (not nvidiactl or nvidia-uvm)
    nvidia_module: str | None  # the loaded kernel module's version, from /proc/driver/nvidia/version
    dxg: bool  # /dev/dxg: WSL2's paravirtualized GPU
    kfd: access.NodeAccess
    env: dict[str, str] = field(default_factory=dict)
    frameworks: list[str] = field(default_factory=list)
    pid: int = 0

    def pci_gpus(self, vendor: int) -> list[pci.PciGpu]:
        return [g for g in self.pci if g.vendor == vendor]

    @property
    def nvidia_hardware(self) -> bool:
        """Any sign of an NVIDIA GPU, with or without a working driver."""
        return bool(self.pci_gpus(pci.NVIDIA) or self.nvidia_nodes or self.nvidia_module
                    or self.cuda.devices or self.nvml.devices)

    @property
    def amd_hardware(self) -> bool:
        return bool(self.pci_gpus(pci.AMD) or self.amd.gpus or self.kfd.exists)


def _nvidia_module() -> str | None:
    text = files.read("/proc/driver/nvidia/version") or ""
    m = re.search(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)", text)
    return m.group(1) if m else None


def take() -> Snapshot:
    nodes = [f"/dev/{n}" for n in files.listdir("/dev") if re.fullmatch(r"nvidia\d+", n)]
    return Snapshot(
        platform=detect_platform(), cpu=cpu.probe(), pci=pci.gpus(), cuda=nvidia.probe(), nvml=nvml.probe(),
        amd=amd.probe(), nvidia_nodes=nodes, nvidia_module=_nvidia_module(), dxg=files.exists("/dev/dxg"),
        kfd=access.check("/dev/kfd"), env={k: os.environ[k] for k in ENV_VARS if k in os.environ},
        frameworks=[m for m in FRAMEWORKS if m in sys.modules], pid=os.getpid())
