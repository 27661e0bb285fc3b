"""gputrain.device_lib.list_local_devices(): TensorFlow's DeviceAttributes text format exactly as
TensorFlow 2 prints it (field order, proto3 defaults left out, GPU locality with an empty links block,
trailing newline, string escapes), and the devices it lists."""
import gputrain
from fakes.fixtures import fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import amd_card, nvidia_t4
from gputrain.device_lib import DeviceAttributes, DeviceLocality

# As TensorFlow 2.x prints `print(device_lib.list_local_devices())` on a T4 runtime (values differ).
TF_CPU = ('name: "/device:CPU:0"\ndevice_type: "CPU"\nmemory_limit: 268435456\nlocality {\n}\n'
          'incarnation: 4306435837471063751\nxla_global_id: -1\n')
TF_GPU = ('name: "/device:GPU:0"\ndevice_type: "GPU"\nmemory_limit: 14415560704\nlocality {\n  bus_id: 1\n'
          '  links {\n  }\n}\nincarnation: 13913348171336601457\nphysical_device_desc: "device: 0, name: Tesla T4, '
          'pci bus id: 0000:00:04.0, compute capability: 7.5"\nxla_global_id: -1\n')


def test_cpu_text_format():
    cpu = DeviceAttributes("/device:CPU:0", "CPU", 268435456, DeviceLocality(), 4306435837471063751)
    assert str(cpu) == TF_CPU and repr(cpu) == TF_CPU


def test_gpu_text_format():
    gpu = DeviceAttributes("/device:GPU:0", "GPU", 14415560704, DeviceLocality(bus_id=1, has_links=True),
                           13913348171336601457,
                           "device: 0, name: Tesla T4, pci bus id: 0000:00:04.0, compute capability: 7.5")
    assert str(gpu) == TF_GPU


def test_list_prints_like_tensorflows():
    cpu = DeviceAttributes("/device:CPU:0", "CPU", 268435456, DeviceLocality(), 4306435837471063751)
    assert str([cpu]) == "[" + TF_CPU + "]"
    assert str([cpu, cpu]) == "[" + TF_CPU + ", " + TF_CPU + "]"


def test_numa_node_and_defaults_left_out():
    d = DeviceAttributes("/device:GPU:1", "GPU", 0, DeviceLocality(bus_id=2, numa_node=1, has_links=True), 7,
                         xla_global_id=0)
    assert str(d) == ('name: "/device:GPU:1"\ndevice_type: "GPU"\nlocality {\n  bus_id: 2\n  numa_node: 1\n'
                      '  links {\n  }\n}\nincarnation: 7\n')


def test_strings_are_escaped_as_protobuf_text():
    d = DeviceAttributes("/device:GPU:0", "GPU", 1, DeviceLocality(), 1, 'name: "quoted" \\ it\'s\tRTX™')
    assert 'physical_device_desc: "name: \\"quoted\\" \\\\ it\\\'s\\tRTX\\342\\204\\242"\n' in str(d)


def test_cpu_only_machine(scenario, fake_build):
    (cpu,) = gputrain.device_lib.list_local_devices()
    assert (cpu.name, cpu.device_type, cpu.memory_limit, cpu.physical_device_desc) == (
        "/device:CPU:0", "CPU", 13290452 * 1024, "")
    assert cpu.incarnation != 0 and cpu.xla_global_id == -1
    assert str(cpu) == (f'name: "/device:CPU:0"\ndevice_type: "CPU"\nmemory_limit: {13290452 * 1024}\n'
                        f"locality {{\n}}\nincarnation: {cpu.incarnation}\nxla_global_id: -1\n")


def test_t4_listed_with_tensorflows_description(scenario, fake_build):
    nvidia_t4(scenario)
    cpu, gpu = gputrain.device_lib.list_local_devices()
    assert (gpu.name, gpu.device_type, gpu.memory_limit) == ("/device:GPU:0", "GPU", 15509831680)
    assert gpu.physical_device_desc == "device: 0, name: Tesla T4, pci bus id: 0000:00:04.0, compute capability: 7.5"
    assert str(gpu) == (f'name: "/device:GPU:0"\ndevice_type: "GPU"\nmemory_limit: 15509831680\nlocality {{\n'
                        f'  bus_id: 1\n  links {{\n  }}\n}}\nincarnation: {gpu.incarnation}\n'
                        f'physical_device_desc: "{gpu.physical_device_desc}"\nxla_global_id: -1\n')
    # Incarnations: random, nonzero, one per device, fixed for the process.
    again = gputrain.device_lib.list_local_devices()
    assert [d.incarnation for d in again] == [cpu.incarnation, gpu.incarnation]
    assert cpu.incarnation != gpu.incarnation and 0 < gpu.incarnation < 2**64


def test_gpu_numa_node_gives_bus_id(scenario, fake_build):
    nvidia_t4(scenario)
    scenario.root.pci("0000:00:04.0", 0x10DE, 0x1EB8, driver="nvidia", numa=1)
    _, gpu = gputrain.device_lib.list_local_devices()
    assert (gpu.locality.bus_id, gpu.locality.numa_node) == (2, 1)


def test_unusable_gpus_are_not_listed(scenario, fake_build):
    nvidia_t4(scenario)
    fake_build.backends["cuda"]["architectures"] = "90-real"
    assert [d.name for d in gputrain.device_lib.list_local_devices()] == ["/device:CPU:0"]


def test_amd_description_adds_the_gfx_arch(scenario, fake_build):
    amd_card(scenario, target=100300)
    scenario.root.write("/sys/bus/pci/devices/0000:03:00.0/product_name", "AMD Radeon RX 6800\n")
    _, gpu = gputrain.device_lib.list_local_devices()
    assert gpu.physical_device_desc == ("device: 0, name: AMD Radeon RX 6800, pci bus id: 0000:03:00.0, "
                                        "compute capability: 10.3, gfx arch: gfx1030")
    assert gpu.memory_limit == 11 << 30


def test_gpus_numbered_cuda_first(scenario, fake_build):
    amd_card(scenario, target=100300)
    nvidia_t4(scenario)
    gpus = gputrain.device_lib.list_local_devices()[1:]
    names = [(d.name, d.physical_device_desc.split(",")[1].strip()) for d in gpus]
    assert names == [("/device:GPU:0", "name: Tesla T4"), ("/device:GPU:1", "name: AMD GPU (gfx1030)")]
