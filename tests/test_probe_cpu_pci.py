"""The CPU reader (/proc/cpuinfo, affinity, cgroup quota and memory limit, /proc/meminfo) and the PCI
reader (display-class GPUs of NVIDIA and AMD, bound driver, NUMA node, names from pci.ids)."""
import pytest

from fakes.fixtures import fake_libs, scenario  # noqa: F401  (pytest fixtures)
from gputrain.probe import cpu, pci

XEON_FLAGS = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni"


def test_x86_cpu(scenario):
    scenario.root.cpuinfo("Intel(R) Xeon(R) CPU @ 2.20GHz", cpus=8, flags=XEON_FLAGS, cores_per_socket=4)
    scenario.root.user(1000, 1000, cpus="0-3,6")
    info = cpu.probe()
    assert info.model == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert (info.logical_cpus, info.physical_cores, info.affinity_cpus, info.quota_cpus) == (8, 4, 5, None)
    assert info.cores == 5
    assert info.simd == ["SSE4.2", "AVX", "AVX2", "FMA", "F16C", "AVX-512F", "AVX-512BW", "AVX-512VL",
                         "AVX-512 VNNI"]
    assert (info.memory_total, info.memory_available) == (13290452 * 1024, 12000000 * 1024)


def test_arm_cpu_features(scenario):
    scenario.root.write("/proc/cpuinfo",
                        "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm bf16\nCPU part\t: 0xd40\n"
                        "\nprocessor\t: 1\nFeatures\t: fp asimd asimddp sve i8mm bf16\n")
    info = cpu.probe()
    assert info.logical_cpus == 2 and info.physical_cores is None
    assert info.simd == ["NEON", "DotProd", "I8MM", "BF16", "SVE"]
    assert info.model.endswith("CPU")  # no model name line: the machine's name stands in


def test_cgroup_v2_quota_and_memory_limit(scenario):
    scenario.root.cpuinfo("AMD EPYC 7B12", cpus=16, flags="avx2 fma")
    scenario.root.user(1000, 1000, cpus="0-15")
    scenario.root.write("/sys/fs/cgroup/cpu.max", "250000 100000\n")
    scenario.root.write("/sys/fs/cgroup/memory.max", f"{8 << 30}\n")
    scenario.root.write("/sys/fs/cgroup/memory.current", f"{3 << 30}\n")
    info = cpu.probe()
    assert info.quota_cpus == 2.5 and info.cores == 3  # a quota of 2.5 CPUs keeps 3 cores busy at most
    assert info.memory_total == 8 << 30 and info.cgroup_memory_limit == 8 << 30
    assert info.memory_available == 5 << 30


def test_cgroup_v2_without_limits(scenario):
    scenario.root.write("/sys/fs/cgroup/cpu.max", "max 100000\n")
    scenario.root.write("/sys/fs/cgroup/memory.max", "max\n")
    info = cpu.probe()
    assert info.quota_cpus is None and info.cgroup_memory_limit is None
    assert info.memory_total == 13290452 * 1024


def test_cgroup_v1_quota_and_memory(scenario):
    scenario.root.write("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "100000\n")
    scenario.root.write("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    scenario.root.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")  # no limit
    info = cpu.probe()
    assert info.quota_cpus == 1.0 and info.cores == 1 and info.cgroup_memory_limit is None
    scenario.root.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", f"{4 << 30}\n")
    scenario.root.write("/sys/fs/cgroup/memory/memory.usage_in_bytes", f"{1 << 30}\n")
    info = cpu.probe()
    assert (info.memory_total, info.memory_available) == (4 << 30, 3 << 30)


@pytest.mark.parametrize("text, count", [("0-3,8,10-11", 7), ("5", 1), ("", None), ("x-y", None)])
def test_parse_cpu_list(text, count):
    assert cpu.parse_cpu_list(text) == count


def test_pci_gpus_are_display_class_of_nvidia_and_amd(scenario):
    r = scenario.root
    r.pci("0000:00:04.0", 0x10DE, 0x1EB8, pci_class=0x030200, driver="nvidia", numa=0)
    r.pci("0000:03:00.0", 0x1002, 0x73DF, pci_class=0x030000, driver="amdgpu")
    r.pci("0000:03:00.1", 0x1002, 0xAB28, pci_class=0x040300, driver="snd_hda_intel")  # the card's HDMI audio
    r.pci("0000:00:02.0", 0x8086, 0x3E92, pci_class=0x030000, driver="i915")  # an Intel iGPU: not ours
    r.pci("0000:00:05.0", 0x10DE, 0x20B0, pci_class=0x030200)  # no driver bound
    found = pci.gpus()
    assert [(g.bus_id, g.vendor, g.device, g.driver, g.numa_node) for g in found] == [
        ("0000:00:04.0", 0x10DE, 0x1EB8, "nvidia", 0),
        ("0000:00:05.0", 0x10DE, 0x20B0, None, None),
        ("0000:03:00.0", 0x1002, 0x73DF, "amdgpu", None),
    ]
    assert found[1].name == "NVIDIA GPU [10de:20b0]"  # no pci.ids in this tree


def test_pci_names_from_pci_ids(scenario):
    scenario.root.write("/usr/share/hwdata/pci.ids", "# comment\n1002  Advanced Micro Devices, Inc. [AMD/ATI]\n"
                        "\t73df  Navi 22 [Radeon RX 6700/6700 XT/6750 XT / 6800M/6850M XT]\n"
                        "10de  NVIDIA Corporation\n\t1eb8  TU104GL [Tesla T4]\n\t\t10de 12a2  T4 16GB\n")
    assert pci.lookup_name(0x10DE, 0x1EB8) == "TU104GL [Tesla T4]"
    assert pci.lookup_name(0x1002, 0x73DF) == "Navi 22 [Radeon RX 6700/6700 XT/6750 XT / 6800M/6850M XT]"
    assert pci.lookup_name(0x10DE, 0x73DF) is None  # a device id of the other vendor


@pytest.mark.parametrize("text, expected", [
    ("00000000:00:04.0", "0000:00:04.0"), ("0000:3B:00.0", "0000:3b:00.0"), ("00:1e.0", "0000:00:1e.0"),
    ("0001:c1:00.7", "0001:c1:00.7"), ("not a bus id", None), ("", None), (None, None),
])
def test_normalize_bus_id(text, expected):
    assert pci.normalize_bus_id(text) == expected
