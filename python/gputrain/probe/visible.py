"""The device-selection variables: CUDA_VISIBLE_DEVICES for NVIDIA; ROCR_VISIBLE_DEVICES, then
HIP_VISIBLE_DEVICES (or CUDA_VISIBLE_DEVICES, which HIP also honours) for AMD. Each is a comma list of
indices or UUIDs; as the runtimes do, the list ends at the first entry that names no device."""
from __future__ import annotations


def select(value: str | None, uuids: list[str | None]) -> list[int] | None:
    """Indices (into `uuids`, the devices in the runtime's order) that `value` leaves visible, in the
    order it names them; None when the variable is unset, which hides nothing."""
    if value is None:
        return None
    chosen: list[int] = []
    for entry in value.split(","):
        entry = entry.strip()
        index = None
        if entry.lstrip("-").isdigit():
            number = int(entry)
            index = number if 0 <= number < len(uuids) else None
        elif entry:
            matches = [i for i, u in enumerate(uuids) if u and u.lower().startswith(entry.lower())]
            index = matches[0] if len(matches) == 1 else None  # a prefix must name one device
        if index is None or index in chosen:
            break
        chosen.append(index)
    return chosen


def amd_visible(env: dict[str, str], uuids: list[str | None]) -> tuple[list[int], list[str]]:
    """(physical indices HIP will number 0, 1, ... in order, the variables that narrowed the list)."""
    order = list(range(len(uuids)))
    used = []
    rocr = select(env.get("ROCR_VISIBLE_DEVICES"), uuids)
    if rocr is not None:
        order, used = rocr, ["ROCR_VISIBLE_DEVICES"]
    hip_name = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in env else "CUDA_VISIBLE_DEVICES"
    hip = select(env.get(hip_name), [uuids[i] for i in order])
    if hip is not None:
        order, used = [order[i] for i in hip], used + [hip_name]
    return order, used
