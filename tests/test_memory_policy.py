"""The GPU memory policy through the public API and the environment: a limit (bytes or a fraction of the
device) that is honoured, growth off reserving the whole allowance at first use, out-of-memory raising
gt.OutOfMemoryError with the numbers, empty_cache giving cached blocks back. A policy is fixed at a
device's first use, so each case runs in a fresh process."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20

# Importing conftest registers the GPU emulator in place of CUDA when the test run does.
PRELUDE = """
import conftest, json, numpy as np, gputrain as gt
"""


def run(device, code, **env):
    if device == "cpu":
        pytest.skip("the memory policy is a GPU's")
    python_path = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, "-c", PRELUDE + code.replace("DEVICE", repr(device))],
                            capture_output=True, text=True, timeout=120, cwd=HERE,
                            env={**os.environ, "PYTHONPATH": python_path, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_memory_fraction_from_the_environment_is_a_limit_that_is_honoured(device):
    out = run(device, """
limit = gt.memory_stats(DEVICE)["limit_bytes"]
_, total = gt._core.device_memory_info(DEVICE)
assert abs(limit - 0.002 * total) <= 512, (limit, total)
keep = gt.zeros((limit // 2 // 4,), device=DEVICE)  # half the allowance: fits
try:
    gt.zeros((limit // 4,), device=DEVICE)  # with `keep` alive the whole allowance cannot fit
except gt.OutOfMemoryError as exc:
    assert isinstance(exc, MemoryError)
    message = str(exc)
else:
    raise AssertionError("no OutOfMemoryError past the limit")
stats = gt.memory_stats(DEVICE)
assert stats["reserved_bytes"] <= limit and stats["num_oom_retries"] >= 1, stats
print(message)
""", GPUTRAIN_GPU_MEMORY_FRACTION="0.002")
    assert "out of memory: requested" in out and "policy: growth, limit" in out
    assert "this process holds" in out and "free of" in out


def test_set_memory_limit_in_bytes_and_as_a_fraction(device):
    run(device, """
gt.config.set_memory_limit(DEVICE, 24 << 20)
assert gt.memory_stats(DEVICE)["limit_bytes"] == 24 << 20
a = gt.zeros((4 << 20,), device=DEVICE)  # 16 MiB
try:
    gt.zeros((4 << 20,), device=DEVICE)
    raise AssertionError("the 24 MiB limit let 32 MiB through")
except gt.OutOfMemoryError as exc:
    assert "limit 25165824 bytes (24.0 MiB)" in str(exc), str(exc)
del a
b = gt.zeros((5 << 20,), device=DEVICE)  # 20 MiB: fits once the first block is free again
try:
    gt.config.set_memory_limit(DEVICE, 0.5)
    raise AssertionError("the policy changed after the device was used")
except ValueError as exc:
    assert "after the device has been used" in str(exc)
""")


def test_growth_off_reserves_the_whole_allowance_at_first_use(device):
    run(device, """
gt.config.set_memory_limit(DEVICE, 32 << 20)
gt.config.set_memory_growth(DEVICE, False)
t = gt.zeros((10,), device=DEVICE)
stats = gt.memory_stats(DEVICE)
assert stats["growth"] is False and stats["reserved_bytes"] == 32 << 20, stats
assert stats["allocated_bytes"] < 1 << 20
""")
    run(device, """
t = gt.zeros((10,), device=DEVICE)
stats = gt.memory_stats(DEVICE)
assert stats["growth"] is False and stats["reserved_bytes"] == stats["limit_bytes"] > 0, stats
""", GPUTRAIN_GPU_ALLOW_GROWTH="false", GPUTRAIN_GPU_MEMORY_FRACTION="0.003")


def test_empty_cache_gives_cached_blocks_back(device):
    run(device, """
t = gt.zeros((3 << 20,), device=DEVICE)
del t
cached = gt.memory_stats(DEVICE)
assert cached["allocated_bytes"] == 0 and cached["reserved_bytes"] >= 12 << 20, cached
gt.empty_cache(DEVICE)
assert gt.memory_stats(DEVICE)["reserved_bytes"] == 0, gt.memory_stats(DEVICE)
""")


@pytest.mark.parametrize("name, value, message", [
    ("GPUTRAIN_GPU_MEMORY_FRACTION", "1.5", "GPUTRAIN_GPU_MEMORY_FRACTION='1.5': expected a number in (0, 1]"),
    ("GPUTRAIN_GPU_MEMORY_FRACTION", "half", "GPUTRAIN_GPU_MEMORY_FRACTION='half'"),
    ("GPUTRAIN_GPU_ALLOW_GROWTH", "maybe", "GPUTRAIN_GPU_ALLOW_GROWTH='maybe': expected true or false"),
])
def test_bad_policy_in_the_environment_is_a_clear_error(device, name, value, message):
    out = run(device, """
try:
    gt.zeros((4,), device=DEVICE)
except ValueError as exc:
    print(exc)
else:
    raise AssertionError("the bad setting was accepted")
""", **{name: value})
    assert message in out
