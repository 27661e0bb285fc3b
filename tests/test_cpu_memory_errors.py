"""Out of memory inside the CPU kernels' parallel regions: an exception escaping an OpenMP region ends the
process, so an allocation failing there must come back as MemoryError. A test hook makes the GEMM's next
buffer allocation fail; each case runs in a child process, so a regression shows as a failed test, not
as a crashed test run."""
import subprocess
import sys
import textwrap

import pytest

CASES = {
    # threads split C's columns (dense at batch 256) / the depth (a long sum into a small C)
    "column bands": "x = normal(256, 512); w = normal(512, 256); run = lambda: ops.dense(x, w)",
    "depth split": "x = normal(16, 8192); w = normal(8192, 16); run = lambda: ops.dense(x, w)",
    "convolution": ("x = normal(4, 32, 32, 16); w = normal(3, 3, 16, 32); "
                    "run = lambda: ops.conv2d(x, w, padding='same')"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_failed_allocation_raises_memory_error(case):
    script = textwrap.dedent(f"""
        import numpy as np
        from gputrain import _testing, ops
        rng = np.random.default_rng(0)
        normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32)
        {CASES[case]}
        expected = run()
        _testing.fail_cpu_gemm_allocations(1)
        try:
            run()
        except MemoryError:
            print("MemoryError")
        assert _testing.fail_cpu_gemm_allocations(0) == 0, "the hook's failure was not used"
        np.testing.assert_array_equal(run(), expected)  # nothing left broken
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["MemoryError", "ok"]


def test_injected_failures_are_counted_once_when_threads_allocate_together():
    # The hook's count is shared by the threads of a parallel region; it must drop by exactly one per
    # failure delivered, never below zero, or the test above sees its failure "not used" now and then.
    script = textwrap.dedent(f"""
        import numpy as np
        from gputrain import _testing, ops
        rng = np.random.default_rng(0)
        normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32)
        {CASES["convolution"]}
        left = set()
        for _ in range(1500):
            _testing.fail_cpu_gemm_allocations(1)
            try:
                run()
            except MemoryError:
                pass
            left.add(_testing.fail_cpu_gemm_allocations(0))
        print(sorted(left))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["[0]"]
