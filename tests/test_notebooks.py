"""The platform notebooks: committed exactly as notebooks/build_notebooks.py writes them, and each runs
top to bottom on this machine (CPU) with shortened training, executed by a real notebook runner."""
import importlib.util
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


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    if importlib.util.find_spec("nbclient") is None or importlib.util.find_spec("ipykernel") is None:
        pytest.skip("nbclient and ipykernel are not installed (pip install '.[test]')")
    import nbclient
    import nbformat
    from datafiles import shared_data

    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_SAMPLES", "3000")
    monkeypatch.setenv("GPUTRAIN_NOTEBOOK_CNN_STEPS", "2")
    monkeypatch.setenv("GPUTRAIN_MNIST", str(shared_data("mnist")))
    monkeypatch.setenv("GPUTRAIN_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs)
    assert "Total params: 9,494,561" in text
    assert "name: \"/device:CPU:0\"" in text or "/device:CPU:0" in text
    assert "accuracy:" in text and "restored at epoch 1 after 94 steps" in text
    # The default name carries the architecture's key, so other models in the same folder stay apart.
    assert [p.name.split("-")[0] for p in (tmp_path / "checkpoints").glob("*.safetensors")] == ["mnist_quickstart"]
