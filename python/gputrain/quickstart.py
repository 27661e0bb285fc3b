"""The main job of `gputrain train mnist`: TensorFlow's quickstart model (Flatten → Dense 128 relu →
Dropout 0.2 → Dense 10, Adam, batch 32) on MNIST, on the best device present, with Keras's progress
bar, the test accuracy at the end, and a checkpoint that a new session can resume from."""
from __future__ import annotations

from pathlib import Path

from . import callbacks, datasets, layers, losses
from .models import Sequential


def build_model() -> Sequential:
    return Sequential([
        layers.Flatten(input_shape=(28, 28)),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10),
    ], name="mnist_quickstart")


def train_mnist(epochs: int = 5, device: str | None = None, data: str | None = None,
                checkpoint: str | None = None, resume: bool = False, verbose: int = 1, dataset=None) -> dict:
    """Trains and evaluates; returns {"device", "test_loss", "test_accuracy", "checkpoint"}. `dataset`:
    MNIST as load_data returns it, already loaded; else it is loaded from `data` (a folder, an .npz, or
    None to download it once)."""
    if dataset is None:
        dataset = datasets.mnist.load_data(path=data)
    (x_train, y_train), (x_test, y_test) = dataset
    x_train, x_test = x_train / 255.0, x_test / 255.0
    model = build_model()
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device=device)
    if verbose:
        print(f"training the quickstart model on {model.device}")
    saver = callbacks.ModelCheckpoint(Path(checkpoint) if checkpoint else None, save_freq="epoch")
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=verbose, callbacks=[saver],
              resume=resume)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if verbose:
        print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f})")
        print(f"checkpoint: {saver.last_path}")  # the file saved, or resumed from when nothing was left
    return {"device": model.device, "test_loss": loss, "test_accuracy": accuracy,
            "checkpoint": None if saver.last_path is None else str(saver.last_path)}
