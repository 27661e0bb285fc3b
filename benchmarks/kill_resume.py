"""kill -9 at random moments of a fit with a checkpoint after every step, then the same training again
with resume=True, many times: each trial must end at the right step with the weights of a run never
interrupted, leave a checkpoint that loads, and no temporary file. tests/test_kill_resume.py runs a few
trials of the same in CI.

    python benchmarks/kill_resume.py --trials 50
"""
from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import gputrain as gt

SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np, gputrain as gt
    from gputrain import layers
    gt.utils.set_random_seed(7)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((200, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = gt.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(2)])
    model.compile("adam", gt.losses.SparseCategoricalCrossentropy(from_logits=True), device="cpu")

    class Slow(gt.callbacks.Callback):
        reads_batch_logs = False
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.004)  # spreads the 39 steps over ~0.2 s, so a kill can land anywhere

    print("started", flush=True)
    # Saved after every step: many of the kills land inside a save.
    checkpoint = gt.callbacks.ModelCheckpoint(sys.argv[1], save_freq=1)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Slow(), checkpoint], resume=True)
    np.save(sys.argv[2], np.concatenate([w.ravel() for w in model.get_weights()]))
    print(model.optimizer.iterations, len(model.history.history["loss"]))
""")


def run_trial(tmp_path: Path, trial: int, rng: random.Random) -> dict:
    """One killed run and its resumption; what was seen."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / f"ckpt{trial}" / "run.safetensors"
    out = tmp_path / f"weights{trial}.npy"
    child = subprocess.Popen([sys.executable, str(script), str(ckpt), str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    if child.stdout.readline().strip() != "started":
        raise RuntimeError(child.stderr.read())
    time.sleep(rng.uniform(0.0, 0.35))
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=120)
    killed = child.returncode == -signal.SIGKILL
    if ckpt.exists():
        gt.models.load_model(ckpt)  # whatever the moment of the kill, the file left is whole
    resumed = subprocess.run([sys.executable, str(script), str(ckpt), str(out)], capture_output=True, text=True,
                             timeout=300)
    if resumed.returncode != 0:
        raise RuntimeError(resumed.stderr)
    return {"killed": killed, "summary": resumed.stdout.split()[-2:], "weights": np.load(out),
            "leftovers": sorted(p.name for p in ckpt.parent.iterdir() if p.name != "run.safetensors")}


def straight_run(tmp_path: Path) -> np.ndarray:
    """The weights of the same training never interrupted."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "straight" / "run.safetensors"),
                           str(tmp_path / "straight.npy")], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return np.load(tmp_path / "straight.npy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        expected = straight_run(tmp)
        killed = bad = 0
        for trial in range(args.trials):
            seen = run_trial(tmp, trial, rng)
            killed += seen["killed"]
            ok = (seen["summary"] == ["39", "3"] and not seen["leftovers"]
                  and np.allclose(seen["weights"], expected, rtol=1e-5, atol=1e-6))
            bad += not ok
            if not ok:
                print(f"trial {trial}: {seen['summary']} leftovers={seen['leftovers']}")
    print(f"{args.trials} trials, {killed} killed before the end, {bad} ended wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
