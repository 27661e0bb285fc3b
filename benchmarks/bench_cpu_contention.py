"""CPU training when other work shares the cores: the TensorFlow quickstart's training on MNIST (Flatten →
Dense 128 relu → Dropout 0.2 → Dense 10, Adam, batch 32) and a 1024x1024x1024 matmul, for each way
gputrain's OpenMP threads may wait, on this machine as it is ("idle") and with one busy process that
this script starts and kills ("loaded": `python -c "while True: pass"`, one core's worth).

Each (setting, load) runs in a fresh process, because libgomp reads its wait policy once, when it
starts. Settings (--settings, comma-separated; default all four):
  libgomp    GOMP_SPINCOUNT=300000: libgomp's own default, what gputrain ran with before it set one
  gputrain   nothing set: gputrain's default (gputrain.cpu_threads.SPIN_COUNT)
  threads1   OMP_NUM_THREADS=1: one thread, nothing to wait for
  passive    OMP_WAIT_POLICY=passive: threads sleep at once
  VAR=VALUE  anything else, taken literally (e.g. GOMP_SPINCOUNT=10000; several joined by '+')

Per row: the load average when the row starts; "others": the CPUs' worth other work used (the busy
process counts) over 0.5 s before the row / during the whole row (busy and steal time on the machine
less the row's own process: where the second exceeds the first, the row had company it did not ask for);
the OpenMP threads; ms per training step (median of the repeats, min-max); the epoch time for 60,000
images; and the matmul's median. Whole epochs are timed after a 100-step warm-up fit (a row stops
repeating after ROW_BUDGET_S); --quick times 200 steps once and scales them to an epoch instead.

Usage: python benchmarks/bench_cpu_contention.py --data $MNIST [--quick] [--repeats 3] [--loads idle,loaded]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

SETTINGS = {"libgomp": {"GOMP_SPINCOUNT": "300000"}, "gputrain": {}, "threads1": {"OMP_NUM_THREADS": "1"},
            "passive": {"OMP_WAIT_POLICY": "passive"}}
LABELS = {"libgomp": "before: libgomp default", "gputrain": "after: gputrain default",
          "threads1": "OMP_NUM_THREADS=1", "passive": "OMP_WAIT_POLICY=passive"}
EPOCH_IMAGES, BATCH = 60_000, 32
EPOCH_STEPS = EPOCH_IMAGES // BATCH
ROW_BUDGET_S = 60.0  # repeats stop once a row has trained this long (at least one is run)
MATMUL = 1024


def setting_env(name: str) -> dict[str, str]:
    if name in SETTINGS:
        return SETTINGS[name]
    pairs = [p.split("=", 1) for p in name.split("+")]
    if not all(len(p) == 2 and p[0] for p in pairs):
        raise SystemExit(f"--settings: {name!r} is neither one of {', '.join(SETTINGS)} nor VAR=VALUE")
    return dict(pairs)


def child(args) -> None:
    """One (setting, load) row, in a fresh process: prints one JSON line."""
    import numpy as np

    import gputrain as gt
    from gputrain import cpu_threads, losses, quickstart

    (x, y), _ = gt.datasets.mnist.load_data(path=args.data)
    x = (x / 255.0).astype(np.float32)
    model = quickstart.build_model()
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")
    model.fit(x[:100 * BATCH], y[:100 * BATCH], batch_size=BATCH, epochs=1, verbose=0)  # warm-up
    steps = args.steps or EPOCH_STEPS
    per_step, spent = [], 0.0
    while len(per_step) < args.repeats and (not per_step or spent < ROW_BUDGET_S):
        start = time.perf_counter()
        model.fit(x[:steps * BATCH], y[:steps * BATCH], batch_size=BATCH, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        spent += seconds
        per_step.append(seconds / steps)
    rng = np.random.default_rng(0)
    a, b = (gt.tensor(rng.standard_normal((MATMUL, MATMUL), dtype=np.float32)) for _ in range(2))
    gt.ops.matmul(a, b)
    matmul = []
    for _ in range(args.matmul_repeats):
        start = time.perf_counter()
        gt.ops.matmul(a, b)
        gt.synchronize()
        matmul.append(time.perf_counter() - start)
    print(json.dumps({"wait": str(cpu_threads.chosen()), "threads": gt._core.cpu_threads(), "steps": steps,
                      "per_step": per_step, "matmul": statistics.median(matmul)}))


def cpu_model() -> str:
    from gputrain.probe import cpu

    info = cpu.probe()
    return f"{info.model}, {info.logical_cpus} logical CPUs ({info.cores} usable), {', '.join(info.simd[-3:])}"


def commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished children only: not the busy process
    return used.ru_utime + used.ru_stime


def others_during(before, after, own_seconds: float) -> float | None:
    """CPUs' worth of busy and steal time between two /proc/stat readings, less `own_seconds` of CPU."""
    if before is None or after is None or after.total <= before.total:
        return None
    per_cpu = (after.total - before.total) / after.cpus
    busy = after.busy - before.busy + after.steal - before.steal
    return max(0.0, (busy - own_seconds * os.sysconf("SC_CLK_TCK")) / per_cpu)


def run_row(args, name: str) -> dict:
    from gputrain.probe import cpu_load

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env.update(setting_env(name))
    load_average = os.getloadavg()[0]
    load = cpu_load.measure(0.5)
    command = [sys.executable, os.path.abspath(__file__), "--child", "--data", args.data, "--repeats",
               str(args.repeats), "--steps", str(args.steps), "--matmul-repeats", str(args.matmul_repeats)]
    ticks, own = cpu_load.cpu_times(), children_cpu_seconds()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    during = others_during(ticks, cpu_load.cpu_times(), children_cpu_seconds() - own)
    if result.returncode != 0:
        raise SystemExit(f"{name}: the child process failed:\n{result.stderr}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    return {**row, "setting": name, "load_average": load_average, "others": load.others if load else None,
            "during": during}


def print_row(row: dict, load_name: str) -> None:
    ms = [s * 1e3 for s in row["per_step"]]
    median = statistics.median(ms)
    label = LABELS.get(row["setting"], row["setting"])
    others = "/".join(f"{row[k]:.1f}" if row[k] is not None else "?" for k in ("others", "during"))
    spread = f"{min(ms):.2f}-{max(ms):.2f}"
    print(f"{label:27} {load_name:6} {row['load_average']:7.2f} {others:>9} {row['threads']:7d} {median:8.3f} "
          f"{spread:>13} {median * EPOCH_STEPS / 1e3:8.2f} {row['matmul'] * 1e3:9.1f} "
          f"{2 * MATMUL ** 3 / row['matmul'] / 1e9:7.1f}  {row['wait']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--loads", default="idle,loaded", help="idle, loaded or both")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per row (default 3)")
    parser.add_argument("--steps", type=int, default=0, help="steps per timed fit (default: a whole epoch)")
    parser.add_argument("--matmul-repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 steps once per row, 3 matmuls")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps, args.matmul_repeats = 1, 200, 3
    if args.child:
        child(args)
        return
    settings = [s for s in args.settings.split(",") if s]
    loads = [name for name in args.loads.split(",") if name]
    for name in settings:
        setting_env(name)
    if not set(loads) <= {"idle", "loaded"}:
        raise SystemExit(f"--loads: expected idle and/or loaded, got {args.loads!r}")
    import gputrain

    print(f"gputrain {gputrain.__version__} ({commit()}) bench_cpu_contention; "
          f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {' '.join(sys.argv[1:])}")
    print(f"CPU: {cpu_model()}")
    timed = f"{args.steps} steps scaled to" if args.steps else "median of whole"
    print(f"quickstart: batch {BATCH}, {timed} epochs of {EPOCH_IMAGES:,} images; matmul {MATMUL}^3 fp32")
    print(f"{'setting':27} {'load':6} {'loadavg':>7} {'others':>9} {'threads':>7} {'ms/step':>8} {'(min-max)':>13} "
          f"{'epoch s':>8} {'matmul ms':>9} {'GFLOP/s':>7}  OpenMP wait")
    rows = {}
    busy = None
    try:
        for load_name in loads:
            if load_name == "loaded":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(1.0)  # let it settle on a core before the first row measures other work
            for name in settings:
                rows[name, load_name] = run_row(args, name)
                print_row(rows[name, load_name], load_name)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    for load_name in loads:
        before, after = rows.get(("libgomp", load_name)), rows.get(("gputrain", load_name))
        if before and after:
            old, new = statistics.median(before["per_step"]), statistics.median(after["per_step"])
            print(f"{load_name}: epoch {old * EPOCH_STEPS:.2f} s before, {new * EPOCH_STEPS:.2f} s after "
                  f"({old / new:.2f}x); matmul {before['matmul'] * 1e3:.1f} ms before, "
                  f"{after['matmul'] * 1e3:.1f} ms after")


if __name__ == "__main__":
    main()
