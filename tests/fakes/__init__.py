"""Test doubles for the device probe: fake driver libraries compiled from the C files here with the
system `cc`, scripts that drive them, and FakeRoot, a fake /sys, /proc, /dev and /etc tree for
GPUTRAIN_PROBE_ROOT."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARIES = ("fake_libcuda", "fake_nvml", "fake_empty")


def compile_libraries(out: Path) -> dict[str, Path]:
    """Each fake as a shared library in `out`. The files carry no SONAME and names unlike the real
    libraries, so the real CUDA runtime in gputrain._cuda can never pick one up by name."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("the probe tests need a C compiler (cc) to build the fake driver libraries")
    built = {}
    for name in LIBRARIES:
        target = out / f"{name}.so"
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-Wall", "-o", str(target), str(HERE / f"{name}.c")],
                       check=True, capture_output=True, text=True, timeout=120)
        built[name] = target
    return built


def write_script(path: Path, entries: dict) -> Path:
    """The `key=value` script that fake_script.h reads."""
    path.write_text("".join(f"{k}={v}\n" for k, v in entries.items()))
    return path


def t4(gpu: int = 0, **overrides) -> dict:
    """Script entries for a Colab-style Tesla T4 as scripted device gpu.<gpu>."""
    fields = {"name": "Tesla T4", "cc": 75, "sms": 40, "clock_khz": 1590000, "memory": 15843721216,
              "free": 15509831680, "pci": "0000:00:04.0", "uuid": "GPU-5c5e1d6a-8f0e-4b51-9d3a-0123456789ab",
              "util": 3, "temp": 44, "power_mw": 9800, "power_limit_mw": 70000, "max_sm_clock": 1590}
    fields.update(overrides)
    return {f"gpu.{gpu}.{k}": v for k, v in fields.items()}


class FakeRoot:
    """A directory standing in for `/`: everything the probe reads, written by the test."""

    def __init__(self, root: Path):
        self.root = root
        self.user(uid=1000, gid=1000, groups=(1000,))
        self.write("/etc/group", "root:x:0:\nvideo:x:44:\nrender:x:109:\nuser:x:1000:\n")
        self.cpuinfo("Intel(R) Xeon(R) CPU @ 2.20GHz", cpus=2, flags="fpu sse4_2 avx avx2 fma")
        self.meminfo(total_kib=13290452, available_kib=12000000)
        self.uptime(started_ago=600.0)
        self.write("/proc/sys/kernel/osrelease", "6.1.85+\n")
        (root / "dev").mkdir(parents=True, exist_ok=True)
        (root / "sys/bus/pci/devices").mkdir(parents=True, exist_ok=True)

    def file(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def write(self, p: str, text: str) -> Path:
        target = self.file(p)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def mkdir(self, p: str) -> Path:
        target = self.file(p)
        target.mkdir(parents=True, exist_ok=True)
        return target

    def remove(self, p: str) -> None:
        target = self.file(p)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def user(self, uid: int, gid: int, groups=(), cpus: str = "0-1") -> None:
        groups_text = " ".join(str(g) for g in groups)
        self.write("/proc/self/status", f"Name:\tpython\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
                                        f"Gid:\t{gid}\t{gid}\t{gid}\t{gid}\nGroups:\t{groups_text}\n"
                                        f"Cpus_allowed_list:\t{cpus}\n")

    def cpuinfo(self, model: str, cpus: int, flags: str, cores_per_socket: int | None = None) -> None:
        blocks = []
        for i in range(cpus):
            core = i % cores_per_socket if cores_per_socket else i
            blocks.append(f"processor\t: {i}\nmodel name\t: {model}\nphysical id\t: 0\ncore id\t\t: {core}\n"
                          f"flags\t\t: {flags}\n")
        self.write("/proc/cpuinfo", "\n".join(blocks) + "\n")

    def meminfo(self, total_kib: int, available_kib: int) -> None:
        self.write("/proc/meminfo", f"MemTotal:       {total_kib} kB\nMemFree:        1000 kB\n"
                                    f"MemAvailable:   {available_kib} kB\n")

    def uptime(self, started_ago: float, uptime: float = 100000.0) -> None:
        """PID 1 started `started_ago` seconds before now, on a machine up for `uptime` seconds."""
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(round((uptime - started_ago) * ticks))
        # The command name holds a space and a parenthesis, as real ones can.
        fields = ["S", "0", "1", "1", "0", "-1", "4194560"] + ["0"] * 12 + [str(start)] + ["0"] * 30
        self.write("/proc/1/stat", f"1 (my (init) x) {' '.join(fields)}\n")
        self.write("/proc/uptime", f"{uptime:.2f} 1234.56\n")

    def cpu_ticks(self, per_cpu: list[tuple[int, int, int]]) -> None:
        """/proc/stat: for each CPU, (busy, idle, steal) clock ticks since boot; busy is written as user
        and system time, idle as idle and iowait, as the kernel splits them."""
        lines = [f"cpu{i} {busy - busy // 3} 0 {busy // 3} {idle - idle // 10} {idle // 10} 0 0 {steal} 0 0"
                 for i, (busy, idle, steal) in enumerate(per_cpu)]
        total = [sum(c[k] for c in per_cpu) for k in range(3)]
        self.write("/proc/stat", f"cpu  {total[0]} 0 0 {total[1]} 0 0 0 {total[2]} 0 0\n" + "\n".join(lines)
                   + "\nintr 12345\nctxt 67890\nprocs_running 3\n")

    def process(self, pid: int, name: str, ticks: int, cmdline: str = "", own: bool = False) -> None:
        """/proc/PID/stat with `ticks` of user and system time (own=True: /proc/self/stat too)."""
        fields = ["R", "1", str(pid), str(pid), "0", "-1", "4194560", "0", "0", "0", "0", str(ticks - ticks // 4),
                  str(ticks // 4)] + ["0"] * 39
        text = f"{pid} ({name}) {' '.join(fields)}\n"
        self.write(f"/proc/{pid}/stat", text)
        self.write(f"/proc/{pid}/cmdline", cmdline.replace(" ", "\0") + "\0" if cmdline else "")
        if own:
            self.write("/proc/self/stat", text)

    def loadavg(self, one: float, five: float, fifteen: float) -> None:
        self.write("/proc/loadavg", f"{one:.2f} {five:.2f} {fifteen:.2f} 3/250 4321\n")

    def pci(self, bus_id: str, vendor: int, device: int, pci_class: int = 0x030200, driver: str | None = None,
            numa: int = -1, revision: int = 0xA1, **files) -> Path:
        base = self.mkdir(f"/sys/bus/pci/devices/{bus_id}")
        for name, value in {"vendor": f"0x{vendor:04x}", "device": f"0x{device:04x}", "class": f"0x{pci_class:06x}",
                            "numa_node": str(numa), "revision": f"0x{revision:02x}", **files}.items():
            (base / name).write_text(f"{value}\n")
        link = base / "driver"
        if link.is_symlink():
            link.unlink()
        if driver:
            link.symlink_to(self.mkdir(f"/sys/bus/pci/drivers/{driver}"))
        return base

    def dev_node(self, p: str, mode: int = 0o666, gid: int = 0) -> Path:
        """A regular file standing for a device node (FakeRoot readers accept one)."""
        target = self.write(p, "")
        os.chmod(target, mode)
        if os.geteuid() == 0:  # only root may give a file another group; other tests need none
            os.chown(target, -1, gid)
        return target

    def nvidia_driver(self, version: str = "535.104.05", gpus: int = 1) -> None:
        self.write("/proc/driver/nvidia/version",
                   f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Sat Aug 19 01:15:15 UTC 2023\n"
                   "GCC version:  gcc version 12.2.0\n")
        for i in range(gpus):
            self.dev_node(f"/dev/nvidia{i}")
        self.dev_node("/dev/nvidiactl")

    def kfd_gpu(self, node: int, gpu_id: int, target: int, bus: int = 3, domain: int = 0, simd: int = 80,
                simd_per_cu: int = 2, render_minor: int = 128, device_id: int = 0x73DF, unique_id: int = 0,
                vram_total: int | None = 12 << 30, vram_used: int | None = 1 << 30, **props) -> str:
        """A GPU node in the KFD topology, and its PCI device with amdgpu's sysfs files. Returns the
        GPU's PCI bus id."""
        base = f"/sys/class/kfd/kfd/topology/nodes/{node}"
        values = {"cpu_cores_count": 0, "simd_count": simd, "simd_per_cu": simd_per_cu, "wave_front_size": 32,
                  "gfx_target_version": target, "vendor_id": 4098, "device_id": device_id,
                  "location_id": bus << 8, "domain": domain, "drm_render_minor": render_minor,
                  "max_engine_clk_fcompute": 2589, "unique_id": unique_id, **props}
        self.write(f"{base}/properties", "".join(f"{k} {v}\n" for k, v in values.items()))
        self.write(f"{base}/gpu_id", f"{gpu_id}\n")
        bus_id = f"{domain:04x}:{bus:02x}:00.0"
        extra = {}
        if vram_total is not None:
            extra["mem_info_vram_total"] = vram_total
        if vram_used is not None:
            extra["mem_info_vram_used"] = vram_used
        self.pci(bus_id, 0x1002, device_id, pci_class=0x030000, driver="amdgpu", gpu_busy_percent=7, **extra)
        return bus_id

    def kfd_cpu_node(self, node: int = 0) -> None:
        base = f"/sys/class/kfd/kfd/topology/nodes/{node}"
        self.write(f"{base}/properties", "cpu_cores_count 16\nsimd_count 0\ngfx_target_version 0\n")
        self.write(f"{base}/gpu_id", "0\n")
