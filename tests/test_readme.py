"""The README's notebook snippet as a user runs it: twice in a fresh home folder (the second run is the
next session), after `gputrain train mnist` left its own checkpoint in the same folder. Each run may
resume only its own model. Shortened here: 1 epoch on 3,000 images."""
import re
from pathlib import Path

import numpy as np
import pytest

import gputrain as gt
from gputrain import layers, quickstart
from datafiles import shared_data

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_snippet() -> str:
    text = README.read_text()
    section = text[text.index("## Quickstart in a notebook"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "model.fit(x_train, y_train, epochs=5" in code and "resume=True" in code
    return code.replace("epochs=5", "epochs=1")


def test_readme_snippet_twice_resumes_its_own_model_only(tmp_path, monkeypatch, capsys):
    real = gt.datasets.mnist.load_data(path=shared_data("mnist"))
    (x, y), (xt, yt) = real
    monkeypatch.setattr(gt.datasets.mnist, "load_data", lambda path=None: ((x[:3000], y[:3000]), (xt[:500], yt[:500])))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GPUTRAIN_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    folder = tmp_path / ".gputrain" / "checkpoints"

    # What `gputrain train mnist` leaves: the quickstart model (same architecture, named) in that folder.
    quickstart.train_mnist(epochs=1, device="cpu", dataset=((x[:320], y[:320]), (xt[:64], yt[:64])), verbose=0)
    theirs = next(folder.glob("mnist_quickstart-*.safetensors"))
    before = theirs.read_bytes()

    layers.clear_session()
    code = readme_snippet()
    exec(code, {})
    first = capsys.readouterr().out
    assert "Resuming" not in first and "no checkpoint of 'sequential' with this architecture" in first
    assert "1 other model checkpoint(s) there left alone" in first
    ours = next(folder.glob("sequential-*.safetensors"))

    exec(code, {})  # the next session; in the same process the automatic name is now sequential_1
    second = capsys.readouterr().out
    assert f"Resuming 'sequential' from {ours}" in second
    assert "already trained 1 of 1 epochs; nothing to do" in second
    assert theirs.read_bytes() == before
    assert sorted(p.name.split("-")[0] for p in folder.glob("*.safetensors")) == ["mnist_quickstart", "sequential"]


def test_readme_settings_table_is_the_settings_table():
    # The README's table of environment variables is generated from gputrain.settings; regenerate it with
    # gputrain.settings.markdown_table() when a setting changes.
    from gputrain import settings

    text = README.read_text()
    section = text[text.index("## Settings\n"):]
    section = section[:section.index("\n## ", 1)]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == settings.markdown_table()


def _section_snippets(title: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(title):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_resnet18_example_trains_and_evaluates(tmp_path, monkeypatch, capsys):
    # The ResNet-18 example as a user runs it, shortened to 96 images and one epoch on the CPU.
    resnet, graph, several = _section_snippets("## Functional models and ResNets")
    assert "epochs=10" in resnet and "ResNet18(input_shape=(32, 32, 1), classes=10)" in resnet
    (x, y), (xt, yt) = gt.datasets.fashion_mnist.load_data(path=shared_data("fashion-mnist"))
    monkeypatch.setattr(gt.datasets.fashion_mnist, "load_data", lambda path=None: ((x[:96], y[:96]), (xt[:32], yt[:32])))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GPUTRAIN_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("GPUTRAIN_DEVICE", "cpu")
    scope: dict = {}
    exec(resnet.replace("epochs=10", "epochs=1").replace("batch_size=128", "batch_size=32"), scope)
    history = scope["model"].history.history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and np.isfinite(history["loss"][0])
    assert list((tmp_path / ".gputrain" / "checkpoints").glob("resnet18-*.safetensors"))
    exec(graph, scope)  # the notebook's next cells
    assert "Connected to" in capsys.readouterr().out
    exec(several, scope)
    rng = np.random.default_rng(0)
    x = {"image": rng.random((16, 32, 32, 3), np.float32), "meta": rng.random((16, 4), np.float32)}
    y = {"kind": rng.integers(0, 10, 16), "flag": rng.integers(0, 2, 16)}
    history = scope["model"].fit(x, y, epochs=1, verbose=0).history
    assert list(history) == ["loss", "kind_loss", "flag_loss", "kind_accuracy"]
