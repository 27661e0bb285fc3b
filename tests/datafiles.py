"""Where the real MNIST and Fashion-MNIST files are: GPUTRAIN_TEST_DATA (a folder holding mnist/ and
fashion-mnist/, each with its four IDX .gz files), else the developers' shared data folder beside the
checkout. Tests that need them skip where they are missing, or fail with GPUTRAIN_REQUIRE_TEST_DATA=1
(CI sets it, so these tests cannot pass there by skipping)."""
import os
from pathlib import Path

import pytest


def shared_data(name: str) -> Path:
    root = os.environ.get("GPUTRAIN_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    folder = Path(root) / name
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        message = f"the real {name} files are not at {folder} (set GPUTRAIN_TEST_DATA)"
        if os.environ.get("GPUTRAIN_REQUIRE_TEST_DATA") == "1":
            pytest.fail(f"GPUTRAIN_REQUIRE_TEST_DATA=1 but {message}")
        pytest.skip(message)
    return folder
