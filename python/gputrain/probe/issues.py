"""The checks that decide whether gputrain can run on one GPU, each giving an Issue: what was seen and
the one action that fixes it. They run in the order a user fixes things: backend built, driver, access,
visibility, architecture, the backend module; a device's reason is its first Issue."""
from __future__ import annotations

from dataclasses import dataclass

from . import access, archs, build, nvidia, pci
from .snapshot import Snapshot

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Issue:
    id: str
    severity: str
    seen: str
    action: str

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity: {self.severity!r} is not one of {SEVERITIES}")

    @property
    def reason(self) -> str:
        return f"{self.seen}. To fix: {self.action}"


def core_module() -> Issue | None:
    """gputrain's C++ core failed to load: nothing computes, on any device."""
    error = build.core_error()
    if error is None:
        return None
    if "GLIBCXX" in error or "CXXABI" in error or "libstdc++" in error:
        action = ("the C++ runtime loaded here (libstdc++) is older than the one gputrain was built with, as "
                  "happens in a conda environment that brings its own: update it there (conda install -c "
                  "conda-forge libstdcxx-ng) or build gputrain in this environment: "
                  f"{build.reinstall_command()}; then restart Python")
    elif "No module named" in error:
        action = ("the compiled module is missing (a source checkout that was not built, or an install that "
                  f"stopped midway): {build.reinstall_command()}; then restart Python")
    else:
        action = (f"reinstall gputrain in this environment ({build.reinstall_command()}), then restart Python; "
                  "the message names the library or symbol that is missing")
    return Issue("core-load-failed", "error", f"gputrain's C++ core (gputrain._core) failed to load, so "
                 f"gputrain cannot compute on any device: {error}", action)


def no_backend(backend: str, hardware: str) -> Issue | None:
    if build.is_built(backend):
        return None
    status = build.backend_info(backend).get("status") or "not recorded"
    option = "GPUTRAIN_CUDA=ON" if backend == "cuda" else "GPUTRAIN_HIP=ON"
    toolkit = "the CUDA toolkit (nvcc)" if backend == "cuda" else "ROCm's hipcc"
    return Issue("no-backend", "error",
                 f"{hardware} is here, but this gputrain was built without {build.NAMES[backend]} "
                 f"(build said: {status})",
                 f"install {toolkit}, then reinstall gputrain from source: {build.reinstall_command(option)}")


def _toolkit() -> str | None:
    return build.backend_info("cuda").get("toolkit_version")


def nvidia_driver(snap: Snapshot) -> Issue | None:
    """Why the CUDA driver gives no working device, or None when it does."""
    cuda, platform = snap.cuda, snap.platform
    minimum = archs.min_driver(_toolkit()) if build.is_built("cuda") else None
    wanted = f"{minimum} or newer" if minimum else "a current one"
    gpus = ", ".join(g.bus_id for g in snap.pci_gpus(pci.NVIDIA))
    if cuda.initialized:
        return driver_too_old(snap)
    if (platform.details.get("container") and not snap.nvidia_nodes and not snap.dxg
            and snap.pci_gpus(pci.NVIDIA)):
        return Issue("container-no-gpu", "error",
                     f"this container was started without GPU access: the host's NVIDIA GPU ({gpus}) is on "
                     f"the PCI bus, but there is no /dev/nvidia* and no driver library in the container",
                     "start the container with the GPU: docker run --gpus all ... (the host needs the NVIDIA "
                     "Container Toolkit; in Kubernetes, request nvidia.com/gpu)")
    if cuda.load_error:
        if platform.name == "wsl" or snap.dxg:
            gpu = "WSL2 has a GPU (/dev/dxg) but" if snap.dxg else "WSL2 has"
            return Issue("driver-missing", "error",
                         f"{gpu} no NVIDIA driver: {cuda.library} was not found ({cuda.load_error})",
                         "install the NVIDIA Windows driver (it brings WSL2 support and "
                         "/usr/lib/wsl/lib/libcuda.so.1); do not install a Linux driver inside WSL; "
                         "then run `wsl --shutdown` in Windows and reopen the shell")
        if snap.platform.details.get("container") and snap.nvidia_nodes:
            return Issue("driver-missing", "error",
                         f"the container has {snap.nvidia_nodes[0]} but not the driver library {cuda.library}",
                         "start the container with --gpus all (the NVIDIA Container Toolkit mounts libcuda.so.1), "
                         "or set NVIDIA_DRIVER_CAPABILITIES=compute,utility")
        if snap.nvidia_module:
            return Issue("driver-missing", "error",
                         f"the NVIDIA kernel module {snap.nvidia_module} is loaded but its user-space library "
                         f"{cuda.library} is missing",
                         f"install the driver's compute libraries of the same version "
                         f"(Ubuntu: sudo apt install libnvidia-compute-{snap.nvidia_module.split('.')[0]})")
        return Issue("driver-missing", "error",
                     f"no NVIDIA driver is installed: {cuda.library} was not found"
                     + (f" although an NVIDIA GPU ({gpus}) is on the PCI bus" if gpus else ""),
                     f"install the NVIDIA driver, {wanted} (Ubuntu: sudo ubuntu-drivers install), then reboot")
    if cuda.missing_symbol:
        return Issue("driver-error", "error", f"{cuda.problem}",
                     "reinstall the NVIDIA driver; check that LD_LIBRARY_PATH does not put another "
                     "libcuda.so.1 first")
    if cuda.timed_out:
        return Issue("driver-error", "error", f"{cuda.problem}",
                     "the GPU or its driver is stuck: look for Xid errors in `dmesg`; restarting the runtime "
                     "or rebooting clears it")
    code = cuda.init_code
    if code == nvidia.CUDA_ERROR_STUB_LIBRARY:
        return Issue("driver-missing", "error",
                     f"{cuda.library} is the CUDA toolkit's stub library, not a driver "
                     f"(LD_LIBRARY_PATH={snap.env.get('LD_LIBRARY_PATH', '')})",
                     "remove the toolkit's lib64/stubs directory from LD_LIBRARY_PATH; stubs only serve "
                     "linking")
    if code == nvidia.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
        known = [f"kernel module {snap.nvidia_module}" if snap.nvidia_module else None,
                 f"NVML library {snap.nvml.driver_version}" if snap.nvml.driver_version else None]
        versions = f" ({', '.join(k for k in known if k)})" if any(known) else ""
        return Issue("driver-mismatch", "error",
                     f"the NVIDIA driver library and the loaded kernel module differ in version{versions}: "
                     f"cuInit failed with {cuda.init_error}",
                     "reboot, so that the kernel module of the newly installed driver is loaded")
    if code == nvidia.CUDA_ERROR_NO_DEVICE:
        if "CUDA_VISIBLE_DEVICES" in snap.env:
            return hidden_nvidia(snap)
        if not snap.nvidia_module and not snap.dxg:
            return Issue("driver-missing", "error",
                         "the NVIDIA kernel module is not loaded (no /proc/driver/nvidia/version): cuInit "
                         f"failed with {cuda.init_error}",
                         "load it with `sudo modprobe nvidia`; if that fails, reinstall the driver and reboot "
                         "(with Secure Boot on, enroll the driver's key or sign the module)")
    return Issue("driver-error", "error", f"{cuda.problem}",
                 "look for NVRM or Xid errors in `dmesg`; restarting the runtime (or rebooting) usually clears "
                 "it, and on a laptop after suspend: sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm")


def driver_too_old(snap: Snapshot) -> Issue | None:
    toolkit = _toolkit()
    supported = snap.cuda.cuda_version
    if not build.is_built("cuda") or not toolkit or not supported:
        return None
    needed = archs.version_tuple(toolkit)
    if supported[0] >= needed[0]:
        return None  # same major: minor-version compatibility lets it run
    minimum = archs.min_driver(toolkit)
    driver = snap.nvml.driver_version or snap.nvidia_module or "of this machine"
    return Issue("driver-too-old", "error",
                 f"the NVIDIA driver {driver} supports CUDA up to {supported[0]}.{supported[1]}, but this "
                 f"gputrain was built with CUDA {toolkit}, which needs driver {minimum or 'a newer one'}"
                 + (" or newer" if minimum else ""),
                 f"update the NVIDIA driver to {minimum or 'a newer version'}"
                 + (" or newer" if minimum else "")
                 + f", or reinstall gputrain built with a CUDA {supported[0]}.x toolkit")


def hidden_nvidia(snap: Snapshot) -> Issue | None:
    value = snap.env.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    seen_by_driver = len(snap.nvml.devices) or len(snap.pci_gpus(pci.NVIDIA))
    visible = len(snap.cuda.devices)
    if seen_by_driver <= visible:
        return None
    return Issue("devices-hidden", "warning",
                 f"CUDA_VISIBLE_DEVICES={value!r} hides {seen_by_driver - visible} of the "
                 f"{seen_by_driver} NVIDIA GPU(s) the driver sees",
                 "unset CUDA_VISIBLE_DEVICES (or list the GPUs you want, e.g. 0,1) before Python starts: "
                 "it is read once, when CUDA initializes")


def cuda_arch(cc: tuple[int, int], snap: Snapshot) -> tuple[Issue | None, str | None]:
    """(Issue when no code in the build runs on compute capability cc, a note when it runs through
    PTX JIT)."""
    info = build.backend_info("cuda")
    text = info.get("architectures")
    try:
        targets = archs.parse_cuda_architectures(text)
    except ValueError:
        targets = None
    if targets is None:
        return None, f"cannot tell from the build record {text!r} whether sm_{cc[0]}{cc[1]} is compiled in"
    how, target = archs.cuda_coverage(cc, targets)
    arch = f"sm_{cc[0]}{cc[1]}"
    rebuild = build.reinstall_command(arch_option("cuda", arch))
    if how == "sass":
        return None, None
    if how is None:
        return Issue("arch-not-compiled", "error",
                     f"this GPU is {arch} (compute capability {cc[0]}.{cc[1]}); this gputrain was compiled "
                     f"for {text} and has no PTX that could be JIT-compiled for it",
                     f"rebuild for it: {rebuild}"), None
    toolkit = archs.version_tuple(info.get("toolkit_version"))
    supported = snap.cuda.cuda_version
    if toolkit and supported and supported < toolkit[:2]:
        return Issue("arch-not-compiled", "error",
                     f"this GPU is {arch}; this gputrain has only PTX ({target.name}) for it, and PTX from CUDA "
                     f"{toolkit[0]}.{toolkit[1]} cannot be JIT-compiled by a driver that supports CUDA "
                     f"{supported[0]}.{supported[1]}",
                     f"rebuild with machine code for it: {rebuild} (or update the NVIDIA driver)"), None
    return None, f"runs through PTX JIT from {target.name} (the first launch of each kernel is slower)"


def amd_driver(snap: Snapshot, in_topology: bool) -> Issue | None:
    """Why an AMD GPU has no working compute driver: not in the KFD topology, or the ROCm runtime
    library missing."""
    if not in_topology:
        gpus = ", ".join(g.bus_id for g in snap.pci_gpus(pci.AMD))
        return Issue("driver-missing", "error",
                     f"an AMD GPU ({gpus}) is on the PCI bus, but the amdgpu driver exposes no compute node "
                     f"in /sys/class/kfd",
                     "install the amdgpu driver with ROCm support (amdgpu-install --usecase=rocm, or your "
                     "distribution's ROCm packages) and reboot")
    if snap.amd.hip_load_error:
        return Issue("driver-missing", "error",
                     f"the ROCm runtime is not installed: {snap.amd.hip_library} could not be loaded "
                     f"({snap.amd.hip_load_error})",
                     "install ROCm's HIP runtime (amdgpu-install --usecase=rocm, or sudo apt install "
                     "rocm-hip-runtime)")
    return None


def amd_access(snap: Snapshot, render_node: str | None) -> Issue | None:
    if not snap.kfd.exists:
        if snap.platform.details.get("container"):
            return Issue("container-no-gpu", "error",
                         "this container was started without the AMD GPU: the host's GPU is in "
                         "/sys/class/kfd but /dev/kfd is missing",
                         "start the container with --device=/dev/kfd --device=/dev/dri "
                         "--group-add video --group-add render")
        return Issue("driver-missing", "error",
                     "the AMD GPU is in the KFD topology but /dev/kfd does not exist",
                     "load the amdgpu driver with ROCm support (amdgpu-install --usecase=rocm) and reboot")
    nodes = [snap.kfd] + ([access.check(render_node)] if render_node else [])
    denied = [n for n in nodes if not n.ok]
    if not denied:
        return None
    groups = sorted({n.group for n in denied if n.group})
    listing = ", ".join(f"{n.path} ({n.mode}, group {n.group or '?'})" if n.exists else f"{n.path} (missing)"
                        for n in denied)
    if groups:
        fix = (f"add your user to the group(s) {', '.join(groups)}: sudo usermod -aG {','.join(groups)} $USER, "
               f"then log out and back in (in Docker: --group-add {' --group-add '.join(groups)})")
    else:
        fix = "give this user read and write access to those device nodes, or run with --device for each"
    return Issue("device-access", "error", f"this process may not open {listing}", fix)


def hip_arch(gfx: str, snap: Snapshot) -> Issue | None:
    info = build.backend_info("hip")
    try:
        compiled = archs.parse_hip_architectures(info.get("architectures"))
    except ValueError:
        compiled = None
    if compiled is None:
        return None
    override = snap.env.get("HSA_OVERRIDE_GFX_VERSION")
    effective = archs.gfx_from_override(override) or gfx
    if effective in compiled:
        return None
    listed = ",".join(sorted(compiled))
    suggestion = archs.hsa_override_for(gfx, compiled)
    if suggestion and not override:
        return Issue("hsa-override", "error",
                     f"this GPU is {gfx}, which this gputrain was not compiled for ({listed}), but gfx1030 "
                     f"code runs on it",
                     f"set HSA_OVERRIDE_GFX_VERSION={suggestion} before Python starts (export it in the shell, "
                     f"or in the kernel's environment), or rebuild: "
                     f"{build.reinstall_command(arch_option('hip', gfx))}")
    seen = f"this GPU is {gfx}" + (f" (HSA_OVERRIDE_GFX_VERSION={override} makes it {effective})"
                                   if override else "") + f"; this gputrain was compiled for {listed}"
    return Issue("arch-not-compiled", "error", seen,
                 f"rebuild for it: {build.reinstall_command(arch_option('hip', gfx))}")


def arch_option(backend: str, arch: str | None) -> str:
    """The CMake setting that compiles gputrain for this architecture ('sm_75' → 75)."""
    if backend == "cuda":
        return f"CMAKE_CUDA_ARCHITECTURES={(arch or 'native').removeprefix('sm_')}"
    return f"GPUTRAIN_HIP_ARCHITECTURES={arch or 'native'}"


def kernel_failure(backend: str, index: int | None, name: str, arch: str | None) -> Issue | None:
    """A test kernel of this build failed on the backend's first device, in this process (every other
    check passed, or it would not have been launched)."""
    reason = build.kernel_failure(backend) if index == 0 else None
    if not reason:
        return None
    return Issue("kernels-fail", "error", f"{backend}:0 ({name}) passes every check of the probe, but a test "
                 f"kernel of this build failed on it: {reason}",
                 f"reinstall gputrain built on this machine, so that it compiles for this GPU: "
                 f"{build.reinstall_command(arch_option(backend, arch))}")


def backend_module(backend: str, index: int) -> Issue | None:
    status = build.module_status(backend)
    if not status.get("loaded"):
        return Issue("backend-load-failed", "error",
                     status.get("reason") or f"gputrain's {backend} module did not load",
                     f"reinstall gputrain in this environment ({build.reinstall_command()}); the message "
                     "names the library that is missing")
    count = status.get("device_count") or 0
    if index < count:
        return None
    return Issue("backend-no-device", "error",
                 f"gputrain's {build.NAMES[backend]} module sees {count} device(s): {status.get('reason')}",
                 "restart the Python process: the runtime reads the driver and *_VISIBLE_DEVICES once, when "
                 "it first loads")


def pci_binding(gpu: pci.PciGpu) -> Issue | None:
    """An NVIDIA GPU bound to a kernel driver other than nvidia cannot run CUDA."""
    if gpu.driver in (None, "nvidia"):
        return None
    if gpu.driver == "nouveau":
        return Issue("driver-missing", "error",
                     f"the NVIDIA GPU {gpu.bus_id} is driven by nouveau, the open-source display driver, "
                     "which has no CUDA",
                     "install the NVIDIA driver (Ubuntu: sudo ubuntu-drivers install) and reboot")
    return Issue("driver-missing", "warning",
                 f"the NVIDIA GPU {gpu.bus_id} is bound to the {gpu.driver} driver (reserved for a virtual "
                 "machine or another use), not to nvidia",
                 f"use it where it is passed through, or unbind it from {gpu.driver} and bind it to nvidia")
