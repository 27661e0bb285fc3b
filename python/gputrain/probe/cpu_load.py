"""How much of the CPUs this process may use other work keeps busy, measured over a short window (only
when the doctor runs): /proc/stat deltas on those CPUs (busy and steal time) less this process's own
(/proc/self/stat), the busiest other processes (/proc/[pid]/stat deltas), and the load average."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import files

WINDOW_S = 0.2
TOP = 3  # processes named in a finding
_sleep = time.sleep  # the window's wait; tests replace it to move a fake /proc forward


@dataclass(frozen=True)
class ProcessUse:
    pid: int
    name: str  # the kernel's command name (15 characters at most: "python3")
    cpus: float  # CPUs' worth of time it used over the window (1.0: one core kept busy)
    command: str = ""  # its command line, shortened, to tell one python from another

    def __str__(self) -> str:
        shown = f"{self.name} (pid {self.pid}" + (f": {self.command}" if self.command else "") + ")"
        return f"{shown} {self.cpus:.1f} CPU"


@dataclass
class CpuLoad:
    window: float  # seconds measured
    cpus: int  # CPUs counted: the ones this process may run on
    others: float  # CPUs' worth kept busy by everything but this process, steal time included
    steal: float  # of which the hypervisor gave to other virtual machines
    own: float  # this process's threads
    top: list[ProcessUse] = field(default_factory=list)  # the busiest other processes, busiest first
    load_average: tuple[float, float, float] | None = None

    def to_dict(self) -> dict:
        return {"window": self.window, "cpus": self.cpus, "others": round(self.others, 2),
                "steal": round(self.steal, 2), "own": round(self.own, 2), "load_average": self.load_average,
                "top": [{"pid": p.pid, "name": p.name, "command": p.command, "cpus": round(p.cpus, 2)}
                        for p in self.top]}


@dataclass(frozen=True)
class CpuTimes:
    """Clock ticks since boot summed over the CPUs counted (benchmarks difference two of them)."""
    busy: int  # clock ticks: user, nice, system, irq, softirq (guest time is already inside user)
    steal: int
    total: int
    cpus: int


def cpu_times(allowed: set[int] | None = None) -> CpuTimes | None:
    busy = steal = total = cpus = 0
    for line in (files.read("/proc/stat") or "").splitlines():
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue  # the summed `cpu` line counts CPUs this process may not use
        if allowed is not None and int(name[3:]) not in allowed:
            continue
        try:
            v = [int(x) for x in rest.split()[:8]] + [0] * 8
        except ValueError:
            continue
        user, nice, system, idle, iowait, irq, softirq, stolen = v[:8]
        busy += user + nice + system + irq + softirq
        steal += stolen
        total += user + nice + system + idle + iowait + irq + softirq + stolen
        cpus += 1
    return CpuTimes(busy, steal, total, cpus) if cpus else None


def _allowed_cpus() -> set[int] | None:
    """This process's affinity ('0-3,8' → {0, 1, 2, 3, 8}), or None (count every CPU) when unknown."""
    text = files.key_values(files.read("/proc/self/status"), ":").get("Cpus_allowed_list")
    allowed: set[int] = set()
    try:
        for part in (text or "").split(","):
            lo, _, hi = part.partition("-")
            allowed.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        return None
    return allowed or None


def _process(path: str) -> tuple[int, str, int] | None:
    """(pid, command name, user + system ticks of all its threads) from a /proc/.../stat file."""
    text = files.read(path, 4096)
    if not text or "(" not in text or ")" not in text:
        return None
    # The name sits in parentheses and may itself hold spaces and parentheses: cut at the last ')'.
    head, _, tail = text.rpartition(")")
    pid_text, _, name = head.partition(" (")
    fields = tail.split()  # fields[0] is the state (the stat file's 3rd field); utime, stime are 14th, 15th
    try:
        return int(pid_text), name, int(fields[11]) + int(fields[12])
    except (ValueError, IndexError):
        return None


def _processes(own_pid: int | None) -> dict[int, tuple[str, int]]:
    found = {}
    for entry in files.listdir("/proc"):
        if entry.isdigit() and int(entry) != own_pid:
            p = _process(f"/proc/{entry}/stat")
            if p:
                found[p[0]] = (p[1], p[2])
    return found


def _command(pid: int, limit: int = 60) -> str:
    text = " ".join((files.read(f"/proc/{pid}/cmdline", 4096) or "").replace("\0", " ").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _load_average() -> tuple[float, float, float] | None:
    parts = (files.read_line("/proc/loadavg") or "").split()
    try:
        return float(parts[0]), float(parts[1]), float(parts[2])
    except (ValueError, IndexError):
        return None


def measure(window: float = WINDOW_S) -> CpuLoad | None:
    """Sleeps `window` seconds between two readings; None where /proc/stat cannot be read (not Linux)
    or no clock tick passed."""
    allowed = _allowed_cpus()
    before = cpu_times(allowed)
    if before is None:
        return None
    own_before = _process("/proc/self/stat")
    own_pid = own_before[0] if own_before else None
    procs_before = _processes(own_pid)
    _sleep(window)
    after = cpu_times(allowed)
    own_after = _process("/proc/self/stat")
    procs_after = _processes(own_pid)
    if after is None or after.cpus != before.cpus or after.total <= before.total:
        return None
    per_cpu = (after.total - before.total) / after.cpus  # ticks one CPU had over the window
    own = (own_after[2] - own_before[2]) / per_cpu if own_before and own_after else 0.0
    busy = (after.busy - before.busy + after.steal - before.steal) / per_cpu
    # A process that started during the window used all its time inside it; one that ended is lost.
    used = {pid: ticks - procs_before.get(pid, ("", 0))[1] for pid, (_, ticks) in procs_after.items()}
    busiest = sorted((pid for pid in used if used[pid] > 0), key=lambda pid: (-used[pid], pid))[:TOP]
    top = [ProcessUse(pid, procs_after[pid][0], used[pid] / per_cpu, _command(pid)) for pid in busiest]
    return CpuLoad(window=window, cpus=after.cpus, others=max(0.0, busy - own),
                   steal=(after.steal - before.steal) / per_cpu, own=own, top=top, load_average=_load_average())
