"""The probe's public calls, re-exported by gputrain: devices(), doctor(), detect_platform(),
is_gpu_available(). Each imports the probe on first use, keeping `import gputrain` cheap."""
from __future__ import annotations

import sys


def devices():
    """The CPU, then every NVIDIA and AMD GPU found, as Device objects (a list that prints as a table)."""
    from . import devices as _devices
    from . import snapshot

    return _devices.DeviceList(_devices.from_snapshot(snapshot.take()))


def diagnose(run_kernels: bool = False):
    """The doctor's Report, without printing it (the command line prints it itself). Takes about 0.2 s
    to measure how busy other work keeps the CPUs."""
    from .. import cpu_threads
    from . import cpu_load
    from . import devices as _devices
    from . import doctor as _doctor
    from . import snapshot

    snap = snapshot.take()
    found = _devices.from_snapshot(snap)
    if run_kernels:
        from . import build

        # Only where every other check passed; a failure joins that device's findings.
        launched = [build.launch_test_kernel(d.backend) for d in found if d.is_gpu and d.usable and d.index == 0]
        if not all(launched):
            found = _devices.from_snapshot(snap)
    return _doctor.build_report(snap, found, cpu_load.measure(), cpu_threads.chosen())


def doctor(run_kernels: bool = False):
    """A Report of findings (severity, what was seen, the action that fixes it); prints as text and
    shows as HTML in Jupyter; `.to_dict()` for JSON. Where nothing displays the value returned (a plain
    script), it is also printed, so `gputrain.doctor()` on a line of its own always shows its findings.
    run_kernels=True also launches a test kernel on each usable GPU, as `gputrain doctor` does; it is off
    by default because the GPU context it creates would hold GPU memory in this process (the
    notebook's) until it ends."""
    report = diagnose(run_kernels)
    if not _shows_return_values():
        print(report)
    return report


def _shows_return_values() -> bool:
    """Whether an expression's value is displayed where this runs: Jupyter, IPython, the Python REPL."""
    if hasattr(sys, "ps1"):
        return True
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def detect_platform():
    """Where this runs (colab, kaggle, paperspace, sagemaker, ec2, docker, wsl, local), its session
    limit and age, and where files outlive the session. Reads no network."""
    from .platform import detect_platform as _detect

    return _detect()


def is_gpu_available() -> bool:
    """True only if gputrain can run kernels on a GPU now: the backend is built and loads, the driver
    sees the GPU, the build covers its architecture, and the backend itself reports the device."""
    return any(d.is_gpu and d.usable for d in devices())
