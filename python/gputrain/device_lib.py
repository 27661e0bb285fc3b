"""A drop-in for TensorFlow's `device_lib.list_local_devices()`: the CPU, then each GPU gputrain can
use, as objects whose str() is TensorFlow's DeviceAttributes text format, field for field."""
from __future__ import annotations

import random
import threading

_incarnations: dict[str, int] = {}
_lock = threading.Lock()


def _quote(text: str) -> str:
    """A protobuf text-format string literal: C escapes, and bytes outside printable ASCII as \\ooo."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in "\"'\\":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


class DeviceLocality:
    """TensorFlow's DeviceLocality: bus_id (NUMA node + 1 for a GPU, 0 for the CPU), numa_node and
    links. TensorFlow always creates `links` for a GPU, which is why an empty `links {}` is printed."""

    def __init__(self, bus_id: int = 0, numa_node: int = 0, has_links: bool = False):
        self.bus_id = bus_id
        self.numa_node = numa_node
        self.has_links = has_links

    def _text(self, indent: str) -> list[str]:
        # Proto3 text format leaves out fields at their default (0, empty).
        lines = []
        if self.bus_id:
            lines.append(f"{indent}bus_id: {self.bus_id}")
        if self.numa_node:
            lines.append(f"{indent}numa_node: {self.numa_node}")
        if self.has_links:
            lines += [f"{indent}links {{", f"{indent}}}"]
        return lines

    def __repr__(self) -> str:
        return f"DeviceLocality(bus_id={self.bus_id}, numa_node={self.numa_node})"


class DeviceAttributes:
    """One device as TensorFlow describes it. xla_global_id is -1: gputrain assigns no XLA ids."""

    def __init__(self, name: str, device_type: str, memory_limit: int, locality: DeviceLocality,
                 incarnation: int, physical_device_desc: str = "", xla_global_id: int = -1):
        self.name = name
        self.device_type = device_type
        self.memory_limit = memory_limit
        self.locality = locality
        self.incarnation = incarnation
        self.physical_device_desc = physical_device_desc
        self.xla_global_id = xla_global_id

    def __str__(self) -> str:
        lines = [f"name: {_quote(self.name)}", f"device_type: {_quote(self.device_type)}"]
        if self.memory_limit:
            lines.append(f"memory_limit: {self.memory_limit}")
        lines += ["locality {"] + self.locality._text("  ") + ["}"]
        if self.incarnation:
            lines.append(f"incarnation: {self.incarnation}")
        if self.physical_device_desc:
            lines.append(f"physical_device_desc: {_quote(self.physical_device_desc)}")
        if self.xla_global_id:
            lines.append(f"xla_global_id: {self.xla_global_id}")
        return "\n".join(lines) + "\n"

    # Printing a list of these shows each in text format, as it does for TensorFlow's protos.
    __repr__ = __str__


def incarnation(name: str) -> int:
    """A random nonzero 64-bit number per device, fixed for the life of the process."""
    with _lock:
        if name not in _incarnations:
            value = 0
            while value == 0:
                value = random.SystemRandom().getrandbits(64)
            _incarnations[name] = value
        return _incarnations[name]


def physical_device_desc(device) -> str:
    """TensorFlow's wording; for AMD with the gfx architecture appended."""
    text = (f"device: {device.index}, name: {device.name}, pci bus id: {device.pci_bus_id or '<undefined>'}, "
            f"compute capability: {device.compute_capability}")
    if device.backend == "hip":
        text += f", gfx arch: {device.arch}"
    return text


def from_devices(devices) -> list[DeviceAttributes]:
    out = []
    cpu = next(d for d in devices if d.backend == "cpu")
    out.append(DeviceAttributes("/device:CPU:0", "CPU", cpu.memory_total or 0, DeviceLocality(),
                                incarnation("/device:CPU:0")))
    gpus = [d for d in devices if d.is_gpu and d.usable and d.index is not None]
    for n, d in enumerate(sorted(gpus, key=lambda d: (d.backend != "cuda", d.index))):
        name = f"/device:GPU:{n}"
        numa = d.numa_node or 0
        memory = d.memory_free if d.memory_free is not None else d.memory_total
        out.append(DeviceAttributes(name, "GPU", memory or 0,
                                    DeviceLocality(bus_id=numa + 1, numa_node=numa, has_links=True),
                                    incarnation(name), physical_device_desc(d)))
    return out


def list_local_devices(session_config=None) -> list[DeviceAttributes]:
    """TensorFlow's signature; `session_config` is accepted for compatibility and has no effect.
    memory_limit is the memory this process can use: the host's (or its cgroup limit) for the CPU,
    where TensorFlow prints a fixed 256 MiB, and the GPU's free memory (total when unknown)."""
    from .probe.api import devices

    del session_config
    return from_devices(devices())
