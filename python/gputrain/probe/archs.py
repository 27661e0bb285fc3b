"""Which GPU architectures this build can run on: parsing the architecture lists recorded in
build_info() ("75,80-real,90", "native (90-real)", "gfx1030,gfx1031"), the rules for running CUDA SASS
and JIT-compiling PTX on a device, and the minimum driver each CUDA toolkit needs."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Minimum Linux driver for a CUDA toolkit major version under minor-version compatibility, from the
# table "CUDA Toolkit and Minimum Required Driver Version for CUDA Minor Version Compatibility" in
# NVIDIA's CUDA Toolkit release notes.
MIN_DRIVER = {13: "580", 12: "525.60.13", 11: "450.80.02"}

ALL = "all"  # CMake's "all"/"all-major": every architecture of the toolkit, PTX for the newest
_CUDA_ENTRY = re.compile(r"^(\d{2,3})([af]?)(?:-(real|virtual))?$")


@dataclass(frozen=True)
class CudaTarget:
    major: int
    minor: int
    sass: bool  # machine code for this architecture
    ptx: bool  # PTX the driver can JIT-compile for this or any newer architecture
    variant: str = ""  # "a": architecture-specific (90a), "f": family-specific; neither has forward PTX

    @property
    def name(self) -> str:
        return f"sm_{self.major}{self.minor}{self.variant}"


def parse_cuda_architectures(text: str | None):
    """A list of CudaTarget, ALL, or None when the string says nothing checkable ('native' alone).
    Raises ValueError for an entry that is not CMake's syntax."""
    if not text:
        return None
    text = text.strip()
    if text in ("all", "all-major"):
        return ALL
    if text.startswith("native"):
        m = re.match(r"native\s*\((.*)\)$", text)
        if not m:
            return None
        text = m.group(1)
    targets = []
    for entry in re.split(r"[,;]", text):
        entry = entry.strip()
        if not entry:
            continue
        m = _CUDA_ENTRY.match(entry)
        if not m:
            raise ValueError(f"architectures: {entry!r} is not a CUDA architecture such as 75, 80-real or 90a")
        number, variant, kind = int(m.group(1)), m.group(2), m.group(3)
        targets.append(CudaTarget(major=number // 10, minor=number % 10, sass=kind != "virtual",
                                  ptx=kind != "real", variant=variant))
    return targets


def cuda_coverage(cc: tuple[int, int], targets) -> tuple[str | None, CudaTarget | None]:
    """('sass', target) when machine code runs on compute capability `cc`, ('ptx', target) when only
    PTX can be JIT-compiled for it, (None, None) when nothing in the build runs there.
    SASS for X.y runs on X.z with z >= y (an 'a' target only on X.y itself); PTX for X.y JITs on any
    device of X.y or newer."""
    if targets == ALL:
        return "sass", None
    # Among several compatible cubins the runtime loads the closest one, as reported here.
    runs = [t for t in targets
            if t.sass and t.major == cc[0] and (t.minor == cc[1] if t.variant == "a" else t.minor <= cc[1])]
    if runs:
        return "sass", max(runs, key=lambda t: (t.minor, t.variant == "a"))
    best = None
    for t in targets:
        if t.ptx and not t.variant and (t.major, t.minor) <= cc:
            if best is None or (t.major, t.minor) > (best.major, best.minor):
                best = t
    return ("ptx", best) if best else (None, None)


def parse_hip_architectures(text: str | None) -> set[str] | None:
    """'gfx1030,gfx1031' or 'gfx90a:xnack-' → {'gfx1030', 'gfx1031'} (feature suffixes dropped)."""
    if not text:
        return None
    archs = {entry.strip().split(":")[0] for entry in re.split(r"[,;]", text) if entry.strip()}
    for arch in archs:
        if not re.fullmatch(r"gfx[0-9a-f]{3,4}", arch):
            raise ValueError(f"architectures: {arch!r} is not an AMD architecture such as gfx1030")
    return archs


def hsa_override_for(gfx: str, compiled: set[str]) -> str | None:
    """The HSA_OVERRIDE_GFX_VERSION that lets a gfx103x card run gfx1030 code ('10.3.0'), when gfx1030
    is compiled in. RDNA2 chips share one instruction set; no other family is safe to override."""
    if re.fullmatch(r"gfx103[0-9a-f]", gfx) and gfx != "gfx1030" and "gfx1030" in compiled:
        return "10.3.0"
    return None


def gfx_from_override(value: str | None) -> str | None:
    """HSA_OVERRIDE_GFX_VERSION '10.3.0' → 'gfx1030'; None when unset or malformed."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\.(\d+)\s*", value or "")
    if not m:
        return None
    major, minor, step = (int(x) for x in m.groups())
    return f"gfx{major}{minor:x}{step:x}"


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """'535.104.05' → (535, 104, 5); '13.0.88' → (13, 0, 88)."""
    if not text:
        return None
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts) if parts else None


def cuda_version_text(version: int | None) -> str | None:
    """cuDriverGetVersion's 13000 → '13.0'."""
    if not version:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


def min_driver(toolkit: str | None) -> str | None:
    version = version_tuple(toolkit)
    return MIN_DRIVER.get(version[0]) if version else None
