"""The settings table: every environment variable gputrain reads is declared there and parsed by its
type's one parser, the C++ core judges a value as the table does, and the doctor reports a value that is
not accepted. The device registry: devices are resolved once, and again after refresh_devices()."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import gputrain
from gputrain import _backends, settings
from gputrain.probe import findings

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


# ---- the table --------------------------------------------------------------------------------------

def _read_in_source() -> dict[str, set[str]]:
    """GPUTRAIN_* names the package and the C++ sources read, by file."""
    found: dict[str, set[str]] = {}
    python = r"""(?:environ(?:\.get)?[\[(]|settings\.(?:get|raw)\(|\bsetting\()\s*["'](GPUTRAIN_\w+)"""
    cpp = r"""(?:getenv|env_flag|env_fraction)\(\s*"(GPUTRAIN_\w+)"""
    patterns = [(ROOT / "python" / "gputrain", "*.py", python), (ROOT / "cpp", "*.c*", cpp), (ROOT / "cpp", "*.h", cpp)]
    for folder, glob, pattern in patterns:
        for path in folder.rglob(glob):
            names = set(re.findall(pattern, path.read_text()))
            if names:
                found[str(path.relative_to(ROOT))] = names
    return found


def test_every_variable_read_is_in_the_table():
    read = _read_in_source()
    undeclared = {f"{file}: {name}" for file, names in read.items() for name in names
                  if name not in settings.SETTINGS}
    assert not undeclared, sorted(undeclared)
    # The C++ readers are found, so the scan itself works.
    cpp_readers = {"GPUTRAIN_GPU_MEMORY_FRACTION", "GPUTRAIN_POOL_KERNEL", "GPUTRAIN_GEMM_KERNEL"}
    assert cpp_readers <= set().union(*read.values())


def test_python_reads_gputrain_variables_only_through_the_table():
    package = ROOT / "python" / "gputrain"
    direct = []
    for path in package.rglob("*.py"):
        if path.name == "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""environ(\.get)?[\[(]\s*["']GPUTRAIN_""", line):
                direct.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not direct, direct


def test_each_setting_says_when_it_is_read_and_what_it_does():
    for s in settings.SETTINGS.values():
        assert s.name.startswith("GPUTRAIN_") and s.read and s.doc and s.default_text, s
        assert s.invalid in (settings.RAISES, settings.IGNORED) and s.kind in ("user", "test-only"), s
        if s.default is not None:
            assert s.parse(str(s.default).lower()) == s.default, s


@pytest.mark.parametrize("text, value", [("1", True), ("true", True), ("YES", True), ("On", True),
                                         ("0", False), ("false", False), ("no", False), ("OFF", False)])
def test_bool_values(text, value):
    assert settings.SETTINGS["GPUTRAIN_GPU_GRAPHS"].parse(text) is value


@pytest.mark.parametrize("text", ["maybe", "", " true", "2", "truee"])
def test_bool_rejects(text):
    with pytest.raises(settings.SettingValueError, match=r"expected true or false"):
        settings.SETTINGS["GPUTRAIN_GPU_ALLOW_GROWTH"].parse(text)


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("1", 1.0), ("5e-1", 0.5), (".25", 0.25), ("1.", 1.0),
                                         ("+0.1", 0.1), ("1E-3", 0.001)])
def test_fraction_values(text, value):
    assert settings.SETTINGS["GPUTRAIN_GPU_MEMORY_FRACTION"].parse(text) == value


@pytest.mark.parametrize("text", ["abc", "half", "0", "-0.5", "1.5", " 0.5", "0.5 ", "0x.8", "nan", "inf", "0_5",
                                  "1e", ".", "50%"])
def test_fraction_rejects(text):
    with pytest.raises(settings.SettingValueError) as caught:
        settings.SETTINGS["GPUTRAIN_GPU_MEMORY_FRACTION"].parse(text)
    assert str(caught.value) == f"GPUTRAIN_GPU_MEMORY_FRACTION={text!r}: expected a number in (0, 1]"


@pytest.mark.parametrize("text", ["cpu", "CPU", "cpu:0", "cuda", "cuda:1", "hip:0", "rocm", "CUDA:12"])
def test_device_names(text):
    assert settings.SETTINGS["GPUTRAIN_DEVICE"].parse(text) == text


@pytest.mark.parametrize("text", ["tpu", "tpu:0", "cuda:", "cuda:x", "cuda:-1", "cuda:1234567", "cpu:1", "cuda:١"])
def test_device_names_the_core_refuses_are_refused_with_its_message(text):
    with pytest.raises(settings.SettingValueError) as caught:
        settings.SETTINGS["GPUTRAIN_DEVICE"].parse(text)
    with pytest.raises(ValueError) as core:
        gputrain._core.parse_device(text)
    assert caught.value.why == str(core.value)


@pytest.mark.parametrize("text", ["cpu", "CPU", "cpu:0", "cuda", "cuda:1", "hip:0", "rocm", "CUDA:12"])
def test_device_names_the_core_accepts(text):
    gputrain._core.parse_device(text)


def test_kernel_choice_and_seconds():
    assert settings.SETTINGS["GPUTRAIN_POOL_KERNEL"].parse("simple") == "simple"
    for text in ("Simple", "fast", " simple"):
        with pytest.raises(settings.SettingValueError, match=r"expected simple \(or unset\)"):
            settings.SETTINGS["GPUTRAIN_GEMM_KERNEL"].parse(text)
    assert settings.SETTINGS["GPUTRAIN_PROBE_TIMEOUT"].parse("2.5") == 2.5
    for text in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(settings.SettingValueError, match="seconds above 0"):
            settings.SETTINGS["GPUTRAIN_PROBE_TIMEOUT"].parse(text)


def test_get_unset_empty_valid_invalid(monkeypatch):
    monkeypatch.delenv("GPUTRAIN_GPU_GRAPHS", raising=False)
    assert settings.get("GPUTRAIN_GPU_GRAPHS") is True
    monkeypatch.setenv("GPUTRAIN_GPU_GRAPHS", "")  # set but empty: as if unset
    assert settings.get("GPUTRAIN_GPU_GRAPHS") is True
    monkeypatch.setenv("GPUTRAIN_GPU_GRAPHS", "off")
    assert settings.get("GPUTRAIN_GPU_GRAPHS") is False
    monkeypatch.setenv("GPUTRAIN_GPU_GRAPHS", "sometimes")
    with pytest.raises(ValueError, match=r"^GPUTRAIN_GPU_GRAPHS='sometimes': expected true or false$"):
        settings.get("GPUTRAIN_GPU_GRAPHS")
    assert settings.get("GPUTRAIN_GPU_GRAPHS", {"GPUTRAIN_GPU_GRAPHS": "no"}) is False
    with pytest.raises(KeyError, match="GPUTRAIN_NOPE is not a gputrain setting"):
        settings.get("GPUTRAIN_NOPE")


def test_an_ignored_invalid_value_gives_the_default_and_warns_once(monkeypatch):
    monkeypatch.setenv("GPUTRAIN_PROBE_TIMEOUT", "a-while")
    with pytest.warns(RuntimeWarning, match=r"GPUTRAIN_PROBE_TIMEOUT='a-while': expected a number of seconds "
                                            r"above 0; using the default \(30\)"):
        assert settings.get("GPUTRAIN_PROBE_TIMEOUT") == 30.0
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert settings.get("GPUTRAIN_PROBE_TIMEOUT") == 30.0


def test_problems_lists_every_invalid_value_in_table_order():
    env = {"GPUTRAIN_POOL_KERNEL": "fast", "GPUTRAIN_GPU_MEMORY_FRACTION": "abc", "GPUTRAIN_DATA_DIR": "/x",
           "GPUTRAIN_GPU_GRAPHS": "", "GPUTRAIN_DEVICE": "cuda:0"}
    assert [(p.name, p.value) for p in settings.problems(env)] == [
        ("GPUTRAIN_GPU_MEMORY_FRACTION", "abc"), ("GPUTRAIN_POOL_KERNEL", "fast")]


def test_markdown_table_has_a_row_per_setting():
    rows = settings.markdown_table().strip().splitlines()[2:]
    assert [re.match(r"\| `(\w+)`", r).group(1) for r in rows] == list(settings.SETTINGS)
    assert all(r.count(" | ") == 5 for r in rows)


# ---- the doctor ---------------------------------------------------------------------------------------

def test_doctor_finding_for_each_invalid_value():
    found = findings.bad_settings(SimpleNamespace(env={
        "GPUTRAIN_GPU_MEMORY_FRACTION": "abc", "GPUTRAIN_POOL_KERNEL": "fast", "GPUTRAIN_DEVICE": "tpu",
        "GPUTRAIN_GPU_GRAPHS": "1"}))
    assert [(f.id, f.severity) for f in found] == [("bad-setting", "error"), ("bad-setting", "warning")]
    fraction, pool = found
    assert fraction.seen == ("GPUTRAIN_GPU_MEMORY_FRACTION='abc': expected a number in (0, 1] (read once per "
                             "process, by the C++ core, at the first GPU allocation, where it raises ValueError)")
    assert fraction.action.startswith("set GPUTRAIN_GPU_MEMORY_FRACTION to a number in (0, 1], or unset it, "
                                      "before Python starts")
    assert pool.seen.startswith("GPUTRAIN_POOL_KERNEL='fast': expected simple (or unset)")
    assert "the default (the fast kernels) is used instead" in pool.seen


def test_doctor_reports_a_bad_memory_fraction(monkeypatch):
    from gputrain.probe import api, cpu_load

    monkeypatch.setattr(cpu_load, "_sleep", lambda seconds: None)
    monkeypatch.setenv("GPUTRAIN_GPU_MEMORY_FRACTION", "abc")
    report = api.diagnose()
    (finding,) = report.by_id("bad-setting")
    assert finding.severity == "error" and "GPUTRAIN_GPU_MEMORY_FRACTION='abc'" in finding.seen
    monkeypatch.setenv("GPUTRAIN_GPU_MEMORY_FRACTION", "0.5")
    assert not api.diagnose().by_id("bad-setting")


# ---- the C++ readers judge values as the table does -------------------------------------------------

def _run(code: str, **env) -> subprocess.CompletedProcess:
    python_path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=HERE,
                          env={**os.environ, "PYTHONPATH": python_path, **env})


@pytest.mark.parametrize("text", ["0.25", "5e-1", "abc", " 0.5", "0x.8", "nan", "1.5"])
def test_the_core_judges_a_memory_fraction_as_the_table_does(device, text):
    if device == "cpu":
        pytest.skip("the memory policy is a GPU's")
    result = _run(f"""
import conftest, gputrain as gt
try:
    gt.zeros((4,), device={device!r})
    print("accepted")
except ValueError as exc:
    print("refused:", exc)
""", GPUTRAIN_GPU_MEMORY_FRACTION=text)
    assert result.returncode == 0, result.stderr[-3000:]
    try:
        settings.SETTINGS["GPUTRAIN_GPU_MEMORY_FRACTION"].parse(text)
        assert result.stdout.strip() == "accepted"
    except settings.SettingValueError as exc:
        assert result.stdout.strip() == f"refused: {exc}"


def test_the_core_reads_the_memory_policy_once(device):
    if device == "cpu":
        pytest.skip("the memory policy is a GPU's")
    result = _run(f"""
import os, conftest, gputrain as gt
for value in ("abc", "0.5"):
    os.environ["GPUTRAIN_GPU_MEMORY_FRACTION"] = value  # the second is too late: read at the first allocation
    try:
        gt.zeros((4,), device={device!r})
        print("accepted")
    except ValueError as exc:
        print("refused")
""")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["refused", "refused"]


# ---- the device registry -----------------------------------------------------------------------------

@pytest.fixture
def fresh_registry(monkeypatch):
    """Resolves devices afresh for this test, counts what asks the backends, and leaves nothing behind."""
    calls = []
    real = _backends.backend_status

    def counting(backend):
        calls.append(backend)
        return real(backend)

    monkeypatch.setattr(_backends, "backend_status", counting)
    _backends.refresh_devices()
    yield calls
    monkeypatch.undo()
    _backends.refresh_devices()


def test_numpy_ops_resolve_the_default_device_once(fresh_registry, monkeypatch):
    monkeypatch.delenv("GPUTRAIN_DEVICE", raising=False)
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    gputrain.ops.relu(x)
    first = len(fresh_registry)
    assert first >= 1  # the default device was looked for among the GPU backends
    for _ in range(10):
        np.testing.assert_array_equal(gputrain.ops.relu(x), np.maximum(x, 0))
    assert len(fresh_registry) == first, fresh_registry
    gputrain.refresh_devices()
    gputrain.ops.relu(x)
    assert len(fresh_registry) == 2 * first, fresh_registry


def test_a_named_gpu_is_looked_up_once(fresh_registry, monkeypatch, device):
    if device == "cpu":
        pytest.skip("the CPU needs no backend lookup")
    backend = device.split(":")[0]
    asked = []
    real = _backends._core.backend_status
    monkeypatch.setattr(_backends._core, "backend_status", lambda b: asked.append(b) or real(b))
    gputrain.refresh_devices()  # the device fixture has looked it up already
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    for _ in range(10):
        gputrain.ops.relu(x, device=device)
    assert asked == [backend]


def test_gputrain_device_is_read_again_on_refresh(fresh_registry, monkeypatch):
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    assert gputrain.default_device() == "cpu"
    monkeypatch.setenv("GPUTRAIN_DEVICE", "tpu")
    assert gputrain.default_device() == "cpu"  # kept until a refresh
    gputrain.refresh_devices()
    with pytest.raises(ValueError, match=r"GPUTRAIN_DEVICE='tpu': device: 'tpu' is not a device name"):
        gputrain.default_device()
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    gputrain.refresh_devices()
    assert gputrain.default_device() == "cpu"


def test_backend_status_answers_are_copies(fresh_registry):
    status = gputrain._backends.backend_status("cpu")
    status["devices"].clear()
    assert gputrain._backends.backend_status("cpu")["devices"] == [{"index": 0, "name": "cpu"}]


# ---- without _core ------------------------------------------------------------------------------------

ERROR = "/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by _core.so)"


@pytest.fixture
def no_core(tmp_path):
    """An environment where importing gputrain._core fails as a broken build's would: a sitecustomize
    that puts a finder raising ImportError for it first on sys.meta_path."""
    (tmp_path / "sitecustomize.py").write_text(f"""
import sys
class _BrokenCore:
    def find_spec(self, name, path=None, target=None):
        if name == "gputrain._core":
            raise ImportError({ERROR!r})
sys.meta_path.insert(0, _BrokenCore())
""")
    python_path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": python_path})
    return run


def test_probe_works_without_core(no_core):
    result = no_core("-c", """
import contextlib, io
import gputrain.probe
import gputrain
from gputrain import device_lib
assert gputrain.core_error() is not None
with contextlib.redirect_stdout(io.StringIO()) as shown:  # a script's doctor() prints its report too
    report = gputrain.doctor()
assert "core-load-failed" in shown.getvalue()
(finding,) = report.by_id("core-load-failed")
print(finding.severity)
print(finding.seen)
print(finding.action)
print(report.default_device)
cpu = gputrain.devices()[0]
print(cpu.id, cpu.usable)
print(device_lib.list_local_devices()[0].name)
print(gputrain.is_gpu_available())
""")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "error"
    assert lines[1].startswith("gputrain's C++ core (gputrain._core) failed to load") and ERROR in lines[1]
    assert "libstdc++" in lines[2] and "pip install --force-reinstall" in lines[2]
    assert lines[-4:] == ["None", "cpu False", "/device:CPU:0", "False"]


def test_import_gputrain_without_core_warns_and_training_names_the_failure(no_core):
    result = no_core("-c", """
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import gputrain as gt
print(caught[0].category.__name__, caught[0].message)
for use in (lambda: gt.Sequential([]), lambda: gt.layers.Dense(3), lambda: gt.ops.relu([1.0]),
            lambda: gt.zeros((2,))):
    try:
        use()
    except gt.CoreUnavailableError as exc:
        assert isinstance(exc, ImportError)
        print(exc)
try:
    from gputrain.models import Sequential
    Sequential([])
except ImportError as exc:
    print(exc)
""")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("RuntimeWarning gputrain's C++ core (gputrain._core) failed to load")
    assert len(lines) == 6
    for line in lines[1:]:
        assert "needs gputrain's C++ core (gputrain._core), which failed to load" in line, line
        assert ERROR in line and "Run `gputrain doctor`" in line
    assert lines[1].startswith("gputrain.Sequential needs")


def test_cli_doctor_and_devices_without_core(no_core):
    result = no_core("-m", "gputrain", "doctor", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    ids = [f["id"] for f in report["findings"]]
    assert ids[0] == "core-load-failed" and report["default_device"] is None, ids
    assert ERROR in report["findings"][0]["seen"]
    text = no_core("-m", "gputrain", "doctor")
    assert text.returncode == 0 and "gputrain will run on: nothing until gputrain._core loads" in text.stdout
    devices = no_core("-m", "gputrain", "devices")
    assert devices.returncode == 0, devices.stderr[-3000:]
    assert "default device: none (gputrain._core did not load)" in devices.stdout
    train = no_core("-m", "gputrain", "train", "mnist")
    assert train.returncode == 1 and "Traceback" not in train.stderr
    assert "failed to load" in train.stderr and "gputrain doctor" in train.stderr
