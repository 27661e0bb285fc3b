"""How gputrain's OpenMP threads wait: the choice made at import (gputrain's bounded spin count, the
user's own variables, or too late because libgomp was loaded first), what libgomp itself reports it
started with (in a child process, as the choice is made once per process), and the doctor's finding."""
import json
import os
import subprocess
import sys

import pytest

import gputrain
from fakes.fixtures import fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import cpu_window
from gputrain import cpu_threads

SYSTEM_GOMP = "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0"


def maps(*paths):
    return "".join(f"7f00{i:08x}000-7f00{i:08x}fff r-xp 00000000 08:01 {1000 + i}   {p}\n"
                   for i, p in enumerate(paths)) + "7ffd1000-7ffd2000 rw-p 00000000 00:00 0   [stack]\n"


def test_gputrain_bounds_the_spin_when_nothing_is_set():
    chosen = cpu_threads.decide({}, maps("/usr/lib/libstdc++.so.6.0.30"))
    assert chosen == cpu_threads.WaitPolicy("gputrain", f"GOMP_SPINCOUNT={cpu_threads.SPIN_COUNT}",
                                            int(cpu_threads.SPIN_COUNT))
    assert str(chosen) == f"GOMP_SPINCOUNT={cpu_threads.SPIN_COUNT} (gputrain setting)"


@pytest.mark.parametrize("environ, setting, spins", [
    ({"OMP_WAIT_POLICY": "active"}, "OMP_WAIT_POLICY=active", 30_000_000_000),
    ({"OMP_WAIT_POLICY": "Passive"}, "OMP_WAIT_POLICY=Passive", 0),
    ({"GOMP_SPINCOUNT": "infinite", "OMP_NUM_THREADS": "1"}, "GOMP_SPINCOUNT=infinite", 2**64 - 1),
    ({"GOMP_SPINCOUNT": "20k", "OMP_WAIT_POLICY": "passive"}, "GOMP_SPINCOUNT=20k OMP_WAIT_POLICY=passive", 20_000),
    ({"GOMP_SPINCOUNT": "3M"}, "GOMP_SPINCOUNT=3M", 3_000_000),
    ({"GOMP_SPINCOUNT": "lots", "OMP_WAIT_POLICY": "passive"}, "GOMP_SPINCOUNT=lots OMP_WAIT_POLICY=passive", 0),
    ({"OMP_WAIT_POLICY": "sometimes"}, "OMP_WAIT_POLICY=sometimes", 300_000),
])
def test_the_users_own_setting_wins(environ, setting, spins):
    # Even with libgomp already loaded: it started with the user's variables, which were set before.
    # Values libgomp rejects ("lots", "sometimes") leave its default for that variable.
    chosen = cpu_threads.decide(environ, maps(SYSTEM_GOMP))
    assert chosen == cpu_threads.WaitPolicy("user", setting, spins) and str(chosen) == f"{setting} (your setting)"


def test_an_empty_variable_counts_as_unset():
    assert cpu_threads.decide({"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": ""}, "").source == "gputrain"


@pytest.mark.parametrize("path", [SYSTEM_GOMP, "/opt/conda/lib/libgomp.so.1"])
def test_too_late_when_libgomp_is_already_loaded(path):
    chosen = cpu_threads.decide({"OMP_NUM_THREADS": "2"}, maps("/usr/lib/libc.so.6", path))
    assert chosen == cpu_threads.WaitPolicy("too-late", "GOMP_SPINCOUNT=300000", 300_000, path)
    assert str(chosen) == f"libgomp's default (GOMP_SPINCOUNT=300000; {path} was loaded before gputrain)"


def test_a_copy_bundled_in_a_wheel_is_another_runtime():
    # PyTorch and scikit-learn wheels carry libgomp under a hashed name; gputrain's own is still unstarted.
    bundled = maps("/site-packages/torch/lib/libgomp-a34b3233.so.1", "/site-packages/scikit_learn.libs/"
                   "libgomp-a34b3233.so.1.0.0")
    assert cpu_threads.decide({}, bundled).source == "gputrain"


def _child(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**clean, "OMP_DISPLAY_ENV": "verbose", **env})


REPORT = ("import json, os, gputrain; from gputrain import cpu_threads as c; "
          "print(json.dumps([c.chosen().source, os.environ.get('GOMP_SPINCOUNT'), "
          "c.loaded_libgomp(open('/proc/self/maps').read())]))")


def _started_with(result) -> str:
    """The spin count libgomp printed at its start (OMP_DISPLAY_ENV=verbose)."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("GOMP_SPINCOUNT = ")]
    assert len(lines) == 1, result.stderr  # one libgomp, started once
    return lines[0]


def _gnu_openmp(result) -> None:
    if json.loads(result.stdout)[2] is None:
        pytest.skip("this gputrain was not built with GNU OpenMP (no libgomp.so.1 loaded)")


def test_libgomp_starts_with_gputrains_spin_count_and_the_environment_is_left_as_it_was():
    result = _child(REPORT)
    assert result.returncode == 0, result.stderr
    _gnu_openmp(result)
    assert json.loads(result.stdout)[:2] == ["gputrain", None]
    assert _started_with(result) == f"GOMP_SPINCOUNT = '{cpu_threads.SPIN_COUNT}'"


def test_libgomp_starts_with_the_users_setting():
    result = _child(REPORT, GOMP_SPINCOUNT="300000")
    assert result.returncode == 0, result.stderr
    _gnu_openmp(result)
    assert json.loads(result.stdout)[:2] == ["user", "300000"]
    assert _started_with(result) == "GOMP_SPINCOUNT = '300000'"


@pytest.mark.parametrize("environ", [{}, {"GOMP_SPINCOUNT": "0"}, {"GOMP_SPINCOUNT": "20K"},
                                     {"GOMP_SPINCOUNT": "lots"}, {"OMP_WAIT_POLICY": "passive"},
                                     {"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "x"}])
def test_the_spin_count_is_the_one_libgomp_derives(environ):
    result = _child("import ctypes; ctypes.CDLL('libgomp.so.1')", **environ)
    if result.returncode != 0:
        pytest.skip(f"libgomp.so.1 does not load here: {result.stderr.strip()[-200:]}")
    assert _started_with(result) == f"GOMP_SPINCOUNT = '{cpu_threads.libgomp_spins(environ)}'"


def test_too_late_when_another_library_loaded_libgomp_first():
    result = _child("import ctypes; ctypes.CDLL('libgomp.so.1'); " + REPORT)
    if result.returncode != 0 and "libgomp.so.1" in result.stderr:
        pytest.skip("no libgomp.so.1 on this machine")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[:2] == ["too-late", None]
    assert _started_with(result) == "GOMP_SPINCOUNT = '300000'"


def too_late(monkeypatch):
    monkeypatch.setattr(cpu_threads, "_chosen", cpu_threads.WaitPolicy("too-late", "GOMP_SPINCOUNT=300000", 300_000,
                                                                       "/opt/conda/lib/libgomp.so.1"))


def test_doctor_says_when_the_wait_policy_could_not_be_set(scenario, fake_build, monkeypatch):
    too_late(monkeypatch)
    report = gputrain.doctor()
    (f,) = report.by_id("openmp-wait-policy")
    assert f.severity == "info"
    assert f.seen == ("libgomp (/opt/conda/lib/libgomp.so.1) was loaded by another library before gputrain, so "
                      "gputrain could not bound how long its OpenMP threads spin after each op: they run with "
                      "libgomp's default (GOMP_SPINCOUNT=300000, milliseconds of a busy core), which slows CPU "
                      "training several times when other work shares the cores")
    spin = cpu_threads.SPIN_COUNT
    assert f.action == (f"import gputrain before that library, or set GOMP_SPINCOUNT={spin} before anything is "
                        f"imported (first cell: import os; os.environ['GOMP_SPINCOUNT'] = '{spin}'), then restart "
                        "the kernel")
    assert ("  OpenMP threads wait: libgomp's default (GOMP_SPINCOUNT=300000; /opt/conda/lib/libgomp.so.1 was "
            "loaded before gputrain)\n") in str(report)
    assert report.to_dict()["openmp_wait"] == {"source": "too-late", "setting": "GOMP_SPINCOUNT=300000",
                                               "spins": 300_000, "library": "/opt/conda/lib/libgomp.so.1"}


def test_it_is_a_warning_when_other_work_shares_the_cores(scenario, fake_build, monkeypatch):
    too_late(monkeypatch)
    cpu_window(scenario, others=[(901, "python3", 1.0, "python3 -c while True: pass")])
    report = gputrain.doctor()
    assert [(f.id, f.severity) for f in report.findings] == [
        ("no-gpu", "warning"), ("cpu-busy", "warning"), ("openmp-wait-policy", "warning")]
    busy = report.findings[1]
    assert "; gputrain's OpenMP threads wait with libgomp's default (GOMP_SPINCOUNT=300000; " in busy.seen
    assert "; if it must keep running, let gputrain's idle threads sleep sooner: set GOMP_SPINCOUNT=" in busy.action


def test_no_finding_when_gputrain_or_the_user_chose(scenario, fake_build, monkeypatch):
    for chosen in (cpu_threads.WaitPolicy("gputrain", "GOMP_SPINCOUNT=300", 300),
                   cpu_threads.WaitPolicy("user", "OMP_WAIT_POLICY=active", 30_000_000_000)):
        monkeypatch.setattr(cpu_threads, "_chosen", chosen)
        assert not gputrain.doctor().by_id("openmp-wait-policy")
