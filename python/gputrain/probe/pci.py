"""GPUs on the PCI bus from /sys/bus/pci/devices: vendor, device id, class, bound kernel driver and
NUMA node. This sees hardware even where no driver is installed, and inside containers, whose /sys is
the host's. Names come from pci.ids when the system has it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import files

NVIDIA = 0x10DE
AMD = 0x1002
VENDOR_NAMES = {NVIDIA: "NVIDIA", AMD: "AMD"}
# PCI base class 0x03 (display): 0x0300 VGA, 0x0302 3D controller (data-centre cards), 0x0380 other.
_DISPLAY_CLASS = 0x03

_BUS_ID = re.compile(r"^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")
_PCI_IDS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")


def normalize_bus_id(text: str | None) -> str | None:
    """'00000000:00:04.0' (NVML), '0000:00:04.0', '00:04.0' → '0000:00:04.0'; None if malformed."""
    if not text:
        return None
    m = _BUS_ID.match(text.strip())
    if not m:
        return None
    domain, bus, dev, fn = m.groups()
    return f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(dev, 16):02x}.{fn}"


@dataclass
class PciGpu:
    bus_id: str
    vendor: int
    device: int
    pci_class: int
    driver: str | None  # kernel driver bound: nvidia, nouveau, amdgpu, vfio-pci, or None
    numa_node: int | None

    @property
    def vendor_name(self) -> str:
        return VENDOR_NAMES.get(self.vendor, f"0x{self.vendor:04x}")

    @property
    def name(self) -> str:
        return lookup_name(self.vendor, self.device) or (
            f"{self.vendor_name} GPU [{self.vendor:04x}:{self.device:04x}]")


def gpus() -> list[PciGpu]:
    """Display-class devices of NVIDIA and AMD, in bus order."""
    found = []
    for entry in files.listdir("/sys/bus/pci/devices"):
        base = f"/sys/bus/pci/devices/{entry}"
        vendor = files.read_int(f"{base}/vendor")
        pci_class = files.read_int(f"{base}/class")
        if vendor not in VENDOR_NAMES or pci_class is None or pci_class >> 16 != _DISPLAY_CLASS:
            continue
        bus_id = normalize_bus_id(entry)
        if bus_id is None:
            continue
        numa = files.read_int(f"{base}/numa_node")
        found.append(PciGpu(bus_id=bus_id, vendor=vendor, device=files.read_int(f"{base}/device") or 0,
                            pci_class=pci_class, driver=files.readlink_name(f"{base}/driver"),
                            numa_node=numa if numa is not None and numa >= 0 else None))
    return found


def numa_node(bus_id: str | None) -> int | None:
    if not bus_id:
        return None
    value = files.read_int(f"/sys/bus/pci/devices/{bus_id}/numa_node")
    return value if value is not None and value >= 0 else None


def lookup_name(vendor: int, device: int) -> str | None:
    """The device's name from pci.ids ('TU104GL [Tesla T4]'), or None. The file lists a vendor line
    unindented and its devices indented by one tab, in order."""
    vendor_key, device_key = f"{vendor:04x}", f"\t{device:04x}"
    for candidate in _PCI_IDS:
        text = files.read(candidate, 8 << 20)
        if text is None:
            continue
        in_vendor = False
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            if not line.startswith("\t"):
                in_vendor = line.startswith(vendor_key + " ")
            elif in_vendor and line.startswith(device_key + " "):
                return line[len(device_key):].strip()
        return None
    return None
