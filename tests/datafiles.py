"""Where the real MNIST and Fashion-MNIST files are: GPUTRAIN_TEST_DATA, or shared/data beside the
checkout (where CI and the developers' machines have it)."""
import os
from pathlib import Path

import pytest


def shared_data(name: str) -> Path:
    root = os.environ.get("GPUTRAIN_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    folder = Path(root) / name
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the real {name} files are not at {folder} (set GPUTRAIN_TEST_DATA)")
    return folder
