"""The doctor's CPU-load window and its `cpu-busy` finding, on fake machines whose /proc moves on by a
scripted amount during the window: other processes, this process's own threads, steal time, affinity."""
import json

import pytest

import gputrain
from fakes.fixtures import fake_build, fake_libs, scenario  # noqa: F401  (pytest fixtures)
from fakes.machines import OWN_PID, cpu_window
from gputrain import cpu_threads
from gputrain.probe import cpu_load

BUSY_LOOP = "python3 -c while True: pass"
SPIN = cpu_threads.SPIN_COUNT
BOUNDED = cpu_threads.WaitPolicy("gputrain", f"GOMP_SPINCOUNT={SPIN}", int(SPIN))
KILL = "stop what you do not need (another notebook: Kernel → Shut Down; else `kill PID`)"


@pytest.fixture(autouse=True)
def wait_policy(monkeypatch):
    """gputrain's own bound, whatever OpenMP variables the shell running the tests has set."""
    monkeypatch.setattr(cpu_threads, "_chosen", BOUNDED)


def only(report, finding_id):
    (found,) = report.by_id(finding_id)
    return found


def ids(report):
    return [f.id for f in report.findings]


def test_idle_machine_has_no_cpu_finding(scenario, fake_build):
    cpu_window(scenario, others=[(700, "jupyter-lab", 0.05, "jupyter-lab --port 9000")], unnamed=0.15)
    report = gputrain.doctor()
    assert ids(report) == ["no-gpu"]
    load = report.cpu_load
    assert load.cpus == 2 and load.others == pytest.approx(0.2) and load.steal == 0 and load.own == 0
    assert [(p.pid, p.name, p.command) for p in load.top] == [(700, "jupyter-lab", "jupyter-lab --port 9000")]
    assert load.load_average == (1.10, 0.95, 0.80)
    assert "  CPU: other work used 0.2 of 2 CPUs over 0.2 s (load average 1.10, 0.95, 0.80)\n" in str(report)


def test_other_processes_keep_a_core_busy(scenario, fake_build):
    cpu_window(scenario, others=[(901, "python3", 1.0, BUSY_LOOP), (902, "cc1plus", 0.3, "cc1plus -O3 conv.cpp"),
                                 (903, "sshd", 0.02, "sshd")], unnamed=0.1, load=(2.35, 1.50, 0.90))
    report = gputrain.doctor()
    assert ids(report) == ["no-gpu", "cpu-busy"]
    f = only(report, "cpu-busy")
    assert f.severity == "warning"
    assert f.seen.startswith(
        "other work kept 1.4 of the 2 CPUs this process may use busy over 0.2 s: python3 (pid 901: python3 -c "
        "while True: pass) 1.0 CPU, cc1plus (pid 902: cc1plus -O3 conv.cpp) 0.3 CPU; load average 2.35, 1.50, "
        f"0.90; gputrain's OpenMP threads wait with GOMP_SPINCOUNT={SPIN} (gputrain setting). gputrain's CPU "
        "ops share those cores and slow down")
    assert "sshd" not in f.seen  # a process using under a tenth of a CPU is not worth naming
    assert f.action == f"{KILL}, or train on a GPU"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["cpu_load"]["others"] == 1.42 and data["cpu_load"]["top"][0] == {
        "pid": 901, "name": "python3", "command": BUSY_LOOP, "cpus": 1.0}


def test_this_process_own_threads_are_not_other_work(scenario, fake_build):
    # The notebook's own kernel (data loading, spinning OpenMP threads) is busy; nobody else is.
    cpu_window(scenario, own=1.6, others=[(901, "jupyter-lab", 0.1, "jupyter-lab")])
    report = gputrain.doctor()
    assert "cpu-busy" not in ids(report)
    assert report.cpu_load.own == pytest.approx(1.6) and report.cpu_load.others == pytest.approx(0.1)
    assert OWN_PID not in [p.pid for p in report.cpu_load.top]


def test_steal_time_with_no_process_to_blame(scenario, fake_build):
    cpu_window(scenario, steal=0.9)
    f = only(gputrain.doctor(), "cpu-busy")
    assert f.seen.startswith("other work kept 0.9 of the 2 CPUs this process may use busy over 0.2 s: no process "
                             "visible here accounts for it (another container or the host); 0.9 CPU of it was "
                             "steal time (the host ran other virtual machines on these CPUs); load average ")
    assert f.action == ("nothing in this runtime can stop it: train on a GPU, or start a new runtime (it may land "
                        "on a less busy machine)")


@pytest.mark.parametrize("setting, spins", [("OMP_WAIT_POLICY=active", 30_000_000_000),
                                            ("GOMP_SPINCOUNT=3k", 3_000)])
def test_threads_that_spin_long_are_told_to_sleep_sooner(scenario, fake_build, monkeypatch, setting, spins):
    monkeypatch.setattr(cpu_threads, "_chosen", cpu_threads.WaitPolicy("user", setting, spins))
    cpu_window(scenario, others=[(901, "python3", 1.0, BUSY_LOOP)])
    f = only(gputrain.doctor(), "cpu-busy")
    assert f"; gputrain's OpenMP threads wait with {setting} (your setting). " in f.seen
    assert f.action == (f"{KILL}; if it must keep running, let gputrain's idle threads sleep sooner: set "
                        f"GOMP_SPINCOUNT={SPIN} (or OMP_NUM_THREADS=1) before anything is imported (first cell: "
                        f"import os; os.environ['GOMP_SPINCOUNT'] = '{SPIN}'), then restart the kernel")


def test_a_short_spin_of_the_users_own_needs_no_change(scenario, fake_build, monkeypatch):
    monkeypatch.setattr(cpu_threads, "_chosen", cpu_threads.WaitPolicy("user", "OMP_WAIT_POLICY=passive", 0))
    cpu_window(scenario, steal=1.0)
    assert only(gputrain.doctor(), "cpu-busy").action.startswith("nothing in this runtime can stop it: train on a GPU")


def test_only_the_cpus_this_process_may_use_count(scenario, fake_build):
    # Pinned to CPU 0 while another job keeps CPU 1 busy: no contention for this process.
    scenario.root.user(uid=1000, gid=1000, groups=(1000,), cpus="0")
    cpu_window(scenario, others=[(901, "make", 1.0, "make -j1")], busy_cpus={1: 1.0})
    report = gputrain.doctor()
    assert "cpu-busy" not in ids(report)
    assert report.cpu_load.cpus == 1 and report.cpu_load.others == 0


def test_no_proc_stat_means_no_measurement_and_no_wait(scenario, fake_build):
    scenario.during_cpu_window(lambda: pytest.fail("waited for a CPU window with nothing to measure"))
    report = gputrain.doctor()
    assert report.cpu_load is None and ids(report) == ["no-gpu"]
    assert report.to_dict()["cpu_load"] is None


def test_device_listing_does_not_wait_for_a_cpu_window(scenario, fake_build):
    cpu_window(scenario, others=[(901, "python3", 1.0, BUSY_LOOP)])
    scenario.during_cpu_window(lambda: pytest.fail("gputrain.devices() measured the CPU load"))
    assert [d.id for d in gputrain.devices()] == ["cpu"]


def test_process_names_with_spaces_and_parentheses(scenario):
    scenario.root.process(77, "my (odd) name", 1234)
    assert cpu_load._process("/proc/77/stat") == (77, "my (odd) name", 1234)
    scenario.root.write("/proc/78/stat", "78 (truncated")
    assert cpu_load._process("/proc/78/stat") is None
