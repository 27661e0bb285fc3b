"""Whether this process may open a device node (/dev/kfd, /dev/dri/renderD128) for reading and
writing, and if not, which group would grant it. Identity and group names are read through the probe's
root (/proc/self/status, /etc/group), so tests can describe a user who lacks a group."""
from __future__ import annotations

import os
import stat as _stat
from dataclasses import dataclass

from . import files


@dataclass
class NodeAccess:
    path: str
    exists: bool
    ok: bool
    group: str | None = None  # the node's group name ('render', 'video') when it has one
    mode: str | None = None  # 'crw-rw----'


def identity() -> tuple[int, set[int]]:
    """(effective uid, every group id) of this process."""
    status = files.key_values(files.read("/proc/self/status"), ":")
    try:
        uid = int(status["Uid"].split()[1])
        gids = {int(g) for g in status.get("Groups", "").split()}
        gids.add(int(status["Gid"].split()[1]))
        return uid, gids
    except (KeyError, IndexError, ValueError):
        return os.geteuid(), set(os.getgroups()) | {os.getegid()}


def group_name(gid: int) -> str | None:
    for line in (files.read("/etc/group") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].strip() == str(gid):
            return parts[0]
    return None


def check(p: str) -> NodeAccess:
    st = files.stat(p)
    if st is None:
        return NodeAccess(path=p, exists=False, ok=False)
    uid, gids = identity()
    want = 0o6  # read and write
    if uid == 0:
        granted = True
    elif st.st_uid == uid:
        granted = (st.st_mode >> 6) & want == want
    elif st.st_gid in gids:
        granted = (st.st_mode >> 3) & want == want
    else:
        granted = st.st_mode & want == want
    if not granted and not files.is_fake_root():
        # An ACL (logind's uaccess on desktops) can grant what the mode bits do not; os.access sees it.
        # Under a test root it would judge the fake file with the test runner's own identity instead.
        granted = os.access(p, os.R_OK | os.W_OK)
    return NodeAccess(path=p, exists=True, ok=granted, group=group_name(st.st_gid),
                      mode=_stat.filemode(st.st_mode))
