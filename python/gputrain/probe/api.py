"""The probe's public calls, re-exported by gputrain: devices(), doctor(), detect_platform(),
is_gpu_available(). Each imports the probe on first use, keeping `import gputrain` cheap."""
from __future__ import annotations


def devices():
    """The CPU, then every NVIDIA and AMD GPU found, as Device objects (a list that prints as a table)."""
    from . import devices as _devices
    from . import snapshot

    return _devices.DeviceList(_devices.from_snapshot(snapshot.take()))


def doctor(run_kernels: bool = False):
    """A Report of findings (severity, what was seen, the action that fixes it); prints as text and
    shows as HTML in Jupyter; `.to_dict()` for JSON. run_kernels=True also launches a test kernel on
    each usable GPU, as `gputrain doctor` does; it is off by default because the GPU context it creates
    would hold GPU memory in this process (the notebook's) until it ends."""
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
    return _doctor.build_report(snap, found)


def detect_platform():
    """Where this runs (colab, kaggle, paperspace, sagemaker, ec2, docker, wsl, local), its session
    limit and age, and where files outlive the session. Reads no network."""
    from .platform import detect_platform as _detect

    return _detect()


def is_gpu_available() -> bool:
    """True only if gputrain can run kernels on a GPU now: the backend is built and loads, the driver
    sees the GPU, the build covers its architecture, and the backend itself reports the device."""
    return any(d.is_gpu and d.usable for d in devices())
