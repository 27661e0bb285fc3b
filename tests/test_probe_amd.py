"""The AMD layer: the KFD topology (gfx names, compute units, PCI location, render node), amdgpu sysfs
(VRAM, busy percent, hwmon), per-process VRAM, libdrm's product names, device-node access and the
ROCR/HIP_VISIBLE_DEVICES rules."""
import pytest

from fakes.fixtures import fake_libs, scenario  # noqa: F401  (pytest fixtures)
from gputrain.probe import access, amd, visible


@pytest.mark.parametrize("target, name, version", [
    (100301, "gfx1031", (10, 3, 1)), (100300, "gfx1030", (10, 3, 0)), (90010, "gfx90a", (9, 0, 10)),
    (90402, "gfx942", (9, 4, 2)), (110000, "gfx1100", (11, 0, 0)), (90012, "gfx90c", (9, 0, 12)),
])
def test_gfx_names_from_target_version(target, name, version):
    assert amd.gfx_name(target) == (name, version)


def test_kfd_topology_gpu(scenario):
    r = scenario.root
    r.kfd_cpu_node(0)
    bus = r.kfd_gpu(1, gpu_id=53895, target=100301, bus=0x2D, simd=80, simd_per_cu=2, render_minor=129,
                    unique_id=0x1A2B3C4D5E6F7081, vram_total=12 << 30, vram_used=3 << 30)
    hw = "/sys/bus/pci/devices/0000:2d:00.0/hwmon/hwmon3"
    r.write(f"{hw}/temp1_input", "52000\n")
    r.write(f"{hw}/power1_average", "41000000\n")
    r.write(f"{hw}/power1_cap", "186000000\n")
    r.write("/sys/class/kfd/kfd/proc/4321/vram_53895", f"{2 << 30}\n")
    r.write("/sys/class/kfd/kfd/proc/4400/vram_53895", "0\n")  # a process with no VRAM on this GPU
    r.write("/sys/module/amdgpu/version", "6.7.0\n")
    report = amd.probe()
    assert report.kfd_present and report.driver_version == "6.7.0"
    (gpu,) = report.gpus
    assert bus == "0000:2d:00.0" == gpu.pci_bus_id
    assert (gpu.node, gpu.gpu_id, gpu.gfx, gpu.gfx_version, gpu.compute_units, gpu.wavefront_size, gpu.clock_mhz) == (
        1, 53895, "gfx1031", (10, 3, 1), 40, 32, 2589)
    assert (gpu.vram_total, gpu.vram_used, gpu.utilization) == (12 << 30, 3 << 30, 7)
    assert (gpu.temperature, gpu.power_w, gpu.power_limit_w) == (52, 41.0, 186.0)
    assert gpu.render_node == "/dev/dri/renderD129" and gpu.uuid == "GPU-1a2b3c4d5e6f7081"
    assert gpu.processes == [(4321, 2 << 30)]
    assert gpu.name == "AMD GPU (gfx1031)"  # no product name, amdgpu.ids or pci.ids in this tree


def test_product_name_from_amdgpu_ids_by_revision(scenario):
    r = scenario.root
    r.write("/usr/share/libdrm/amdgpu.ids", "# List of AMDGPU IDs\n1.0.0\n73DF,\tC0,\tAMD Radeon RX 6700 XT\n"
                                            "73DF,\tC3,\tAMD Radeon RX 6800M\n")
    r.kfd_gpu(1, gpu_id=1, target=100301)
    r.write("/sys/bus/pci/devices/0000:03:00.0/revision", "0xc3\n")
    assert amd.probe().gpus[0].name == "AMD Radeon RX 6800M"
    r.write("/sys/bus/pci/devices/0000:03:00.0/revision", "0xff\n")  # unknown revision: first entry of the id
    assert amd.probe().gpus[0].name == "AMD Radeon RX 6700 XT"
    r.write("/sys/bus/pci/devices/0000:03:00.0/product_name", "Radeon Pro W6600\n")  # the board's own name wins
    assert amd.probe().gpus[0].name == "Radeon Pro W6600"


def test_vram_from_mem_bank_when_amdgpu_files_are_missing(scenario):
    scenario.root.kfd_gpu(1, gpu_id=7, target=90010, vram_total=None, vram_used=None)
    scenario.root.write("/sys/class/kfd/kfd/topology/nodes/1/mem_banks/0/properties",
                        f"heap_type 1\nsize_in_bytes {64 << 30}\n")
    (gpu,) = amd.probe().gpus
    assert gpu.gfx == "gfx90a" and gpu.vram_total == 64 << 30 and gpu.vram_used is None


def test_no_kfd(scenario):
    report = amd.probe()
    assert (report.kfd_present, report.gpus, report.hip_library) == (False, [], None)


def test_hip_runtime_presence_is_recorded_only_with_a_gpu(scenario, fake_libs):
    scenario.root.kfd_gpu(1, gpu_id=1, target=100300)
    report = amd.probe()
    assert report.hip_load_error and "no-such-library.so" in report.hip_load_error
    scenario.use_hip(str(fake_libs["fake_empty"]))  # any loadable file stands for the runtime
    report = amd.probe()
    assert report.hip_load_error is None and report.hip_library == str(fake_libs["fake_empty"])


def test_node_access_by_group(scenario):
    r = scenario.root
    r.dev_node("/dev/kfd", mode=0o660, gid=109)
    r.user(uid=1000, gid=1000, groups=(1000,))
    denied = access.check("/dev/kfd")
    assert (denied.exists, denied.ok, denied.group, denied.mode) == (True, False, "render", "-rw-rw----")
    r.user(uid=1000, gid=1000, groups=(1000, 109))
    assert access.check("/dev/kfd").ok
    r.user(uid=0, gid=0)
    assert access.check("/dev/kfd").ok  # root opens anything
    r.dev_node("/dev/dri/renderD128", mode=0o666, gid=44)
    r.user(uid=1000, gid=1000, groups=(1000,))
    assert access.check("/dev/dri/renderD128").ok  # world read-write
    missing = access.check("/dev/nope")
    assert (missing.exists, missing.ok) == (False, False)


UUIDS = ["GPU-aaaa000000000001", "GPU-bbbb000000000002", "GPU-cccc000000000003"]


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", []), ("1", [1]), ("2,0", [2, 0]), ("0,7,1", [0]), ("-1", []), ("1,1", [1]),
    ("GPU-bbbb", [1]), ("GPU-", []), ("GPU-cccc000000000003,0", [2, 0]),
])
def test_visible_devices_lists(value, expected):
    assert visible.select(value, UUIDS) == expected


def test_amd_visibility_layers_rocr_then_hip():
    assert visible.amd_visible({}, UUIDS) == ([0, 1, 2], [])
    assert visible.amd_visible({"ROCR_VISIBLE_DEVICES": "2,1"}, UUIDS) == ([2, 1], ["ROCR_VISIBLE_DEVICES"])
    assert visible.amd_visible({"ROCR_VISIBLE_DEVICES": "2,1", "HIP_VISIBLE_DEVICES": "1"}, UUIDS) == (
        [1], ["ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"])
    # HIP honours CUDA_VISIBLE_DEVICES when HIP_VISIBLE_DEVICES is unset.
    assert visible.amd_visible({"CUDA_VISIBLE_DEVICES": "0"}, UUIDS) == ([0], ["CUDA_VISIBLE_DEVICES"])
