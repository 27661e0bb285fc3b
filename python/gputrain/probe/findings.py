"""The doctor's checks beyond a single device: no GPU at all, driver signs with no GPU listed, GPU
memory held by other processes or preallocated by TensorFlow or JAX here, NVML missing, the session
limit, CPUs kept busy by other work, an OpenMP wait policy gputrain could not set, and the GPUs that
are ready. Per-device issues come from issues.py through devices.py."""
from __future__ import annotations

from .. import cpu_threads, settings
from . import fmt, issues
from .cpu_load import CpuLoad
from .devices import Device
from .issues import Issue
from .snapshot import Snapshot

# Where to turn a GPU on, per platform: the one action for "no GPU attached".
_ENABLE_GPU = {
    "colab": "Runtime → Change runtime type → Hardware accelerator: GPU (T4) → Save; the runtime restarts, "
             "so run the notebook again from the top",
    "kaggle": "in the notebook's side panel: Settings → Accelerator → GPU T4 x2 (or P100); the option needs a "
              "phone-verified account",
    "paperspace": "stop this notebook and start it again on a GPU machine (Machine → a GPU type such as "
                  "Free-GPU)",
    "sagemaker": "switch this notebook or Studio space to a GPU instance type such as ml.g4dn.xlarge or "
                 "ml.g5.xlarge",
    "ec2": "launch a GPU instance type (g4dn, g5, g6, p4d, p5) with the NVIDIA driver installed (e.g. a Deep "
           "Learning AMI); this instance type has none",
    "docker": "if the host has a GPU, start the container with it: docker run --gpus all ... (NVIDIA, needs the "
              "NVIDIA Container Toolkit) or --device=/dev/kfd --device=/dev/dri (AMD)",
    "wsl": "install the NVIDIA Windows driver, which brings WSL2 GPU support (/dev/dxg and "
           "/usr/lib/wsl/lib/libcuda.so.1), then run `wsl --shutdown` and reopen the shell",
    "local": "gputrain runs on the CPU here; to train on a GPU, use a machine with an NVIDIA or AMD card (or a "
             "notebook service with a GPU runtime)",
}
SESSION_WARNING = 3600  # seconds left when the doctor starts asking for a checkpoint
# CPUs' worth of other work that makes gputrain's CPU ops share cores: its OpenMP team has one thread per
# CPU and splits each op evenly, so one thread on a shared core holds up the whole op.
CPU_BUSY = 0.75
# Spin counts from here up made the quickstart 1.5x (3,000) to 28x (300,000) slower beside other work
# on 2 cores (benchmarks/bench_cpu_contention.py); below it, idle threads give their core back soon enough.
LONG_SPIN = 3_000


def no_gpu(snap: Snapshot, devices: list[Device]) -> list[Issue]:
    if any(d.is_gpu for d in devices) or snap.nvidia_hardware or snap.amd_hardware or snap.dxg:
        return []
    seen = ("no GPU is attached to this runtime: no NVIDIA or AMD GPU on the PCI bus, no /dev/nvidia*, "
            f"no /sys/class/kfd, and {snap.cuda.library} "
            + ("could not be loaded" if snap.cuda.load_error else f"reports: {snap.cuda.problem or 'no device'}"))
    return [Issue("no-gpu", "warning", seen, _ENABLE_GPU.get(snap.platform.name, _ENABLE_GPU["local"]))]


def driver_without_devices(snap: Snapshot, devices: list[Device]) -> list[Issue]:
    """Driver signs with no GPU listed anywhere (a container that has /dev/nvidia0 but no library, WSL2's
    /dev/dxg without a CUDA driver, /dev/kfd with an empty topology): the per-device checks never ran."""
    found: list[Issue | None] = []
    if (snap.nvidia_hardware or snap.dxg) and not any(d.backend == "cuda" for d in devices):
        found += [issues.no_backend("cuda", "NVIDIA GPU hardware"), issues.nvidia_driver(snap)]
    if snap.amd_hardware and not any(d.backend == "hip" for d in devices):
        found += [issues.no_backend("hip", "AMD GPU hardware (/dev/kfd)"),
                  Issue("driver-missing", "error",
                        "/dev/kfd exists, but the KFD topology (/sys/class/kfd/kfd/topology/nodes) lists no GPU",
                        "check that the amdgpu driver supports this GPU for compute (`dmesg | grep kfd`); "
                        "reinstall it with ROCm support (amdgpu-install --usecase=rocm) and reboot")]
    return [i for i in found if i]


def memory_held(snap: Snapshot, devices: list[Device]) -> list[Issue]:
    found = []
    for d in devices:
        if not d.is_gpu or not d.memory_total:
            continue
        others = [p for p in d.processes or [] if p.pid != snap.pid and p.memory]
        free = d.memory_free
        low = free is not None and free < d.memory_total // 4
        if others:
            held = sum(p.memory for p in others)
            listing = ", ".join(f"pid {p.pid} ({p.name or 'not visible here'}) {fmt.size(p.memory)}"
                                for p in others)
            found.append(Issue("memory-held", "warning" if low or free is None else "info",
                               f"{d.id} {d.name}: {len(others)} other process(es) hold {fmt.size(held)} of "
                               f"{fmt.size(d.memory_total)} ({listing}); {fmt.size(free)} free",
                               "stop them (another notebook's kernel: Kernel → Shut Down; else `kill PID`), or "
                               "restart this runtime"))
        elif low and not _own(snap, d):
            found.append(Issue("memory-held", "warning",
                               f"{d.id} {d.name}: only {fmt.size(free)} of {fmt.size(d.memory_total)} is free, "
                               "and the driver does not say which process holds the rest",
                               "run `nvidia-smi` (or `rocm-smi --showpids`) to find the process and stop it, or "
                               "restart this runtime"))
    return found


def _own(snap: Snapshot, d: Device) -> int:
    return sum(p.memory or 0 for p in d.processes or [] if p.pid == snap.pid)


def preallocation(snap: Snapshot, devices: list[Device]) -> list[Issue]:
    gpus = [d for d in devices if d.is_gpu and d.index is not None]
    if not gpus:
        return []
    own = max(gpus, key=lambda d: _own(snap, d))
    held = _own(snap, own)
    held_text = f"; this process already holds {fmt.size(held)} of {own.id}" if held else ""
    severity = "warning" if held and own.memory_total and held > own.memory_total // 2 else "info"
    found = []
    if "tensorflow" in snap.frameworks and snap.env.get("TF_FORCE_GPU_ALLOW_GROWTH", "").lower() != "true":
        found.append(Issue("tf-preallocate", severity,
                           "TensorFlow is loaded in this process without TF_FORCE_GPU_ALLOW_GROWTH=true: it takes "
                           f"nearly all GPU memory the first time it touches the GPU{held_text}",
                           "set TF_FORCE_GPU_ALLOW_GROWTH=true before TensorFlow is imported (first cell: "
                           "import os; os.environ['TF_FORCE_GPU_ALLOW_GROWTH'] = 'true'), then restart the "
                           "kernel"))
    if ("jax" in snap.frameworks and snap.env.get("XLA_PYTHON_CLIENT_PREALLOCATE", "").lower() != "false"
            and "XLA_PYTHON_CLIENT_MEM_FRACTION" not in snap.env
            and snap.env.get("XLA_PYTHON_CLIENT_ALLOCATOR") != "platform"):
        found.append(Issue("jax-preallocate", severity,
                           "JAX is loaded in this process with preallocation on: it reserves 75% of GPU memory "
                           f"when it first uses the GPU{held_text}",
                           "set XLA_PYTHON_CLIENT_PREALLOCATE=false before JAX is imported (first cell: "
                           "import os; os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'] = 'false'), then restart the "
                           "kernel"))
    return found


def nvml_missing(snap: Snapshot, devices: list[Device]) -> list[Issue]:
    if not snap.cuda.devices or snap.nvml.initialized:
        return []
    return [Issue("nvml-unavailable", "info",
                  f"NVML gave nothing ({snap.nvml.problem}), so free memory, utilization, temperature and the "
                  "processes holding memory are unknown",
                  "install the driver's NVML library (libnvidia-ml.so.1 comes with the driver; in a container "
                  "set NVIDIA_DRIVER_CAPABILITIES=compute,utility)")]


def session_limit(snap: Snapshot) -> list[Issue]:
    p = snap.platform
    left = p.session_left
    if left is None or left > SESSION_WARNING:
        return []
    where = p.persistent_dir
    if where:
        save = f"save a checkpoint now to {where} (model.save('{where}/checkpoint'))"
    elif p.name == "colab":
        save = ("mount Google Drive (from google.colab import drive; drive.mount('/content/drive')) and save a "
                "checkpoint to /content/drive/MyDrive now")
    else:
        save = "save a checkpoint now to storage that outlives this session"
    state = (f"about {fmt.duration(left)} left" if left > 0 else f"{fmt.duration(-left)} past the limit")
    return [Issue("session-limit", "warning",
                  f"this {p.name} session has run {fmt.duration(p.session_elapsed)} of its "
                  f"{fmt.duration(p.session_limit)} limit: {state}, after which the runtime and its files are "
                  "gone", save)]


def cpu_busy(load: CpuLoad | None, wait: cpu_threads.WaitPolicy | None) -> list[Issue]:
    if load is None or load.others < CPU_BUSY:
        return []
    named = [p for p in load.top if p.cpus >= 0.1]
    listing = (", ".join(str(p) for p in named) if named
               else "no process visible here accounts for it (another container or the host)")
    steal = (f"; {load.steal:.1f} CPU of it was steal time (the host ran other virtual machines on these "
             "CPUs)" if load.steal >= 0.1 else "")
    average = ", ".join(f"{a:.2f}" for a in load.load_average) if load.load_average else "?"
    policy = f"; gputrain's OpenMP threads wait with {wait}" if wait else ""
    seen = (f"other work kept {load.others:.1f} of the {load.cpus} CPUs this process may use busy over "
            f"{load.window:.1f} s: {listing}{steal}; load average {average}{policy}. gputrain's CPU ops "
            "share those cores and slow down")
    if wait is not None and wait.spins >= LONG_SPIN:
        spin = cpu_threads.SPIN_COUNT
        remedy = (f"let gputrain's idle threads sleep sooner: set GOMP_SPINCOUNT={spin} (or OMP_NUM_THREADS=1) "
                  f"before anything is imported (first cell: import os; os.environ['GOMP_SPINCOUNT'] = '{spin}'), "
                  "then restart the kernel")
        action = (f"stop what you do not need (another notebook: Kernel → Shut Down; else `kill PID`); if it must "
                  f"keep running, {remedy}" if named else f"nothing in this runtime can stop it; {remedy}")
    elif named:
        action = ("stop what you do not need (another notebook: Kernel → Shut Down; else `kill PID`), or train on "
                  "a GPU")
    else:
        action = ("nothing in this runtime can stop it: train on a GPU, or start a new runtime (it may land on a "
                  "less busy machine)")
    return [Issue("cpu-busy", "warning", seen, action)]


def openmp_wait(load: CpuLoad | None, wait: cpu_threads.WaitPolicy | None) -> list[Issue]:
    if wait is None or wait.source != "too-late":
        return []
    busy = load is not None and load.others >= CPU_BUSY
    return [Issue("openmp-wait-policy", "warning" if busy else "info",
                  f"libgomp ({wait.library}) was loaded by another library before gputrain, so gputrain could "
                  f"not bound how long its OpenMP threads spin after each op: they run with libgomp's default "
                  f"({wait.setting}, milliseconds of a busy core), which slows CPU training several times when "
                  "other work shares the cores",
                  f"import gputrain before that library, or set GOMP_SPINCOUNT={cpu_threads.SPIN_COUNT} before "
                  f"anything is imported (first cell: import os; os.environ['GOMP_SPINCOUNT'] = "
                  f"'{cpu_threads.SPIN_COUNT}'), then restart the kernel")]


def bad_settings(snap: Snapshot) -> list[Issue]:
    """gputrain's environment variables whose values the settings table does not accept, each judged as
    the part of gputrain that reads it will (GPUTRAIN_DEVICE has its own finding, which also knows
    whether the device is present)."""
    found = []
    for error in settings.problems(snap.env):
        if error.name == "GPUTRAIN_DEVICE":
            continue
        s = settings.SETTINGS[error.name]
        if s.invalid == settings.RAISES:
            effect, severity = "it raises ValueError", "error"
        else:
            effect, severity = f"the default ({s.default_text.replace('`', '')}) is used instead", "warning"
        action = f"set {s.name} to {s.type.expected.replace('`', '')}, or unset it"
        if "once per process" in s.read:
            action += ", before Python starts: it is read once per process (in a notebook, restart the kernel)"
        found.append(Issue("bad-setting", severity, f"{error} (read {s.read}, where {effect})", action))
    return found


def ready(devices: list[Device], default: str) -> list[Issue]:
    return [Issue("gpu-ready", "info", f"{d.id} {d.name} ({d.summary()}) is usable",
                  f"nothing to do; {'it is the default device' if d.id == default else f'pass device={d.id!r}'}")
            for d in devices if d.is_gpu and d.usable]
