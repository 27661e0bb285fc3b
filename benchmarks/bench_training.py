"""Training benchmarks, gputrain and PyTorch side by side in one process on one device:

  mnist_mlp   the TensorFlow quickstart (Flatten → Dense 128 relu → Dropout 0.2 → Dense 10, Adam,
              batch 32) for --epochs epochs of the 60,000 MNIST images, whole fit() loops; on a GPU
              once more with graph replay off (GPUTRAIN_GPU_GRAPHS=0), each kernel launched alone;
  colab_cnn   one training step of the classic Colab CNN (150×150×3, 9,494,561 params, RMSprop,
              binary cross-entropy) at batch 32 and 128, median of repeats: gputrain's compiled step
              as fit runs it, PyTorch's eager step, each followed by a wait for the device.

Prints one row per workload: gputrain time, peer time, ratio = peer / gputrain (above 1: we are faster).
PyTorch runs eagerly with fp32 (TF32 off) on the same device; where it is not installed the peer
columns say so. Usage: python benchmarks/bench_training.py --device cuda --data path/to/mnist
"""
from __future__ import annotations

import argparse
import contextlib
import os

import numpy as np

import gputrain as gt
from gputrain import bench, plan as plan_module, saving


def load_mnist(path):
    (x, y), _ = gt.datasets.mnist.load_data(path=path)
    return (x / 255.0).astype(np.float32), y.astype(np.int64)


def torch_device(torch, device):
    return torch.device("cuda" if device.startswith("cuda") else "cpu")


def colab_cnn_gputrain(device, batch):
    """(step, sync): one compiled training step as fit runs it, and a wait for the device."""
    model = gt.Sequential([
        gt.layers.Conv2D(16, 3, activation="relu", input_shape=(150, 150, 3)), gt.layers.MaxPooling2D(2),
        gt.layers.Conv2D(32, 3, activation="relu"), gt.layers.MaxPooling2D(2),
        gt.layers.Conv2D(64, 3, activation="relu"), gt.layers.MaxPooling2D(2),
        gt.layers.Flatten(), gt.layers.Dense(512, activation="relu"), gt.layers.Dense(1, activation="sigmoid")])
    model.compile(gt.optimizers.RMSprop(1e-4), "binary_crossentropy", device=device)
    rng = np.random.default_rng(0)
    xb = gt.tensor(rng.random((batch, 150, 150, 3), dtype=np.float32), device=model.device)
    yb = gt.tensor(rng.integers(0, 2, (batch, 1)).astype(np.float32), device=model.device)
    plan = plan_module.build(model, batch, saving.weight_key)
    iteration = iter(range(1, 1 << 30))
    step = lambda: plan.step(xb, yb, next(iteration), model.optimizer.learning_rate)  # noqa: E731
    return step, lambda: gt._core.synchronize(model.device)


def colab_cnn_torch(torch, device, batch):
    dev = torch_device(torch, device)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(18496, 512), nn.ReLU(), nn.Linear(512, 1)).to(dev)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    xb = torch.rand(batch, 3, 150, 150, device=dev).to(memory_format=torch.channels_last)
    yb = torch.randint(0, 2, (batch, 1), device=dev).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()
    return step, sync


@contextlib.contextmanager
def graphs_off():
    """Plans built inside launch each kernel on its own instead of replaying a graph."""
    before = os.environ.get("GPUTRAIN_GPU_GRAPHS")
    os.environ["GPUTRAIN_GPU_GRAPHS"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["GPUTRAIN_GPU_GRAPHS"]
        else:
            os.environ["GPUTRAIN_GPU_GRAPHS"] = before


def row(name, ours, peer):
    peer_text = f"{peer * 1e3:10.1f}" if peer else "   (none)"
    ratio = f"{peer / ours:6.2f}" if peer else "     -"
    print(f"{name:28} {ours * 1e3:12.1f} {peer_text:>12} {ratio:>7}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda or hip (default: gputrain's default)")
    parser.add_argument("--data", required=True, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--skip-cnn", action="store_true")
    args = parser.parse_args()
    device = gt._backends.resolve_device(args.device)
    try:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        torch = None
    print(f"device: {device}; peer: {'PyTorch ' + torch.__version__ + ' (fp32, TF32 off)' if torch else 'none installed'}")
    print(f"{'workload':28} {'gputrain ms':>12} {'peer ms':>12} {'ratio':>7}")
    x, y = load_mnist(args.data)
    ours, ours_acc = bench.mnist_gputrain(x, y, device, args.epochs)
    peer = bench.mnist_torch(torch, x, y, torch_device(torch, device), args.epochs)[0] if torch else None
    row(f"mnist_mlp {args.epochs} epochs (acc {ours_acc:.3f})", ours, peer)
    if device != "cpu":
        with graphs_off():
            direct, direct_acc = bench.mnist_gputrain(x, y, device, args.epochs)
        row(f"  same, graphs off (acc {direct_acc:.3f})", direct, peer)
    if not args.skip_cnn:
        for batch in (32, 128):
            ours = bench.median_seconds(*colab_cnn_gputrain(device, batch), args.repeats)
            peer = bench.median_seconds(*colab_cnn_torch(torch, device, batch), args.repeats) if torch else None
            row(f"colab_cnn step, batch {batch}", ours, peer)


if __name__ == "__main__":
    main()
