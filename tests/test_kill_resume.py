"""kill -9 at a random moment of fit (between steps, inside a step, in the middle of writing a
checkpoint), then the same script again with resume=True: the run must end at the right step with the
weights of a run that was never interrupted, and the checkpoint left by the killed process must load.
A few trials here; benchmarks/kill_resume.py (whose trial this runs) runs many more."""
import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import kill_resume  # noqa: E402


def test_killed_at_random_moments_then_resumed_ends_right(tmp_path):
    expected = kill_resume.straight_run(tmp_path)
    rng = random.Random(int(os.environ.get("GPUTRAIN_TEST_SEED", "0")))
    for trial in range(3):
        seen = kill_resume.run_trial(tmp_path, trial, rng)
        assert seen["summary"] == ["39", "3"], seen  # 3 epochs x 13 steps, 3 epochs of history
        np.testing.assert_allclose(seen["weights"], expected, rtol=1e-5, atol=1e-6)
        # A temporary file a kill left is removed by the next save into the folder.
        assert seen["leftovers"] == [], seen["leftovers"]
