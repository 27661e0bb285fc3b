"""Where this Python runs (Colab, Kaggle, Paperspace, SageMaker, a container, WSL2, EC2 or a plain
machine), the platform's session limit, the session's age (that of PID 1, which started with it) and
where files outlive it. Offline signals only: environment variables, marker files, /sys and /proc."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from . import files

HOUR = 3600
# Session limits as the platforms document them: Colab's FAQ ("at most 12 hours", less on busy days),
# Kaggle's notebook docs (12 hours per CPU/GPU session), Paperspace Gradient's free machines
# (shut down after 6 hours). Paid tiers can run longer; these are the limits a free user meets.
SESSION_LIMITS = {"colab": 12 * HOUR, "kaggle": 12 * HOUR, "paperspace": 6 * HOUR}
NAMES = ("colab", "kaggle", "paperspace", "sagemaker", "ec2", "docker", "wsl", "local")


@dataclass
class Platform:
    name: str
    details: dict = field(default_factory=dict)
    session_limit: int | None = None  # seconds
    session_elapsed: float | None = None  # seconds since PID 1 started
    persistent_dir: str | None = None

    @property
    def session_left(self) -> float | None:
        if self.session_limit is None or self.session_elapsed is None:
            return None
        return self.session_limit - self.session_elapsed

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.details.items()
                          if v not in (None, False, "") and v != self.name)
        return f"{self.name} ({extra})" if extra else self.name


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _colab() -> dict | None:
    if not (_env("COLAB_RELEASE_TAG", "COLAB_GPU", "COLAB_BACKEND_VERSION") or files.is_dir("/var/colab")):
        return None
    return {"release": _env("COLAB_RELEASE_TAG"), "drive_mounted": files.is_dir("/content/drive/MyDrive")}


def _kaggle() -> dict | None:
    if not (_env("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE") or files.is_dir("/kaggle/working")):
        return None
    return {"run_type": _env("KAGGLE_KERNEL_RUN_TYPE")}


def _paperspace() -> dict | None:
    if any(k.startswith("PAPERSPACE_") for k in os.environ):
        return {"notebook": _env("PAPERSPACE_NOTEBOOK_ID")}
    if files.is_dir("/notebooks") and files.is_dir("/storage"):
        return {"notebook": None}
    return None


def _sagemaker() -> dict | None:
    if files.is_dir("/opt/ml/input/config") or _env("SM_TRAINING_ENV", "TRAINING_JOB_NAME"):
        return {"kind": "training job"}
    if files.exists("/opt/ml/metadata/resource-metadata.json") or _env("SAGEMAKER_INTERNAL_IMAGE_URI"):
        return {"kind": "studio" if files.is_dir("/home/sagemaker-user") else "notebook instance"}
    return None


def _ec2() -> dict | None:
    vendor = files.read_line("/sys/class/dmi/id/sys_vendor") or ""
    bios = files.read_line("/sys/class/dmi/id/bios_vendor") or ""
    xen = (files.read_line("/sys/hypervisor/uuid") or "").lower().startswith("ec2")
    if "Amazon EC2" not in (vendor, bios) and not xen:
        return None
    tag = files.read_line("/sys/class/dmi/id/board_asset_tag") or ""
    # On Nitro instances DMI's product name is the instance type (g4dn.xlarge); Xen ones have none.
    product = files.read_line("/sys/class/dmi/id/product_name") if "Amazon EC2" in (vendor, bios) else None
    return {"instance_type": product or None, "instance_id": tag if tag.startswith("i-") else None}


def _container() -> str | None:
    """The container runtime's name, or None outside a container."""
    if files.exists("/.dockerenv"):
        return "docker"
    if files.exists("/run/.containerenv"):
        return "podman"
    cgroup = files.read("/proc/1/cgroup") or ""
    for marker, runtime in (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"),
                            ("lxc", "lxc")):
        if marker in cgroup:
            return runtime
    return os.environ.get("container") or None  # systemd-nspawn and podman set it


def _wsl() -> dict | None:
    release = files.read_line("/proc/sys/kernel/osrelease") or ""
    if "microsoft" in release.lower() or "wsl" in release.lower() or _env("WSL_DISTRO_NAME"):
        return {"distro": _env("WSL_DISTRO_NAME"), "kernel": release or None}
    return None


def session_elapsed() -> float | None:
    """Seconds since PID 1 started: /proc/uptime minus PID 1's start time (field 22 of its stat, in
    clock ticks after boot)."""
    stat = files.read("/proc/1/stat")
    uptime = files.read_line("/proc/uptime")
    if not stat or not uptime or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    try:
        start_ticks = int(fields[19])  # field 22 overall; fields[0] is field 3 (the state)
        elapsed = float(uptime.split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
        return round(max(elapsed, 0.0), 2)  # /proc/uptime has hundredths of a second
    except (IndexError, ValueError, OSError):
        return None


def _persistent_dir(name: str) -> str | None:
    candidates = {"colab": "/content/drive/MyDrive", "paperspace": "/storage", "kaggle": "/kaggle/working"}
    where = candidates.get(name)
    return where if where and files.is_dir(where) else None


def detect_platform() -> Platform:
    container, wsl, ec2 = _container(), _wsl(), _ec2()
    found = None
    for name, detect in (("colab", _colab), ("kaggle", _kaggle), ("paperspace", _paperspace),
                         ("sagemaker", _sagemaker)):
        details = detect()
        if details is not None:
            found = (name, details)
            break
    if found is None:
        # A container is named before the machine it runs on: whether it was given the GPU is
        # the question that matters there.
        if container:
            found = ("docker", {})
        elif wsl is not None:
            found = ("wsl", wsl)
        elif ec2 is not None:
            found = ("ec2", ec2)
        else:
            found = ("local", {})
    name, details = found
    details = dict(details)
    details["container"] = container
    if ec2 is not None and name != "ec2":
        details.update({f"ec2_{k}": v for k, v in ec2.items()})
    if wsl is not None and name != "wsl":
        details["wsl"] = True
    return Platform(name=name, details=details, session_limit=SESSION_LIMITS.get(name),
                    session_elapsed=session_elapsed(), persistent_dir=_persistent_dir(name))
