"""The platform notebooks: committed exactly as notebooks/build_notebooks.py writes them, and each runs
top to bottom on this machine (CPU) with shortened training, executed by a real notebook runner."""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build_notebooks  # noqa: E402

NAMES = sorted(build_notebooks.PLATFORMS)


def test_four_platform_notebooks():
    assert NAMES == ["aws_ec2", "colab", "local_rocm", "paperspace_gradient"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_generated(name):
    committed = (NOTEBOOKS / f"{name}.ipynb").read_text()
    assert committed == build_notebooks.render(name), \
        "run python notebooks/build_notebooks.py and commit the notebooks"


def test_install_cell_outside_a_checkout_says_what_to_set(tmp_path, monkeypatch):
    # Opened straight from a repository page (Colab's "Open in Colab"), the notebook has no checkout
    # above it: the cell must say what to do rather than let pip fail on "..".
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.delenv("GPUTRAIN_SOURCE", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gputrain" else real_find_spec(name, *a))
    with pytest.raises(RuntimeError, match=r"GPUTRAIN_SOURCE'\] = 'git\+<the repository URL>'"):
        exec(build_notebooks.INSTALL, {})


def _execute(name: str) -> dict:
    """Runs the notebook top to bottom in a fresh kernel (a new notebook session); the executed notebook."""
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def _cell_text(nb, source_start: str) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))
    return "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for output in cell.outputs)


def _all_text(nb) -> str:
    return "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.fixture
def notebook_env(tmp_path, monkeypatch):
    if importlib.util.find_spec("nbclient") is None or importlib.util.find_spec("ipykernel") is None:
        pytest.skip("nbclient and ipykernel are not installed (pip install '.[test]')")
    from datafiles import shared_data

    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_SAMPLES", "3000")
    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_CNN_STEPS", "2")
    monkeypatch.setenv("GPUTRAIN_MNIST", str(shared_data("mnist")))
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    # The user's own home folder, where the default checkpoint folder is (no platform folder here).
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GPUTRAIN_CHECKPOINT_DIR", raising=False)
    return tmp_path


MNIST_CELL, RESUME_CELL, BENCH_CELL = "(x_train, y_train)", "# A new session", "# How this notebook"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_then_again_in_the_next_session(name, notebook_env):
    first = _execute(name)
    text = _all_text(first)
    assert "Total params: 9,494,561" in text
    assert "/device:CPU:0" in text
    assert "accuracy:" in _cell_text(first, MNIST_CELL)
    assert "restored: 1 epochs completed, 94 steps" in _cell_text(first, RESUME_CELL)  # 3000 samples / 32
    # Only the quickstart's own checkpoint, under its name and architecture key, in the home folder.
    saved = list((notebook_env / "home").rglob("*.safetensors"))
    assert [p.name.split("-")[0] for p in saved] == ["mnist_quickstart"], saved
    # The bar is one output updated in place: each epoch's final line, not a hundred redraws.
    assert _cell_text(first, MNIST_CELL).count("94/94 [") == 1 and len(_cell_text(first, MNIST_CELL)) < 1000
    assert not _cell_text(first, BENCH_CELL).rstrip().endswith("0"), "a stray return value is shown"

    # The next session, in the same home folder: nothing left to train in the training cell, and the
    # resume cell continues from the checkpoint that cell resumed from.
    second = _execute(name)
    training = _cell_text(second, MNIST_CELL)
    assert "Resuming 'mnist_quickstart' from" in training, training
    assert "already trained 2 epochs, more than the 1 asked for; nothing to do" in training
    assert "restored: 2 epochs completed, 188 steps" in _cell_text(second, RESUME_CELL)
    assert len(list((notebook_env / "home").rglob("*.safetensors"))) == 1


@pytest.fixture(scope="module")
def cli_checkpoint(tmp_path_factory):
    """The checkpoint folder `gputrain train mnist` (one epoch on the CPU) leaves behind."""
    import subprocess
    from datafiles import shared_data

    folder = tmp_path_factory.mktemp("cli") / "checkpoints"
    env = dict(os.environ, GPUTRAIN_CHECKPOINT_DIR=str(folder))
    done = subprocess.run([sys.executable, "-m", "gputrain", "train", "mnist", "--epochs", "1", "--device", "cpu",
                           "--data", str(shared_data("mnist"))], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_notebook_after_the_command_line_job(name, notebook_env, cli_checkpoint, monkeypatch):
    folder = notebook_env / "checkpoints"
    shutil.copytree(cli_checkpoint, folder)
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(folder))
    nb = _execute(name)
    training = _cell_text(nb, MNIST_CELL)
    assert "Resuming 'mnist_quickstart' from" in training and "1 epoch completed (1875 steps)" in training
    assert "already trained 1 of 1 epochs; nothing to do" in training
    assert "restored: 1 epochs completed, 1875 steps" in _cell_text(nb, RESUME_CELL)
