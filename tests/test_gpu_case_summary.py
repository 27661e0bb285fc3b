"""The test run's own report: cases for a GPU this machine cannot use are counted in one line per device
and reason at the end, not reported one SKIPPED line (with the runtime's whole error) per case."""
import subprocess
import sys
from pathlib import Path

from gputrain import _backends

TESTS = Path(__file__).resolve().parent


def test_unusable_gpu_cases_are_one_line_per_device(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider",
                          str(TESTS / "test_add.py")], capture_output=True, text=True, timeout=300, cwd=TESTS.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert not [line for line in lines if line.startswith("SKIPPED") and "not usable" in line], run.stdout
    for backend in ("cuda", "hip"):
        summary = [line for line in lines if line.startswith("gputrain: ") and f" {backend}:0 cases not run: " in line]
        if _backends.is_usable(backend):
            assert summary == []
        else:
            assert len(summary) == 1, run.stdout
            assert summary[0].endswith(f"{backend}:0 is not usable here: {_backends.backend_status(backend)['reason']}")
