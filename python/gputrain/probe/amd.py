"""AMD GPUs from the kernel's KFD topology (gfx target version, SIMDs, clock, PCI location, render
node), the amdgpu sysfs files of each PCI device (VRAM, busy percent, hwmon) and per-process VRAM. The
HIP runtime is never called: libamdhip64 is only loaded, to learn whether ROCm is installed."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import files, libs, pci

TOPOLOGY = "/sys/class/kfd/kfd/topology/nodes"
_AMDGPU_IDS = ("/usr/share/libdrm/amdgpu.ids", "/opt/amdgpu/share/libdrm/amdgpu.ids")


@dataclass
class AmdGpu:
    node: int
    gpu_id: int
    gfx: str  # 'gfx1031'
    gfx_version: tuple[int, int, int]  # (10, 3, 1)
    name: str
    compute_units: int | None = None
    wavefront_size: int | None = None
    clock_mhz: int | None = None
    pci_bus_id: str | None = None
    numa_node: int | None = None
    unique_id: str | None = None
    render_minor: int | None = None
    vram_total: int | None = None
    vram_used: int | None = None
    utilization: int | None = None
    temperature: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    processes: list[tuple[int, int | None]] = field(default_factory=list)

    @property
    def render_node(self) -> str | None:
        return f"/dev/dri/renderD{self.render_minor}" if self.render_minor is not None else None

    @property
    def uuid(self) -> str | None:
        # The form ROCR_VISIBLE_DEVICES accepts and rocm-smi prints: GPU- and 16 hex digits.
        return f"GPU-{self.unique_id}" if self.unique_id else None


@dataclass
class AmdReport:
    kfd_present: bool
    gpus: list[AmdGpu]
    hip_library: str | None  # None when there was no AMD GPU to load it for
    hip_load_error: str | None
    driver_version: str | None  # amdgpu DKMS module version; None for the in-kernel driver


def gfx_name(target_version: int) -> tuple[str, tuple[int, int, int]]:
    """KFD's gfx_target_version (major*10000 + minor*100 + stepping) → ('gfx90a', (9, 0, 10)).
    Minor and stepping are written in hex in the name, as LLVM's processor names are."""
    major, minor, step = target_version // 10000, (target_version // 100) % 100, target_version % 100
    return f"gfx{major}{minor:x}{step:x}", (major, minor, step)


def marketing_name(device_id: int, revision: int | None) -> str | None:
    """libdrm's amdgpu.ids maps (device id, revision) to the product name HIP reports."""
    for candidate in _AMDGPU_IDS:
        text = files.read(candidate, 4 << 20)
        if text is None:
            continue
        fallback = None
        for line in text.splitlines():
            parts = [p.strip() for p in line.split(",", 2)]
            if len(parts) != 3 or line.startswith("#"):
                continue
            try:
                dev, rev = int(parts[0], 16), int(parts[1], 16)
            except ValueError:
                continue
            if dev == device_id:
                if revision is not None and rev == revision:
                    return parts[2]
                fallback = fallback or parts[2]
        return fallback
    return None


def _bus_id(props: dict[str, str]) -> str | None:
    try:
        location = int(props["location_id"])
        domain = int(props.get("domain", "0"))
    except (KeyError, ValueError):
        return None
    # location_id is the PCI bus number and devfn packed as bus << 8 | device << 3 | function.
    return f"{domain:04x}:{location >> 8:02x}:{(location >> 3) & 0x1F:02x}.{location & 7:x}"


def _int(props: dict[str, str], key: str) -> int | None:
    try:
        return int(props[key])
    except (KeyError, ValueError):
        return None


def _hwmon(base: str) -> tuple[int | None, float | None, float | None]:
    """(temperature °C, power W, power cap W) from the device's first hwmon directory."""
    for entry in files.listdir(f"{base}/hwmon"):
        hw = f"{base}/hwmon/{entry}"
        temp = files.read_int(f"{hw}/temp1_input")  # millidegrees
        power = files.read_int(f"{hw}/power1_average")
        if power is None:
            power = files.read_int(f"{hw}/power1_input")  # RDNA3 and later report this one
        cap = files.read_int(f"{hw}/power1_cap")  # microwatts
        return (temp // 1000 if temp is not None else None,
                power / 1e6 if power is not None else None,
                cap / 1e6 if cap is not None else None)
    return None, None, None


def _processes(gpu_id: int) -> list[tuple[int, int | None]]:
    held = []
    for pid in files.listdir("/sys/class/kfd/kfd/proc"):
        if pid.isdigit():
            used = files.read_int(f"/sys/class/kfd/kfd/proc/{pid}/vram_{gpu_id}")
            if used:
                held.append((int(pid), used))
    return held


def _gpu(node: int) -> AmdGpu | None:
    base = f"{TOPOLOGY}/{node}"
    props = files.key_values(files.read(f"{base}/properties"))
    gpu_id = files.read_int(f"{base}/gpu_id")
    target = _int(props, "gfx_target_version")
    if not gpu_id or not target:
        return None  # a CPU node
    gfx, version = gfx_name(target)
    bus_id = _bus_id(props)
    dev_dir = f"/sys/bus/pci/devices/{bus_id}"
    device_id = _int(props, "device_id") or files.read_int(f"{dev_dir}/device") or 0
    name = (files.read_line(f"{dev_dir}/product_name")
            or marketing_name(device_id, files.read_int(f"{dev_dir}/revision"))
            or pci.lookup_name(pci.AMD, device_id) or f"AMD GPU ({gfx})")
    simd, per_cu = _int(props, "simd_count"), _int(props, "simd_per_cu")
    unique = _int(props, "unique_id")
    vram_total = files.read_int(f"{dev_dir}/mem_info_vram_total")
    if vram_total is None:
        banks = files.key_values(files.read(f"{base}/mem_banks/0/properties"))
        vram_total = _int(banks, "size_in_bytes")
    temp, power, cap = _hwmon(dev_dir)
    return AmdGpu(
        node=node, gpu_id=gpu_id, gfx=gfx, gfx_version=version, name=name,
        compute_units=simd // per_cu if simd and per_cu else None,
        wavefront_size=_int(props, "wave_front_size"),
        clock_mhz=_int(props, "max_engine_clk_fcompute"),
        pci_bus_id=bus_id, numa_node=pci.numa_node(bus_id), unique_id=f"{unique:016x}" if unique else None,
        render_minor=_int(props, "drm_render_minor"),
        vram_total=vram_total, vram_used=files.read_int(f"{dev_dir}/mem_info_vram_used"),
        utilization=files.read_int(f"{dev_dir}/gpu_busy_percent"),
        temperature=temp, power_w=power, power_limit_w=cap, processes=_processes(gpu_id))


def probe() -> AmdReport:
    nodes = sorted(int(n) for n in files.listdir(TOPOLOGY) if n.isdigit())
    gpus = [g for g in (_gpu(n) for n in nodes) if g is not None]
    name = error = None
    if gpus:
        # Loaded only to learn whether the ROCm runtime is installed; never called, because HIP's
        # first call initializes the whole runtime.
        _, name, error = libs.load("hip")
    return AmdReport(kfd_present=files.is_dir("/sys/class/kfd/kfd/topology"), gpus=gpus,
                     hip_library=name, hip_load_error=error,
                     driver_version=files.read_line("/sys/module/amdgpu/version"))
