"""Device objects: the CPU, then every NVIDIA and AMD GPU the probe found (through the driver, NVML,
KFD or only the PCI bus), each with what it is, how busy it is, and whether this gputrain can run on
it, and if not, why and what to do."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import archs, build, files, fmt, issues, pci, visible
from .issues import Issue
from .snapshot import Snapshot


# The widest vector extension names the CPU's class in a summary; the full list stays in `simd`.
_SIMD_LEVELS = (("AMX", "AMX"), ("AVX-512F", "AVX-512"), ("AVX2", "AVX2"), ("AVX", "AVX"), ("SSE4.2", "SSE4.2"),
                ("SVE2", "SVE2"), ("SVE", "SVE"), ("NEON", "NEON"))


@dataclass
class GpuProcess:
    pid: int
    name: str | None  # None when the pid is in another PID namespace (a container sees host pids)
    memory: int | None  # bytes, None when the driver does not say


@dataclass(repr=False)
class Device:
    backend: str  # "cpu", "cuda" or "hip"
    index: int | None  # the N of "cuda:N"; None for a GPU this process cannot address
    name: str
    arch: str | None = None  # "sm_75", "gfx1031"; for the CPU its machine ("x86_64")
    compute_capability: str | None = None  # "7.5"; for AMD the gfx major.minor ("10.3")
    multiprocessors: int | None = None  # SMs (NVIDIA) or compute units (AMD)
    clock_mhz: int | None = None
    memory_total: int | None = None
    memory_free: int | None = None
    pci_bus_id: str | None = None  # "0000:00:04.0"
    numa_node: int | None = None
    uuid: str | None = None
    driver_version: str | None = None
    driver_cuda_version: str | None = None  # the newest CUDA the driver supports
    toolkit_version: str | None = None  # what this gputrain's backend was built with
    usable: bool = False
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    utilization: int | None = None  # percent
    temperature: int | None = None  # °C
    power_w: float | None = None
    power_limit_w: float | None = None
    processes: list[GpuProcess] | None = None
    cores: int | None = None  # CPU: cores this process may use
    physical_cores: int | None = None
    logical_cpus: int | None = None
    simd: list[str] | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def id(self) -> str:
        """'cpu', 'cuda:0', 'hip:1'; '-' for a GPU with no index in this process."""
        if self.backend == "cpu":
            return "cpu"
        return f"{self.backend}:{self.index}" if self.index is not None else "-"

    @property
    def is_gpu(self) -> bool:
        return self.backend != "cpu"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["id"] = self.id
        data["issues"] = [asdict(i) for i in self.issues]
        return data

    def summary(self) -> str:
        """One line: what the device is."""
        if not self.is_gpu:
            level = next((label for feature, label in _SIMD_LEVELS if feature in (self.simd or [])), None)
            parts = [f"{self.cores} of {self.logical_cpus} cores", level, f"{fmt.size(self.memory_total)} memory"]
        else:
            unit = "SMs" if self.backend == "cuda" else "CUs"
            memory = fmt.size(self.memory_total) if self.memory_total else None
            if memory and self.memory_free is not None:
                memory += f" ({fmt.size(self.memory_free)} free)"
            parts = [self.arch, f"{self.multiprocessors} {unit}" if self.multiprocessors else None, memory,
                     f"{self.pci_bus_id}" if self.pci_bus_id else None,
                     f"driver {self.driver_version}" if self.driver_version else None]
        return ", ".join(p for p in parts if p)

    def __repr__(self) -> str:
        state = "usable" if self.usable else "not usable"
        return f"<Device {self.id} {self.name!r}: {self.summary()}; {state}>"

    def __str__(self) -> str:
        lines = [f"{self.id}  {self.name}", f"  {self.summary()}"]
        if not self.is_gpu and self.simd:
            lines.append(f"  SIMD: {' '.join(self.simd)}")
        if self.is_gpu:
            driver = [f"driver {self.driver_version}" if self.driver_version else None,
                      f"supports CUDA {self.driver_cuda_version}" if self.driver_cuda_version else None,
                      f"gputrain built with {build.NAMES[self.backend]} {self.toolkit_version}"
                      if self.toolkit_version else None]
            if any(driver):
                lines.append("  " + ", ".join(d for d in driver if d))
            live = [f"{self.utilization}% busy" if self.utilization is not None else None,
                    f"{self.temperature} °C" if self.temperature is not None else None,
                    f"{self.power_w:.0f} W" + (f" of {self.power_limit_w:.0f} W" if self.power_limit_w else "")
                    if self.power_w is not None else None]
            if any(live):
                lines.append("  " + ", ".join(x for x in live if x))
            for p in self.processes or []:
                lines.append(f"  process {p.pid} ({p.name or '?'}) holds {fmt.size(p.memory)}")
        lines.append("  usable" if self.usable else f"  not usable: {self.reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return table_html([self])


def _label(vendor: str, name: str, arch: str | None = None) -> str:
    """'the NVIDIA GPU Tesla T4', 'the AMD Radeon RX 6700 XT (gfx1031)': the vendor once, the arch once."""
    text = f"the {name}" if name.startswith(vendor) else f"the {vendor} GPU {name}"
    return text + (f" ({arch})" if arch and arch not in name else "")


def _processes(held: list[tuple[int, int | None]]) -> list[GpuProcess]:
    return [GpuProcess(pid=pid, name=files.read_line(f"/proc/{pid}/comm"), memory=used) for pid, used in held]


def _settle(dev: Device, found: list[Issue | None]) -> Device:
    dev.issues = [i for i in found if i is not None]
    dev.usable = not dev.issues
    dev.reason = dev.issues[0].reason if dev.issues else None
    return dev


def cpu_device(snap: Snapshot) -> Device:
    c = snap.cpu
    dev = Device(backend="cpu", index=0, name=c.model, arch=c.machine, memory_total=c.memory_total,
                 memory_free=c.memory_available, usable=True, cores=c.cores, physical_cores=c.physical_cores,
                 logical_cpus=c.logical_cpus, simd=list(c.simd))
    return _settle(dev, [issues.core_module()])


def _nvidia(snap: Snapshot) -> list[Device]:
    built = build.is_built("cuda")
    toolkit = build.backend_info("cuda").get("toolkit_version") if built else None
    common = dict(driver_version=snap.nvml.driver_version or snap.nvidia_module,
                  driver_cuda_version=archs.cuda_version_text(snap.cuda.driver_version
                                                              or snap.nvml.cuda_driver_version),
                  toolkit_version=toolkit)
    out: list[Device] = []
    claimed_nvml, claimed_bus = set(), set()
    for d in snap.cuda.devices:
        n = snap.nvml.by_uuid(d.uuid) or snap.nvml.by_bus_id(d.pci_bus_id)
        if n is not None:
            claimed_nvml.add(n.index)
        claimed_bus.add(d.pci_bus_id)
        cc = d.compute_capability
        dev = Device(backend="cuda", index=d.index, name=d.name or (n.name if n else None) or "NVIDIA GPU",
                     arch=f"sm_{cc[0]}{cc[1]}" if cc else None,
                     compute_capability=f"{cc[0]}.{cc[1]}" if cc else None, multiprocessors=d.multiprocessors,
                     clock_mhz=d.clock_mhz or (n.max_clock_mhz if n else None),
                     memory_total=d.memory_total or (n.memory_total if n else None),
                     memory_free=n.memory_free if n else None, pci_bus_id=d.pci_bus_id,
                     numa_node=pci.numa_node(d.pci_bus_id), uuid=d.uuid, **common)
        _live(dev, n)
        dev.notes.extend(d.errors + (n.errors if n else []))
        found: list[Issue | None] = [issues.no_backend("cuda", _label("NVIDIA", dev.name))]
        if built:
            found.append(issues.nvidia_driver(snap))
            if cc:
                arch_issue, note = issues.cuda_arch(cc, snap)
                found.append(arch_issue)
                if note:
                    dev.notes.append(note)
            if not any(found):
                found.append(issues.backend_module("cuda", d.index))
            if not any(found):
                found.append(issues.kernel_failure("cuda", d.index, dev.name, dev.arch))
        out.append(_settle(dev, found))
    for n in snap.nvml.devices:
        if n.index in claimed_nvml:
            continue
        claimed_bus.add(n.pci_bus_id)
        dev = Device(backend="cuda", index=None, name=n.name or "NVIDIA GPU", memory_total=n.memory_total,
                     memory_free=n.memory_free, pci_bus_id=n.pci_bus_id, numa_node=pci.numa_node(n.pci_bus_id),
                     uuid=n.uuid, clock_mhz=n.max_clock_mhz, **common)
        _live(dev, n)
        out.append(_settle(dev, [issues.no_backend("cuda", _label("NVIDIA", dev.name)), _unreachable(snap)]))
    for g in snap.pci_gpus(pci.NVIDIA):
        if g.bus_id in claimed_bus:
            continue
        dev = Device(backend="cuda", index=None, name=g.name, pci_bus_id=g.bus_id, numa_node=g.numa_node,
                     **common)
        out.append(_settle(dev, [issues.no_backend("cuda", f"an NVIDIA GPU ({g.bus_id})"),
                                 issues.pci_binding(g) or _unreachable(snap)]))
    return out


def _unreachable(snap: Snapshot) -> Issue:
    """Why a GPU that NVML or the PCI bus shows has no CUDA index here."""
    if snap.cuda.initialized:
        return issues.hidden_nvidia(snap) or Issue(
            "devices-hidden", "warning",
            "the CUDA driver does not list this GPU although NVML or the PCI bus does",
            "check CUDA_VISIBLE_DEVICES and `nvidia-smi`; MIG mode or a GPU in use by a VM hides a GPU from "
            "CUDA")
    return issues.nvidia_driver(snap)


def _live(dev: Device, n) -> None:
    if n is None:
        return
    dev.utilization, dev.temperature = n.utilization, n.temperature
    dev.power_w, dev.power_limit_w = n.power_w, n.power_limit_w
    dev.processes = _processes(n.processes)


def _amd(snap: Snapshot) -> list[Device]:
    built = build.is_built("hip")
    toolkit = build.backend_info("hip").get("toolkit_version") if built else None
    order, narrowed_by = visible.amd_visible(snap.env, [g.uuid for g in snap.amd.gpus])
    out: list[Device] = []
    for phys, g in enumerate(snap.amd.gpus):
        index = order.index(phys) if phys in order else None
        free = g.vram_total - g.vram_used if g.vram_total is not None and g.vram_used is not None else None
        dev = Device(backend="hip", index=index, name=g.name, arch=g.gfx,
                     compute_capability=f"{g.gfx_version[0]}.{g.gfx_version[1]}", multiprocessors=g.compute_units,
                     clock_mhz=g.clock_mhz, memory_total=g.vram_total, memory_free=free, pci_bus_id=g.pci_bus_id,
                     numa_node=g.numa_node, uuid=g.uuid, driver_version=snap.amd.driver_version,
                     toolkit_version=toolkit, utilization=g.utilization, temperature=g.temperature,
                     power_w=g.power_w, power_limit_w=g.power_limit_w, processes=_processes(g.processes))
        found: list[Issue | None] = [issues.no_backend("hip", _label("AMD", g.name, g.gfx))]
        if built:
            found += [issues.amd_driver(snap, True), issues.amd_access(snap, g.render_node)]
            if index is None:
                values = ", ".join(f"{v}={snap.env[v]!r}" for v in narrowed_by)
                found.append(Issue("devices-hidden", "warning", f"{values} hides this GPU (KFD node {g.node})",
                                   f"unset {' and '.join(narrowed_by)} (or list this GPU) before Python starts"))
            found.append(issues.hip_arch(g.gfx, snap))
            if not any(found):
                found.append(issues.backend_module("hip", index))
            if not any(found):
                found.append(issues.kernel_failure("hip", index, dev.name, dev.arch))
        out.append(_settle(dev, found))
    in_topology = {g.pci_bus_id for g in snap.amd.gpus}
    for g in snap.pci_gpus(pci.AMD):
        if g.bus_id not in in_topology:
            dev = Device(backend="hip", index=None, name=g.name, pci_bus_id=g.bus_id, numa_node=g.numa_node)
            out.append(_settle(dev, [issues.no_backend("hip", f"an AMD GPU ({g.bus_id})"),
                                     issues.amd_driver(snap, False)]))
    return out


def from_snapshot(snap: Snapshot) -> list[Device]:
    return [cpu_device(snap)] + _nvidia(snap) + _amd(snap)


def table_rows(devices: list[Device]) -> list[list[str]]:
    return [[d.id, d.name, d.summary(), "yes" if d.usable else "no"] for d in devices]


TABLE_HEADER = ["device", "name", "details", "usable"]


def table_text(devices: list[Device], reasons: bool = True) -> str:
    """The table, then why each unusable device is so (left out where findings say it already)."""
    text = fmt.table(table_rows(devices), TABLE_HEADER)
    why = [f"{d.id} {d.name}: {d.reason}" for d in devices if not d.usable] if reasons else []
    notes = [f"{d.id}: {n}" for d in devices for n in d.notes]
    return "\n".join([text] + (["", "not usable:"] + [f"  {r}" for r in why] if why else [])
                     + (["", "notes:"] + [f"  {n}" for n in notes] if notes else []))


def table_html(devices: list[Device]) -> str:
    rows = [r + [d.reason or ""] for r, d in zip(table_rows(devices), devices)]
    return fmt.html_table(rows, TABLE_HEADER + ["reason"])


class DeviceList(list):
    """A list of Device that shows as a table in a notebook and in print()."""

    def __str__(self) -> str:
        return table_text(list(self))

    def _repr_html_(self) -> str:
        return table_html(list(self))
