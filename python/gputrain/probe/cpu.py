"""The CPU this process runs on: model, logical and physical cores, the cores it may use (affinity and
cgroup quota, as notebook containers limit both), SIMD features, and memory (host and cgroup limit),
from /proc/cpuinfo, /proc/self/status, /proc/meminfo and /sys/fs/cgroup."""
from __future__ import annotations

import math
import os
import platform as _platform
from dataclasses import dataclass, field

from . import files

# Feature flags worth naming for float32 kernels, in the order they were introduced; the name shown
# is the vendor's spelling. x86 from cpuinfo's `flags`, Arm from its `Features`.
_X86_SIMD = (("sse4_2", "SSE4.2"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"), ("f16c", "F16C"),
             ("avx512f", "AVX-512F"), ("avx512bw", "AVX-512BW"), ("avx512vl", "AVX-512VL"),
             ("avx512_vnni", "AVX-512 VNNI"), ("avx512_bf16", "AVX-512 BF16"), ("amx_tile", "AMX"))
_ARM_SIMD = (("asimd", "NEON"), ("asimddp", "DotProd"), ("asimdhp", "FP16"), ("i8mm", "I8MM"),
             ("bf16", "BF16"), ("sve", "SVE"), ("sve2", "SVE2"))
_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a huge number close to 2**63


@dataclass
class CpuInfo:
    model: str
    machine: str
    logical_cpus: int
    physical_cores: int | None
    affinity_cpus: int
    quota_cpus: float | None
    simd: list[str] = field(default_factory=list)
    memory_total: int | None = None  # the host's, or the cgroup limit when lower
    memory_available: int | None = None
    cgroup_memory_limit: int | None = None

    @property
    def cores(self) -> int:
        """CPUs this process can keep busy: its affinity, capped by a cgroup quota."""
        if self.quota_cpus:
            return max(1, min(self.affinity_cpus, math.ceil(self.quota_cpus)))
        return self.affinity_cpus


def parse_cpu_list(text: str | None) -> int | None:
    """'0-3,8,10-11' → 7."""
    if not text:
        return None
    total = 0
    try:
        for part in text.strip().split(","):
            if "-" in part:
                lo, hi = part.split("-")
                total += int(hi) - int(lo) + 1
            elif part:
                total += 1
    except ValueError:
        return None
    return total or None


def _cpuinfo() -> tuple[str | None, int, int | None, set[str]]:
    model, logical, cores, flags = None, 0, set(), set()
    for block in (files.read("/proc/cpuinfo") or "").split("\n\n"):
        entry = files.key_values(block, ":")
        if "processor" not in entry:
            continue
        logical += 1
        model = model or entry.get("model name") or entry.get("Model name") or entry.get("cpu model")
        flags |= set((entry.get("flags") or entry.get("Features") or "").split())
        if "physical id" in entry and "core id" in entry:
            cores.add((entry["physical id"], entry["core id"]))
    return model, logical, (len(cores) or None), flags


def _quota() -> float | None:
    text = files.read_line("/sys/fs/cgroup/cpu.max")  # cgroup v2: "max 100000" or "200000 100000"
    if text:
        parts = text.split()
        if len(parts) == 2 and parts[0] != "max":
            try:
                return int(parts[0]) / int(parts[1])
            except (ValueError, ZeroDivisionError):
                return None
        return None
    quota = files.read_int("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")  # cgroup v1; -1 means none
    period = files.read_int("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota and quota > 0 and period:
        return quota / period
    return None


def _memory_limit() -> tuple[int | None, int | None]:
    """(cgroup memory limit, bytes charged to the cgroup) or Nones when unlimited."""
    limit = files.read_line("/sys/fs/cgroup/memory.max")
    if limit is not None:
        usage = files.read_int("/sys/fs/cgroup/memory.current")
        return (None if limit == "max" or not limit.isdigit() else int(limit)), usage
    limit_v1 = files.read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    usage = files.read_int("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    return (limit_v1 if limit_v1 and limit_v1 < _NO_LIMIT else None), usage


def probe() -> CpuInfo:
    model, logical, physical, flags = _cpuinfo()
    status = files.key_values(files.read("/proc/self/status"), ":")
    affinity = parse_cpu_list(status.get("Cpus_allowed_list"))
    if affinity is None and not files.is_fake_root():
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    meminfo = files.key_values(files.read("/proc/meminfo"), ":")

    def kib(key):
        try:
            return int(meminfo[key].split()[0]) * 1024
        except (KeyError, ValueError, IndexError):
            return None

    total, available = kib("MemTotal"), kib("MemAvailable")
    limit, usage = _memory_limit()
    if limit is not None:
        total = min(total, limit) if total else limit
        if usage is not None:
            left = max(limit - usage, 0)
            available = min(available, left) if available is not None else left
    table = _ARM_SIMD if "asimd" in flags else _X86_SIMD
    machine = _platform.machine() or "unknown"
    return CpuInfo(model=model or f"{machine} CPU", machine=machine, logical_cpus=logical or 1,
                   physical_cores=physical, affinity_cpus=affinity or logical or 1, quota_cpus=_quota(),
                   simd=[name for flag, name in table if flag in flags], memory_total=total,
                   memory_available=available, cgroup_memory_limit=limit)
