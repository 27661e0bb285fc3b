"""Writes the four platform notebooks from one list of cells, so that they cannot drift apart: the
shared steps are written once, each platform adds its own instructions and persistent folder.
Run `python notebooks/build_notebooks.py` after editing; tests/test_notebooks.py checks that the
committed notebooks are what this script writes, and executes each one on the CPU."""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

PLATFORMS = {
    "colab": {
        "title": "gputrain on Google Colab",
        "before": """\
**Before you run anything:** *Runtime → Change runtime type → Hardware accelerator: GPU* (T4 on the
free tier; L4 or A100 with Colab Pro), then *Connect*. Without it the notebook still runs, on the CPU,
and `gputrain.doctor()` below tells you so.

Colab ends a session after about 12 hours (sooner when idle), and deletes everything outside Google
Drive. This notebook mounts your Drive and keeps checkpoints there, so a new session continues where
the last one stopped.""",
        "persist_md": "Mount Google Drive: checkpoints go to `/content/drive/MyDrive/gputrain-checkpoints`.",
        "persist_code": """\
try:
    from google.colab import drive  # only inside Colab
    drive.mount("/content/drive")
except ImportError:
    print("not on Colab: checkpoints go to the platform's persistent folder or ~/.gputrain/checkpoints")""",
    },
    "paperspace_gradient": {
        "title": "gputrain on Paperspace Gradient",
        "before": """\
**Before you run anything:** create the notebook with a GPU machine (*Free-GPU*, P4000, P5000, RTX4000,
A4000 ... A100; *Free-CPU* works too, on the CPU). The free tier stops a notebook after 6 hours.

Only `/storage` (persistent storage, shared by your notebooks) survives the end of a session;
`/notebooks` is kept per notebook. gputrain saves checkpoints under `/storage/gputrain-checkpoints`.""",
        "persist_md": "Checkpoints go to `/storage/gputrain-checkpoints`, which outlives the machine.",
        "persist_code": """\
print("persistent storage:", "/storage" if os.path.isdir("/storage") else "not here (not on Paperspace)")""",
    },
    "aws_ec2": {
        "title": "gputrain on an AWS EC2 GPU instance",
        "before": """\
**Before you run anything:** launch a GPU instance (g4dn with a T4, g5 with an A10G, p3 with a V100,
p5 with an H100) from an AWS *Deep Learning AMI* (it has the NVIDIA driver), then start Jupyter on it
and reach it through an ssh tunnel from your machine:

```
ssh -i key.pem -L 8888:localhost:8888 ubuntu@<instance public DNS>
jupyter lab --no-browser --port 8888      # on the instance; open the printed localhost URL locally
```

Instance storage disappears when the instance is stopped or terminated; an EBS volume does not. Put
checkpoints on the EBS volume (the root volume of an EBS-backed instance, or one you attach and mount,
for example at `/data`).""",
        "persist_md": "Checkpoints go to an EBS path: change the folder below to one on your EBS volume.",
        "persist_code": """\
from pathlib import Path
# gputrain's default checkpoint folder for this session (ModelCheckpoint() without a path).
os.environ.setdefault("GPUTRAIN_CHECKPOINT_DIR", str(Path.home() / "gputrain-checkpoints"))
print("checkpoints:", os.environ["GPUTRAIN_CHECKPOINT_DIR"])""",
    },
    "local_rocm": {
        "title": "gputrain on your own AMD Radeon with ROCm",
        "before": """\
**Before you start Jupyter:**
- Install ROCm's HIP runtime and compiler (Debian/Ubuntu: `sudo apt install hipcc libamdhip64-dev
  rocm-device-libs`, or AMD's ROCm packages), then install gputrain so that it builds its HIP backend.
- Give your user the GPU: `sudo usermod -aG render,video $USER`, then log out and in again
  (`/dev/kfd` and `/dev/dri/renderD*` must be readable and writable by you).
- RX 6700 XT, 6750 XT and other gfx1031/gfx1032 cards: ROCm only runs kernels built for gfx1030 on
  them when told so. Start Jupyter with `HSA_OVERRIDE_GFX_VERSION=10.3.0 jupyter lab`: it must be set
  before Python starts, so setting it inside the notebook is too late. Never set it for other GPUs.

`gputrain.doctor()` below checks each of these and says which one is missing.""",
        "persist_md": "On your own machine every folder persists; checkpoints go to `~/.gputrain/checkpoints`.",
        "persist_code": """\
print("HSA_OVERRIDE_GFX_VERSION =", os.environ.get("HSA_OVERRIDE_GFX_VERSION"))""",
    },
}

INSTALL = """\
import importlib.util, os, subprocess, sys
# Install gputrain once per session. GPUTRAIN_SOURCE: a checkout of the repository (default: the
# folder above this notebook, when the notebook was opened from one) or "git+<repository URL>" for pip.
if importlib.util.find_spec("gputrain") is None:
    source = os.environ.get("GPUTRAIN_SOURCE")
    if source is None:
        if not os.path.exists(os.path.join("..", "pyproject.toml")):
            raise RuntimeError(
                "gputrain is not installed and this notebook was not opened from a gputrain checkout: "
                "set os.environ['GPUTRAIN_SOURCE'] = 'git+<the repository URL>' (or the path of a clone: "
                "!git clone <the repository URL>) in a cell above, then run this one again")
        source = ".."
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", source])
import gputrain as gt
print("gputrain", gt.__version__, "built with", [b for b, v in gt.build_info()["backends"].items() if v["built"]])"""

PARAMETERS = """\
# Parameters: a full run by default; CI shortens them through the environment.
EPOCHS = int(os.environ.get("GPUTRAIN_NOTEBOOK_EPOCHS", 5))
TRAIN_SAMPLES = int(os.environ.get("GPUTRAIN_NOTEBOOK_SAMPLES", 60000))
CNN_STEPS = int(os.environ.get("GPUTRAIN_NOTEBOOK_CNN_STEPS", 20))
MNIST_PATH = os.environ.get("GPUTRAIN_MNIST")  # None: download once and verify"""

DOCTOR = """\
gt.doctor()"""

DEVICES = """\
from gputrain import device_lib
device_lib.list_local_devices()"""

MNIST = """\
(x_train, y_train), (x_test, y_test) = gt.datasets.mnist.load_data(path=MNIST_PATH)
x_train, x_test = x_train[:TRAIN_SAMPLES] / 255.0, x_test / 255.0
y_train = y_train[:TRAIN_SAMPLES]

model = gt.Sequential([
    gt.layers.Flatten(input_shape=(28, 28)),
    gt.layers.Dense(128, activation="relu"),
    gt.layers.Dropout(0.2),
    gt.layers.Dense(10),
], name="mnist_quickstart")
model.compile(optimizer="adam",
              loss=gt.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
print("training on", model.device)
checkpoint = gt.callbacks.ModelCheckpoint(every_minutes=5)  # the platform's persistent folder
history = model.fit(x_train, y_train, epochs=EPOCHS, callbacks=[checkpoint], resume=True)
loss, accuracy = model.evaluate(x_test, y_test, verbose=2)"""

RESUME = """\
# A new session (or this one, after a crash) continues from the newest checkpoint: weights, optimizer
# state and progress. Here: the file the training above saved (or resumed from, when it had nothing left
# to train), trained one epoch more.
print("checkpoint:", checkpoint.last_path)
again = gt.models.load_model(checkpoint.last_path)
done = again.training_state["epoch"]
print(f"restored: {done} epochs completed, {again.optimizer.iterations} steps")
again.fit(x_train, y_train, epochs=done + 1, verbose=2,
          callbacks=[gt.callbacks.ModelCheckpoint(checkpoint.last_path)], resume=True)
again.evaluate(x_test, y_test, verbose=2)"""

CNN = """\
import numpy as np
cnn = gt.Sequential([
    gt.layers.Conv2D(16, (3, 3), activation="relu", input_shape=(150, 150, 3)),
    gt.layers.MaxPooling2D(2, 2),
    gt.layers.Conv2D(32, (3, 3), activation="relu"),
    gt.layers.MaxPooling2D(2, 2),
    gt.layers.Conv2D(64, (3, 3), activation="relu"),
    gt.layers.MaxPooling2D(2, 2),
    gt.layers.Flatten(),
    gt.layers.Dense(512, activation="relu"),
    gt.layers.Dense(1, activation="sigmoid"),
])
cnn.summary()
cnn.compile(optimizer=gt.optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy", metrics=["accuracy"])
# Random images stand in for a real dataset here: the point is the speed of a training step.
rng = np.random.default_rng(0)
images = rng.random((CNN_STEPS * 8, 150, 150, 3), dtype=np.float32)
labels = rng.integers(0, 2, CNN_STEPS * 8).astype(np.float32)
cnn.fit(images, labels, batch_size=8, epochs=1)"""

BENCH = """\
# How this notebook's device compares: matrix rate, memory bandwidth, and per-layer timings.
from gputrain import bench
print(bench.table(bench.run(quick=True)))"""


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}


def code(text):
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": text.splitlines(keepends=True)}


def notebook(platform: dict) -> dict:
    cells = [
        markdown(f"# {platform['title']}\n\nInstall gputrain, see what compute this runtime has and whether "
                 "gputrain uses it, train the TensorFlow quickstart model on MNIST and the classic Colab CNN, "
                 "keep a checkpoint where the next session finds it, and compare this device with others."),
        markdown(platform["before"]),
        markdown("## Install"), code(INSTALL), code(PARAMETERS),
        markdown("## Where checkpoints are kept\n\n" + platform["persist_md"]), code(platform["persist_code"]),
        markdown("## Is my GPU there, and is it used?\n\n`gt.doctor()` lists what it found, and for every "
                 "problem the one thing to do."), code(DOCTOR), code(DEVICES),
        markdown("## Train the quickstart model on MNIST\n\nA checkpoint is written at every epoch end and "
                 "every 5 minutes; `resume=True` continues from it after the session ends."), code(MNIST),
        markdown("## Resume from the checkpoint"), code(RESUME),
        markdown("## The classic Colab CNN"), code(CNN),
        markdown("## A short benchmark"), code(BENCH),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids keep the committed files identical to what this writes
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                         "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def render(name: str) -> str:
    return json.dumps(notebook(PLATFORMS[name]), indent=1, ensure_ascii=False) + "\n"


def main():
    for name in PLATFORMS:
        (HERE / f"{name}.ipynb").write_text(render(name))


if __name__ == "__main__":
    main()
