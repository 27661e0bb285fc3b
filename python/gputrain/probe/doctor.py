"""gputrain.doctor(): every finding about this runtime's compute, each with a severity, what was seen
and the one action that fixes it; shown as text, as HTML in Jupyter, and as JSON for the command line."""
from __future__ import annotations

import html
from dataclasses import asdict, dataclass

from .. import cpu_threads, settings
from . import build, findings, fmt
from . import devices as _devices
from .cpu_load import CpuLoad
from .devices import Device, DeviceList
from .issues import SEVERITIES, Issue
from .platform import Platform
from .snapshot import Snapshot

_COLORS = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "error" (a GPU cannot be used), "warning" (it can, but something will bite), "info"
    seen: str
    action: str

    def to_dict(self) -> dict:
        return asdict(self)


class Report:
    def __init__(self, platform: Platform, devices: list[Device], findings_: list[Finding],
                 default_device: str | None, cpu_load: CpuLoad | None = None,
                 openmp_wait: cpu_threads.WaitPolicy | None = None):
        self.platform = platform
        self.devices = DeviceList(devices)
        self.findings = findings_
        self.default_device = default_device
        self.cpu_load = cpu_load
        self.openmp_wait = openmp_wait

    @property
    def gpu_available(self) -> bool:
        return any(d.is_gpu and d.usable for d in self.devices)

    def by_id(self, finding_id: str) -> list[Finding]:
        return [f for f in self.findings if f.id == finding_id]

    def to_dict(self) -> dict:
        return {"platform": self.platform.to_dict(), "default_device": self.default_device,
                "gpu_available": self.gpu_available, "devices": [d.to_dict() for d in self.devices],
                "cpu_load": self.cpu_load.to_dict() if self.cpu_load else None,
                "openmp_wait": asdict(self.openmp_wait) if self.openmp_wait else None,
                "findings": [f.to_dict() for f in self.findings]}

    def _headline(self) -> list[str]:
        p = self.platform
        session = f"session running {fmt.duration(p.session_elapsed)}" if p.session_elapsed is not None else ""
        if p.session_limit:
            session += f" of about {fmt.duration(p.session_limit)}"
        gpus = [d for d in self.devices if d.is_gpu]
        lines = [f"platform: {p}" + (f", {session}" if session else ""),
                 f"GPUs: {len(gpus)} found, {sum(d.usable for d in gpus)} usable by gputrain",
                 f"gputrain will run on: {self.default_device or self._blocked()}"]
        load = self.cpu_load
        if load:
            average = ", ".join(f"{a:.2f}" for a in load.load_average) if load.load_average else "?"
            lines.append(f"CPU: other work used {load.others:.1f} of {load.cpus} CPUs over {load.window:.1f} s "
                         f"(load average {average})")
        if self.openmp_wait:
            lines.append(f"OpenMP threads wait: {self.openmp_wait}")
        return lines

    def _blocked(self) -> str:
        if self.by_id("core-load-failed"):
            return "nothing until gputrain._core loads"
        return "nothing until GPUTRAIN_DEVICE is fixed"

    def __str__(self) -> str:
        lines = ["gputrain doctor"] + [f"  {h}" for h in self._headline()]
        lines += ["", _devices.table_text(list(self.devices), reasons=False), ""]
        if not self.findings:
            lines.append("no findings")
        for f in self.findings:
            lines += [f"[{f.severity}] {f.id}", f"  seen: {f.seen}", f"  fix:  {f.action}"]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<li>{html.escape(h)}</li>" for h in self._headline())
        items = "".join(
            f"<li><b style='color:{_COLORS[f.severity]}'>{f.severity}</b> <code>{html.escape(f.id)}</code><br>"
            f"seen: {html.escape(f.seen)}<br>fix: <b>{html.escape(f.action)}</b></li>" for f in self.findings)
        return (f"<div><b>gputrain doctor</b><ul>{head}</ul>{_devices.table_html(list(self.devices))}"
                f"<ul>{items or '<li>no findings</li>'}</ul></div>")


def default_device(devices: list[Device]) -> tuple[str | None, Issue | None]:
    """The device gputrain's ops use when given none (GPUTRAIN_DEVICE, else the first GPU backend whose
    module sees a device the probe finds usable, else the CPU), with an Issue when that choice fails or
    lands on a device the probe finds unusable (the module counts devices; it does not check the build's
    architectures). Launches no kernel."""
    usable = ", ".join(sorted(d.id for d in devices if d.usable))

    def probe_usable(backend: str) -> bool:
        return any(d.id == f"{backend}:0" and d.usable for d in devices)

    name, error = build.default_device(probe_usable)
    if error:
        return None, Issue("bad-device-env", "error", f"GPUTRAIN_DEVICE={settings.raw('GPUTRAIN_DEVICE')!r}: "
                           f"{error}", f"unset GPUTRAIN_DEVICE or set it to one of: {usable}")
    chosen = next((d for d in devices if d.id == name), None)
    if chosen is not None and not chosen.usable:
        return name, Issue("default-device-unusable", "error",
                           f"gputrain's default device is {name}, which its backend reports, but "
                           f"{chosen.issues[0].seen}",
                           f"fix {name} as said, or set GPUTRAIN_DEVICE=cpu before Python starts to train on "
                           "the CPU meanwhile")
    return name, None


def build_report(snap: Snapshot, devices: list[Device], cpu_load: CpuLoad | None = None,
                 openmp_wait: cpu_threads.WaitPolicy | None = None) -> Report:
    """cpu_load: other work on the CPUs, measured by the caller (it takes a moment); openmp_wait: how
    gputrain's OpenMP threads wait, as decided at import (cpu_threads.chosen())."""
    default, default_issue = default_device(devices)
    found: list[Issue] = [i for d in devices for i in d.issues]
    if default_issue:
        found.append(default_issue)  # after the device's own issues, which it refers to
    found += findings.no_gpu(snap, devices) + findings.driver_without_devices(snap, devices)
    found += findings.memory_held(snap, devices) + findings.preallocation(snap, devices)
    found += findings.nvml_missing(snap, devices) + findings.session_limit(snap) + findings.bad_settings(snap)
    found += findings.cpu_busy(cpu_load, openmp_wait) + findings.openmp_wait(cpu_load, openmp_wait)
    found += findings.ready(devices, default or "")
    unique: dict[tuple[str, str], Finding] = {}
    for i in found:
        unique.setdefault((i.id, i.seen), Finding(i.id, i.severity, i.seen, i.action))
    ordered = sorted(unique.values(), key=lambda f: SEVERITIES.index(f.severity))  # stable within a severity
    return Report(snap.platform, devices, ordered, default, cpu_load, openmp_wait)
