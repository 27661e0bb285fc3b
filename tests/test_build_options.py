"""cmake/options.cmake: build options given as environment variables reach a kept build tree.

pip reuses build/{wheel_tag} between installs, so each case configures one small project twice or more in
the same build directory, the way a second `pip install .` with another environment does."""
import os
import pathlib
import shutil
import subprocess

import pytest

OPTIONS = pathlib.Path(__file__).resolve().parents[1] / "cmake" / "options.cmake"
pytestmark = [
    pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not on PATH"),
    pytest.mark.skipif(not OPTIONS.exists(), reason="not run from a source checkout"),
]


@pytest.fixture
def configure(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "CMakeLists.txt").write_text(f"""
cmake_minimum_required(VERSION 3.18)
project(options_probe NONE)
include("{OPTIONS.as_posix()}")
gputrain_tristate_option(GPUTRAIN_CUDA "test")
gputrain_bool_option(GPUTRAIN_PORTABLE OFF "test")
if(GPUTRAIN_PORTABLE)
  set(portable ON)
else()
  set(portable OFF)
endif()
message(STATUS "options: GPUTRAIN_CUDA=${{GPUTRAIN_CUDA}} GPUTRAIN_PORTABLE=${{portable}}")
""")
    build = tmp_path / "build"

    def run(*defines, **env):
        environ = {k: v for k, v in os.environ.items() if k not in ("GPUTRAIN_CUDA", "GPUTRAIN_PORTABLE")}
        environ.update(env)
        done = subprocess.run(["cmake", "-S", str(source), "-B", str(build), *defines], env=environ,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        line = next(l for l in done.stdout.splitlines() if "options:" in l)
        return line.split("options: ", 1)[1]
    return run


def test_changed_environment_replaces_cached_value(configure):
    assert configure(GPUTRAIN_CUDA="OFF") == "GPUTRAIN_CUDA=OFF GPUTRAIN_PORTABLE=OFF"
    assert configure(GPUTRAIN_CUDA="on", GPUTRAIN_PORTABLE="1") == "GPUTRAIN_CUDA=ON GPUTRAIN_PORTABLE=ON"
    # Unset again: back to the defaults, not the values of the install before.
    assert configure() == "GPUTRAIN_CUDA=AUTO GPUTRAIN_PORTABLE=OFF"


def test_define_is_kept_while_environment_is_unchanged(configure):
    assert configure("-DGPUTRAIN_CUDA=OFF") == "GPUTRAIN_CUDA=OFF GPUTRAIN_PORTABLE=OFF"
    assert configure() == "GPUTRAIN_CUDA=OFF GPUTRAIN_PORTABLE=OFF"
    assert configure("-DGPUTRAIN_CUDA=ON") == "GPUTRAIN_CUDA=ON GPUTRAIN_PORTABLE=OFF"


def test_bad_value_is_refused(configure, tmp_path):
    with pytest.raises(AssertionError, match="expected AUTO, ON or OFF"):
        configure(GPUTRAIN_CUDA="maybe")
