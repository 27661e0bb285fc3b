"""How gputrain's OpenMP threads wait between CPU ops. Unless told otherwise, libgomp spins 300,000 times
(~9 ms on a 2-core AMD EPYC) before a thread sleeps, read once as `_core` loads it; beside one busy process
that made quickstart steps about 2x slower (9-28x with more load) than a bound of SPIN_COUNT spins, which
cost the idle machine nothing measurable (benchmarks/bench_cpu_contention.py; rows in benchmarks/RESULTS.md)."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

# 300 spins took 9 µs on that EPYC (30 ns a spin) and 3,000 were already 1.5x slower beside a busy process;
# Intel's PAUSE is about twice as slow since Skylake, so the bound stays well below where that began.
SPIN_COUNT = "300"
USER_VARIABLES = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")  # either one decides how libgomp's threads wait
LIBGOMP_SPINS = {"": 300_000, "active": 30_000_000_000, "passive": 0}  # by OMP_WAIT_POLICY, when no GOMP_SPINCOUNT
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


@dataclass(frozen=True)
class WaitPolicy:
    source: str  # "gputrain" (its default applied), "user" (their variables), "too-late" (libgomp ran first)
    setting: str  # what libgomp's threads run with, as variables: "GOMP_SPINCOUNT=300"
    spins: int  # how many times an idle thread checks for work before it sleeps
    library: str | None = None  # for "too-late": the libgomp another library had already loaded

    def __str__(self) -> str:
        if self.source == "too-late":
            return f"libgomp's default ({self.setting}; {self.library} was loaded before gputrain)"
        return f"{self.setting} ({'gputrain' if self.source == 'gputrain' else 'your'} setting)"


_chosen: WaitPolicy | None = None


def loaded_libgomp(maps: str) -> str | None:
    """Path of the libgomp.so.1 mapped in a process, from its /proc/PID/maps text. Copies bundled in
    wheels (libgomp-<hash>.so.1) are separate runtimes that do not share gputrain's settings."""
    for line in maps.splitlines():
        fields = line.split(None, 5)  # address, perms, offset, device, inode, then the path if any
        if len(fields) == 6 and os.path.basename(fields[5].strip()).startswith("libgomp.so.1"):
            return fields[5].strip()
    return None


def libgomp_spins(environ: Mapping[str, str]) -> int:
    """The spin count libgomp derives from these variables: GOMP_SPINCOUNT ('20k', 'infinite') if valid,
    else by OMP_WAIT_POLICY; a value libgomp rejects counts as unset, as it does there."""
    count = environ.get("GOMP_SPINCOUNT", "").strip().lower()
    if count in ("infinite", "infinity"):
        return 2**64 - 1
    number, unit = (count[:-1].strip(), count[-1]) if count and count[-1] in _UNITS else (count, "")
    if number.isdigit():
        return int(number) * _UNITS[unit]
    policy = environ.get("OMP_WAIT_POLICY", "").strip().lower()
    return LIBGOMP_SPINS.get(policy, LIBGOMP_SPINS[""])


def decide(environ: Mapping[str, str], maps: str) -> WaitPolicy:
    """The wait policy libgomp will start with, given the environment and this process's memory map."""
    own = [f"{name}={environ[name]}" for name in USER_VARIABLES if environ.get(name)]
    if own:
        return WaitPolicy("user", " ".join(own), libgomp_spins(environ))
    library = loaded_libgomp(maps)
    if library:
        return WaitPolicy("too-late", "GOMP_SPINCOUNT=300000", LIBGOMP_SPINS[""], library)
    return WaitPolicy("gputrain", f"GOMP_SPINCOUNT={SPIN_COUNT}", int(SPIN_COUNT))


def chosen() -> WaitPolicy | None:
    """What was decided when gputrain was imported (None before that)."""
    return _chosen


@contextlib.contextmanager
def openmp_settings():
    """Around the first import of `_core`: sets gputrain's spin count for libgomp to read as it loads,
    then takes it out of os.environ again, so that programs this process starts and libraries it loads
    later (which may bundle their own OpenMP) see the environment the user left."""
    global _chosen
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:  # not Linux: no libgomp of ours to find, nothing lost by assuming none
        maps = ""
    _chosen = decide(os.environ, maps)
    if _chosen.source != "gputrain":
        yield
        return
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        yield
    finally:
        del os.environ["GOMP_SPINCOUNT"]
