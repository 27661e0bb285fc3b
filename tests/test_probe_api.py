"""The probe's place in the package: the exports the issue names, and that `import gputrain` loads
neither the probe's readers nor any driver library (they load on the first call)."""
import subprocess
import sys

import gputrain
from gputrain.probe import api


def test_exports():
    assert gputrain.devices is api.devices and gputrain.doctor is api.doctor
    assert gputrain.detect_platform is api.detect_platform and gputrain.is_gpu_available is api.is_gpu_available
    assert callable(gputrain.device_lib.list_local_devices)
    for name in ("devices", "doctor", "detect_platform", "is_gpu_available", "device_lib", "is_built_with_cuda",
                 "is_built_with_rocm"):
        assert name in gputrain.__all__


def test_import_loads_no_probe_reader_and_no_driver_library():
    code = ("import sys, gputrain\n"
            "print(sorted(m for m in sys.modules if m.startswith('gputrain.probe')))\n"
            "maps = open('/proc/self/maps').read()\n"
            "print([lib for lib in ('libcuda.so', 'libnvidia-ml.so', 'libamdhip64.so') if lib in maps])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    modules, libraries = result.stdout.splitlines()
    assert modules == "['gputrain.probe', 'gputrain.probe.api']"
    assert libraries == "[]"


def test_doctor_prints_its_report_in_a_plain_script_and_not_where_values_are_shown():
    # The README's `gt.doctor()` on a line of its own: a script shows nothing of a returned value, a
    # REPL or Jupyter shows it (printing too would show it twice).
    script = subprocess.run([sys.executable, "-c", "import gputrain as gt\ngt.doctor()\n"], capture_output=True,
                            text=True, timeout=120)
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("gputrain doctor\n") and "fix:" in script.stdout
    repl = subprocess.run([sys.executable, "-c", "import sys\nsys.ps1 = '>>> '\nimport gputrain as gt\n"
                           "report = gt.doctor()\nprint(len(str(report)) > 0)\n"],
                          capture_output=True, text=True, timeout=120)
    assert repl.returncode == 0, repl.stderr
    assert repl.stdout == "True\n"
