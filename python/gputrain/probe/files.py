"""Reads the files the probe looks at (/sys, /proc, /dev, /etc, marker files) through one root: `/`,
or the directory the test hook GPUTRAIN_PROBE_ROOT names, which holds a fake tree. Every read here
returns None instead of raising."""
from __future__ import annotations

import os
import stat as _stat

from .. import settings


def root() -> str:
    return settings.get("GPUTRAIN_PROBE_ROOT") or "/"


def is_fake_root() -> bool:
    return root() != "/"


def path(p: str) -> str:
    """The real location of absolute path `p` under the probe's root."""
    if not p.startswith("/"):
        raise ValueError(f"path: expected an absolute path, got {p!r}")
    r = root()
    return p if r == "/" else os.path.join(r, p.lstrip("/"))


def read(p: str, limit: int = 1 << 20) -> str | None:
    """Text of a file, or None when it is missing or unreadable. Sysfs files are small; `limit` keeps
    a stray large file from being read whole."""
    try:
        with open(path(p), "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def read_line(p: str) -> str | None:
    text = read(p, 4096)
    return None if text is None else text.strip()


def read_int(p: str, base: int = 0) -> int | None:
    """An integer file such as sysfs's `0x10de` or `4098`; base 0 accepts both."""
    text = read_line(p)
    try:
        return int(text, base) if text else None
    except ValueError:
        return None


def exists(p: str) -> bool:
    return os.path.exists(path(p))


def is_dir(p: str) -> bool:
    return os.path.isdir(path(p))


def listdir(p: str) -> list[str]:
    try:
        return sorted(os.listdir(path(p)))
    except OSError:
        return []


def readlink_name(p: str) -> str | None:
    """Last component of a symlink's target (sysfs `driver` links), or None."""
    try:
        return os.path.basename(os.readlink(path(p)))
    except OSError:
        return None


def stat(p: str) -> os.stat_result | None:
    try:
        return os.stat(path(p))
    except OSError:
        return None


def is_char_device(p: str) -> bool:
    # A test tree cannot hold real device nodes without root, so there a regular file stands for one.
    st = stat(p)
    if st is None:
        return False
    return _stat.S_ISCHR(st.st_mode) or (is_fake_root() and _stat.S_ISREG(st.st_mode))


def key_values(text: str | None, sep: str | None = None) -> dict[str, str]:
    """Lines of `key value` (KFD properties) or `key: value` (/proc/meminfo, cpuinfo) as a dict;
    the first occurrence of a key wins."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        if sep is None:
            parts = line.split(None, 1)
        else:
            parts = line.split(sep, 1)
        if len(parts) == 2:
            key = parts[0].strip()
            if key and key not in out:
                out[key] = parts[1].strip()
    return out
