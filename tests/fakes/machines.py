"""Ready-made fake machines for the probe tests, built on a Scenario: what a Colab T4 runtime, a
driverless NVIDIA host or an AMD workstation looks like to the probe."""
from __future__ import annotations

from . import t4


def nvidia_t4(scenario, driver_cuda: int = 12020, driver: str = "535.104.05", **script) -> None:
    """One Tesla T4 with a working driver, libcuda and NVML (a Colab GPU runtime, less Colab itself)."""
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8, driver="nvidia", numa=-1)
    scenario.root.nvidia_driver(driver, gpus=1)
    scenario.use_cuda()
    scenario.use_nvml()
    scenario.script({"cuda.count": 1, "cuda.driver_version": driver_cuda, "nvml.count": 1, "nvml.driver": driver,
                     "nvml.cuda_version": driver_cuda, **t4(), **script})


def amd_card(scenario, target: int = 100301, kfd_mode: int = 0o666, render_mode: int = 0o666, **props) -> str:
    """One AMD GPU (default an RX 6700 XT, gfx1031) in the KFD topology with accessible device nodes
    and an installed HIP runtime. Returns its PCI bus id."""
    scenario.root.kfd_cpu_node(0)
    bus = scenario.root.kfd_gpu(1, gpu_id=41000, target=target, render_minor=128, unique_id=0x77AA, **props)
    scenario.root.dev_node("/dev/kfd", mode=kfd_mode, gid=109)
    scenario.root.dev_node("/dev/dri/renderD128", mode=render_mode, gid=109)
    scenario.use_hip(str(scenario.libs["fake_empty"]))
    return bus


OWN_PID = 4242
WINDOW_TICKS = 100  # clock ticks each CPU has in the fake window, so 0.25 CPU is 25 ticks


def cpu_window(scenario, others=(), own: float = 0.0, steal: float = 0.0, unnamed: float = 0.0, cpus: int = 2,
               load=(1.10, 0.95, 0.80), busy_cpus: dict[int, float] | None = None) -> None:
    """A CPU-load window on a machine of `cpus` CPUs: `others` is [(pid, name, CPUs used, command line)],
    this process's threads use `own` CPUs, processes that end inside the window `unnamed`, and the
    hypervisor `steal`; all of it spread evenly over the CPUs unless busy_cpus gives {cpu: CPUs used}."""
    start = [(1000, 5000, 10)] * cpus
    scenario.root.cpu_ticks(start)
    scenario.root.process(OWN_PID, "python3", 300, "python3 -m ipykernel_launcher", own=True)
    for pid, name, _, cmdline in others:
        scenario.root.process(pid, name, 500, cmdline)
    scenario.root.loadavg(*load)
    busy = sum(used for *_, used, _ in others) + own + unnamed
    share = busy_cpus or {i: busy / cpus for i in range(cpus)}

    def end_of_window():
        ticks = []
        for i, (b, idle, st) in enumerate(start):
            used, stolen = round(share.get(i, 0.0) * WINDOW_TICKS), round(steal / cpus * WINDOW_TICKS)
            ticks.append((b + used, idle + WINDOW_TICKS - used - stolen, st + stolen))
        scenario.root.cpu_ticks(ticks)
        scenario.root.process(OWN_PID, "python3", 300 + round(own * WINDOW_TICKS), own=True)
        for pid, name, used, cmdline in others:
            scenario.root.process(pid, name, 500 + round(used * WINDOW_TICKS), cmdline)

    scenario.during_cpu_window(end_of_window)
