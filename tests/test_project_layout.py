"""Where the Python glue may live: pybind11 and Python's C API only in cpp/bindings/. The core and the
kernels build as libraries without those include directories (CMakeLists.txt), so an include there is
also a build error; this test names the file even on a machine that cannot build."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]*(?:pybind11/|Python\.h)[^>"]*)[>"]', re.MULTILINE)
SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".cu", ".cuh", ".h", ".hpp", ".inl"}


def _sources():
    cpp = ROOT / "cpp"
    if not cpp.is_dir():
        pytest.skip("not run from a source checkout")
    return [p for p in cpp.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES]


def test_only_the_bindings_include_pybind11_or_python_h():
    found = []
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("cpp/bindings/"):
            continue
        for match in PYTHON_INCLUDE.finditer(path.read_text(errors="replace")):
            found.append(f"{relative}: #include {match.group(1)}")
    assert not found, "pybind11 and Python.h belong in cpp/bindings/ only:\n" + "\n".join(found)


def test_the_check_recognises_an_include():
    # The pattern above must catch the spellings in use, or the test before it passes for nothing.
    for line in ("#include <pybind11/pybind11.h>", '#include "pybind11/stl.h"', "  #  include <Python.h>"):
        assert PYTHON_INCLUDE.search(line), line
    assert not PYTHON_INCLUDE.search("// pybind11's default: RuntimeError")
    assert any(PYTHON_INCLUDE.search(p.read_text()) for p in _sources()
               if p.relative_to(ROOT).as_posix().startswith("cpp/bindings/"))


def test_import_and_training_do_not_load_the_test_module():
    # gputrain._testing holds hooks for the tests only (fault injection, reference kernels); a user's
    # import and training step must never load it.
    code = """
import sys
import numpy as np
import gputrain as gt
model = gt.Sequential([gt.layers.Flatten(input_shape=(4,)), gt.layers.Dense(3, activation="relu"),
                      gt.layers.Dense(2)])
model.compile(optimizer="adam", loss=gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
rng = np.random.default_rng(0)
model.fit(rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 2, 16), epochs=1, batch_size=8,
          verbose=0)
print(sorted(name for name in sys.modules if name.startswith("gputrain._")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = done.stdout.strip().splitlines()[-1]
    assert "gputrain._core" in loaded, loaded
    assert "gputrain._testing" not in loaded, loaded


def test_tensor_methods_are_defined_by_the_binding():
    # gt.Tensor is the C++ class of _core with every method bound there (cpp/bindings/py_tensor.cpp);
    # a Python function assigned onto it afterwards would make a second place that defines the class.
    import types

    import gputrain as gt
    for name in ("to", "reshape", "pin_memory", "is_pinned", "numpy", "__repr__"):
        method = gt.Tensor.__dict__[name]
        assert not isinstance(method, types.FunctionType), f"Tensor.{name} is a Python function"
        assert method.__doc__ is None or "self: gputrain._core.Tensor" in method.__doc__, name


def test_no_python_module_patches_a_bound_class():
    package = ROOT / "python" / "gputrain"
    if not package.is_dir():
        pytest.skip("not run from a source checkout")
    patch = re.compile(r"^\s*(?:_core\.)?(?:Tensor|StagingRing|StagedBatch|_TrainPlan)\.\w+\s*=", re.MULTILINE)
    found = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p in package.rglob("*.py")
             for m in patch.finditer(p.read_text())]
    assert not found, "\n".join(found)
