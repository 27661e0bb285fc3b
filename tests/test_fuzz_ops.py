"""Fuzz test of every public op of gt.ops (forward and _grad) on random arguments (tests/fuzz_cases.py):
each case must match the float64 reference (NaN and Inf positions exactly, finite values within the
documented tolerance) or raise the TypeError / ValueError its bad argument calls for. Anything else
fails: a wrong result, another exception, or a crash.

The cases run in a child process (this file, run as a script) that prints each case before running it,
so a segfault or an abort is reported with the case that caused it. The run lasts GPUTRAIN_FUZZ_SECONDS
on the CPU (default 20) and a quarter of that on a GPU (cuda:0 runs under the CPU emulator in CI); its
seed is random and printed, GPUTRAIN_FUZZ_SEED fixes it. To replay a failure:

    python tests/test_fuzz_ops.py --device cpu --seed SEED --case N       # the failing case alone
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import subprocess
import sys
import time
import traceback
import warnings

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def fuzz_seconds(device: str) -> float:
    seconds = float(os.environ.get("GPUTRAIN_FUZZ_SECONDS", "20"))
    return seconds if device == "cpu" else seconds / 4


def run_case(case, device: str) -> None:
    """Runs one case; raises AssertionError if the op did not do what the case expects."""
    import gputrain as gt

    op = getattr(gt.ops, case.op)
    try:
        result = op(**case.args, device=device)
    except (TypeError, ValueError) as exc:
        if case.expect is None or not isinstance(exc, case.expect):
            raise AssertionError(f"raised {type(exc).__name__}: {exc}") from exc
        if "\n" in str(exc).strip() or "incompatible function arguments" in str(exc):
            raise AssertionError(f"raised a message of several lines: {exc}") from exc
        return
    if case.expect is not None:
        raise AssertionError(f"expected {case.expect.__name__}, but the call returned")
    case.check(result, case.args)


def child(device: str, seed: int, seconds: float, only: int | None) -> int:
    """The child process: cases (seed, 0), (seed, 1), ... until the time is up; each is printed first."""
    faulthandler.enable()
    np.seterr(all="ignore")  # the references meet NaN, Inf and 0/0 on purpose
    warnings.simplefilter("ignore", RuntimeWarning)
    if os.environ.get("GPUTRAIN_TEST_GPU_EMULATOR") == "1":
        import conftest  # noqa: F401  (registers the emulator as the cuda backend)
    import fuzz_cases

    crash_at = int(os.environ.get("GPUTRAIN_FUZZ_CRASH_AT", "-1"))  # for the test of the crash report
    small = device != "cpu"
    start, index = time.monotonic(), 0 if only is None else only
    while True:
        rng = np.random.default_rng([seed, index])
        case = fuzz_cases.draw_case(rng, device, small)
        print(f"case {index}: {case.describe()}", flush=True)
        if index == crash_at:
            import ctypes
            ctypes.string_at(0)  # a segfault, as a kernel's stray pointer would cause
        try:
            run_case(case, device)
        except Exception:  # a wrong result, or an exception other than the one expected
            print(f"FAILED case {index}:\n{traceback.format_exc()}", flush=True)
            return 1
        index += 1
        if only is not None or time.monotonic() - start > seconds:
            break
    print(f"passed {index if only is None else 1} cases", flush=True)
    return 0


def fuzz(device: str, seed: int, seconds: float) -> str | None:
    """Runs the cases in a child process; returns None if all passed, else what went wrong: the case
    that failed or was running when the child crashed or hung, with the command that replays it."""
    replay = f"python tests/test_fuzz_ops.py --device {device} --seed {seed}"
    command = [sys.executable, os.path.abspath(__file__), "--device", device, "--seed", str(seed),
               "--seconds", str(seconds)]
    try:  # a case may take a while under the emulator: the limit is generous, a hang still ends
        proc = subprocess.run(command, capture_output=True, text=True, cwd=HERE, timeout=seconds + 240)
        stdout, stderr = proc.stdout, proc.stderr
        how = None if proc.returncode == 0 else f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        decode = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")  # noqa: E731
        stdout, stderr, how = decode(exc.stdout), decode(exc.stderr), "a hang"
    if how is None:
        return None
    last = next((line for line in reversed(stdout.splitlines()) if line.startswith("case ")), "")
    number = last.split(":")[0][len("case "):] if last else "0"
    if "FAILED case" in stdout:
        return f"failed on {last}\nreplay: {replay} --case {number}\n{stdout[stdout.find('FAILED case'):]}"
    return (f"crashed ({how}) on {last or 'no case: the child did not start'}\nreplay: {replay} --case {number}\n"
            f"stderr (its end):\n{stderr[-3000:]}")


def test_fuzz_ops(device):
    seed = int(os.environ.get("GPUTRAIN_FUZZ_SEED", int.from_bytes(os.urandom(4), "little")))
    seconds = fuzz_seconds(device)
    print(f"fuzz on {device}: seed {seed} (GPUTRAIN_FUZZ_SEED={seed} replays this run), {seconds:g} s")
    failure = fuzz(device, seed, seconds)
    if failure:
        pytest.fail(f"seed {seed}: {failure}")


def test_fuzz_reports_a_crash_with_the_case_that_caused_it(monkeypatch):
    monkeypatch.setenv("GPUTRAIN_FUZZ_CRASH_AT", "3")
    failure = fuzz("cpu", 11, 30.0)
    assert failure is not None and failure.startswith("crashed (exit status ")
    assert "on case 3: " in failure
    assert "replay: python tests/test_fuzz_ops.py --device cpu --seed 11 --case 3" in failure
    assert "Segmentation fault" in failure  # faulthandler's report, from the child's stderr


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz the ops of gputrain (see the module's docstring).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--case", type=int, default=None, help="run only this case of the seed")
    args = parser.parse_args()
    seconds = fuzz_seconds(args.device) if args.seconds is None else args.seconds
    return child(args.device, args.seed, seconds, args.case)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
