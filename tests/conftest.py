"""Device parametrisation shared by every op test: each test runs on every backend present. A GPU case
is skipped (with the reason gputrain gives) where that GPU is missing, and fails instead when
GPUTRAIN_REQUIRE_GPU=1, so a GPU machine cannot pass by skipping."""
import os
import zlib

import numpy as np
import pytest

import gputrain
from gputrain import _backends

ALL_DEVICES = ("cpu", "cuda:0", "hip:0")
EMULATED_GPU = os.environ.get("GPUTRAIN_TEST_GPU_EMULATOR") == "1"

if EMULATED_GPU:
    # Development and CI tool: the "cuda:0" cases run the GPU kernels under the CPU emulator (a build
    # with GPUTRAIN_GPU_EMULATOR=ON), registered in place of the real CUDA backend.
    from gputrain import _core, _gpuemu
    _core.register_backend(_gpuemu.backend_table())
    _backends._loaded["cuda"] = True
    # Those tests check how the real backends are detected, which the emulator stands in for.
    collect_ignore = ["test_backends.py"]


def skip_whole_trainings_under_emulator(device: str) -> None:
    """Whole training runs (thousands of steps) take hours under the CPU emulator, which exists to check
    kernels; they run on the CPU here and on real GPUs."""
    if EMULATED_GPU and device.startswith("cuda"):
        pytest.skip("a whole training run is too slow under the CPU emulator of the GPU kernels")


def _require_gpu() -> bool:
    return os.environ.get("GPUTRAIN_REQUIRE_GPU") == "1"


def _unusable_reason(name: str) -> str | None:
    backend = name.split(":")[0]
    if backend == "cpu" or _backends.is_usable(backend):
        return None
    return gputrain.backend_reason(backend)


@pytest.fixture(params=ALL_DEVICES)
def device(request):
    name = request.param
    reason = _unusable_reason(name)
    if reason is not None:  # only with GPUTRAIN_REQUIRE_GPU=1: otherwise such cases are not collected
        pytest.fail(f"GPUTRAIN_REQUIRE_GPU=1 but {name} is not usable: {reason}")
    return name


_not_run: dict[tuple[str, str], int] = {}  # (device, reason) -> cases of it left out


def pytest_collection_modifyitems(config, items):
    """Cases on a GPU this machine cannot use are left out at collection, and summarised in one line per
    device and reason at the end, instead of a skip line (and the whole runtime error) for each of
    hundreds of cases. With GPUTRAIN_REQUIRE_GPU=1 the cuda cases stay and fail."""
    kept = []
    for item in items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("device")
        reason = _unusable_reason(name) if name in ALL_DEVICES else None
        if reason is None or (_require_gpu() and name.startswith("cuda")):
            kept.append(item)
        else:
            _not_run[(name, reason)] = _not_run.get((name, reason), 0) + 1
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in set(kept)])
        items[:] = kept


def pytest_terminal_summary(terminalreporter):
    for (name, reason), count in sorted(_not_run.items()):
        terminalreporter.write_line(f"gputrain: {count} {name} cases not run: {name} is not usable here: {reason}")


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id (stable across runs, different for every test case) and
    GPUTRAIN_TEST_SEED (default 0; change it to draw other values)."""
    seed = zlib.crc32(request.node.nodeid.encode()) ^ int(os.environ.get("GPUTRAIN_TEST_SEED", "0"))
    return np.random.default_rng(seed)


def rel_error(got, ref) -> float:
    """‖got − ref‖ / ‖ref‖ in float64."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    denom = np.linalg.norm(ref)
    return float(np.linalg.norm(got - ref) / (denom if denom > 0 else 1.0))


def assert_close(got, ref, tol=1e-5):
    got = np.asarray(got)
    assert got.shape == ref.shape, f"shape {got.shape} != reference {ref.shape}"
    assert np.all(np.isfinite(got)), "result has NaN or Inf"
    err = rel_error(got, ref)
    if err >= tol:
        worst = np.unravel_index(np.argmax(np.abs(got - ref)), ref.shape)
        raise AssertionError(f"relative error {err:.3e} >= {tol:.0e}; worst at {worst}: "
                             f"got {got[worst]!r}, expected {ref[worst]!r}")
