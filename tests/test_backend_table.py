"""The CPU is a backend like the GPUs: its kernel table is registered in _core from the start, every
kernel call on the CPU goes through it, and a failure inside a CPU kernel comes back through the table as
an error that names the backend and the op (a C status, never an exception crossing the table)."""
import subprocess
import sys
import textwrap

from gputrain import _core


def test_cpu_table_is_registered_with_one_device():
    status = _core.backend_status("cpu")
    assert status["device_count"] == 1
    assert status["error"] is None
    assert status["devices"] == [{"index": 0, "name": "cpu"}]


def test_cpu_kernel_failure_names_backend_and_op():
    # The GEMM's test hook fails its next scratch allocation; a child process, as in
    # test_cpu_memory_errors.py, so that a regression (an exception escaping the table) cannot end this one.
    script = textwrap.dedent("""
        import numpy as np
        import gputrain
        from gputrain import _testing, ops
        rng = np.random.default_rng(0)
        x = rng.standard_normal((256, 512), dtype=np.float32)
        w = rng.standard_normal((512, 256), dtype=np.float32)
        expected = ops.dense(x, w)
        _testing.fail_cpu_gemm_allocations(1)
        try:
            ops.dense(x, w)
        except gputrain.OutOfMemoryError as exc:
            print(repr(str(exc)))
        np.testing.assert_array_equal(ops.dense(x, w), expected)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    message = done.stdout.strip()
    assert message.startswith("'cpu dense: ") and "out of memory" in message, message
