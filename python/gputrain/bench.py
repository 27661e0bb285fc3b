"""`gputrain bench`: how fast this notebook's devices are, so that two notebooks on two platforms can be
compared row by row: fp32 matrix rate, memory bandwidth, a convolution, a pooling and a dense layer
(forward and backward), and one epoch of the MNIST quickstart, on each usable device, with PyTorch's
numbers beside ours where it is installed (fp32, TF32 off). Timings: warm-up, then the median of
repeats, each ended by a device synchronisation."""
from __future__ import annotations

import statistics
import time

import numpy as np

from . import _core, ops
from ._backends import GPU_BACKENDS, is_usable
from .tensor import tensor as _tensor


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def median_seconds(fn, sync, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sizes(device: str, quick: bool) -> dict:
    gpu = device != "cpu"
    return {
        "matmul": (8192 if gpu else 1024) if not quick else (4096 if gpu else 512),
        "copy_mib": (1024 if gpu else 128) if not quick else (256 if gpu else 32),
        "conv_batch": (128 if gpu else 8) if not quick else (32 if gpu else 2),
        "pool_batch": 32 if not quick else 8,
        "dense_m": (4096 if gpu else 1024) if not quick else (2048 if gpu else 256),
        "repeats": 10 if not quick else 3,
    }


def _row(device, workload, ours_s, peer_s, unit=None, amount=None):
    row = {"device": device, "workload": workload, "gputrain_ms": ours_s * 1e3,
           "pytorch_ms": peer_s * 1e3 if peer_s else None,
           "ratio": peer_s / ours_s if peer_s else None}
    if unit:
        row["gputrain_rate"] = f"{amount / ours_s / 1e9:.1f} {unit}"
    return row


def _torch_device(torch, device):
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.device(device)
    if device.startswith("hip") and torch.cuda.is_available() and getattr(torch.version, "hip", None):
        return torch.device(device.replace("hip", "cuda"))  # PyTorch names ROCm devices cuda
    return None


def device_rows(device: str, quick: bool = False, mnist=None) -> list[dict]:
    torch = _torch()
    tdev = _torch_device(torch, device) if torch else None
    size = _sizes(device, quick)
    reps = size["repeats"]
    rng = np.random.default_rng(0)
    sync = lambda: _core.synchronize(device)  # noqa: E731
    tsync = (lambda: torch.cuda.synchronize(tdev)) if tdev is not None and tdev.type == "cuda" else (lambda: None)
    rows = []

    def peer(fn):
        return median_seconds(fn, tsync, reps) if tdev is not None else None

    n = size["matmul"]
    a = _tensor(rng.standard_normal((n, n), np.float32), device=device)
    b = _tensor(rng.standard_normal((n, n), np.float32), device=device)
    ours = median_seconds(lambda: ops.matmul(a, b), sync, reps)
    ta, tb = (torch.from_numpy(a.numpy()).to(tdev), torch.from_numpy(b.numpy()).to(tdev)) if tdev is not None else (None, None)
    rows.append(_row(device, f"fp32 matmul {n}x{n}x{n}", ours, peer(lambda: ta @ tb), "GFLOP/s", 2.0 * n ** 3))

    count = size["copy_mib"] * (1 << 20) // 4
    src = _tensor(rng.standard_normal(count, np.float32), device=device)
    ours = median_seconds(lambda: src.to(device, copy=True), sync, reps)
    tsrc = torch.from_numpy(src.numpy()).to(tdev) if tdev is not None else None
    rows.append(_row(device, f"copy {size['copy_mib']} MiB (read+write)", ours, peer(lambda: tsrc.clone()),
                     "GB/s", 2.0 * count * 4))

    nb = size["conv_batch"]
    x = _tensor(rng.standard_normal((nb, 56, 56, 64), np.float32), device=device)
    k = _tensor(rng.standard_normal((3, 3, 64, 64), np.float32) * 0.05, device=device)
    dy = _tensor(rng.standard_normal((nb, 56, 56, 64), np.float32), device=device)

    def conv_step():
        ops.conv2d(x, k, padding="same")
        ops.conv2d_grad(dy, x, k, padding="same")
    tpeer = None
    if tdev is not None:
        tconv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(tdev).to(memory_format=torch.channels_last)
        tx = torch.randn(nb, 64, 56, 56, device=tdev).to(memory_format=torch.channels_last).requires_grad_()
        tdy = torch.randn(nb, 64, 56, 56, device=tdev).to(memory_format=torch.channels_last)
        tpeer = lambda: tconv(tx).backward(tdy)  # noqa: E731
    flops = 3 * 2.0 * nb * 56 * 56 * 64 * 64 * 9
    rows.append(_row(device, f"conv 3x3 56x56x64->64 fwd+bwd, batch {nb}", median_seconds(conv_step, sync, reps),
                     peer(tpeer) if tpeer else None, "GFLOP/s", flops))

    pb = size["pool_batch"]
    px = _tensor(rng.standard_normal((pb, 148, 148, 16), np.float32), device=device)
    pdy = _tensor(rng.standard_normal((pb, 74, 74, 16), np.float32), device=device)

    def pool_step():
        ops.max_pool2d(px, 2)
        ops.max_pool2d_grad(pdy, px, 2)
    tpeer = None
    if tdev is not None:
        tpx = torch.randn(pb, 16, 148, 148, device=tdev).to(memory_format=torch.channels_last).requires_grad_()
        tpdy = torch.randn(pb, 16, 74, 74, device=tdev).to(memory_format=torch.channels_last)
        tpeer = lambda: torch.nn.functional.max_pool2d(tpx, 2).backward(tpdy)  # noqa: E731
    rows.append(_row(device, f"maxpool 2x2 148x148x16 fwd+bwd, batch {pb}", median_seconds(pool_step, sync, reps),
                     peer(tpeer) if tpeer else None))

    m = size["dense_m"]
    dx_ = _tensor(rng.standard_normal((m, m), np.float32), device=device)
    dk = _tensor(rng.standard_normal((m, m), np.float32) * 0.01, device=device)
    ddy = _tensor(rng.standard_normal((m, m), np.float32), device=device)

    def dense_step():
        ops.dense(dx_, dk)
        ops.dense_grad(ddy, dx_, dk)
    tpeer = None
    if tdev is not None:
        tlin = torch.nn.Linear(m, m, bias=False).to(tdev)
        tdx = torch.randn(m, m, device=tdev, requires_grad=True)
        tddy = torch.randn(m, m, device=tdev)
        tpeer = lambda: tlin(tdx).backward(tddy)  # noqa: E731
    rows.append(_row(device, f"dense {m}x{m}->{m} fwd+bwd", median_seconds(dense_step, sync, reps),
                     peer(tpeer) if tpeer else None, "GFLOP/s", 3 * 2.0 * m ** 3))

    x_train, y_train, source = mnist if mnist is not None else synthetic_mnist()
    ours, _ = mnist_gputrain(x_train, y_train, device, epochs=1)
    theirs = mnist_torch(torch, x_train, y_train, tdev, epochs=1)[0] if tdev is not None else None
    rows.append(_row(device, f"MNIST quickstart, 1 epoch ({source})", ours, theirs))
    return rows


def synthetic_mnist():
    rng = np.random.default_rng(0)
    return rng.random((60000, 28, 28), dtype=np.float32), rng.integers(0, 10, 60000), "random images"


def mnist_gputrain(x, y, device: str, epochs: int):
    """Seconds for `epochs` of the quickstart fit (batch 32), and the final training accuracy."""
    from .quickstart import build_model
    from .losses import SparseCategoricalCrossentropy
    model = build_model()
    model.compile("adam", SparseCategoricalCrossentropy(from_logits=True), ["accuracy"], device=device)
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return time.perf_counter() - start, history.history["accuracy"][-1]


def mnist_torch(torch, x, y, tdev, epochs: int):
    """The same model, batch, optimizer and per-step accuracy read-back in eager PyTorch."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)).to(tdev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    start = time.perf_counter()
    correct = 0
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        correct = 0
        for i in range(0, len(xt), 32):
            rows = order[i:i + 32]
            xb, yb = xt[rows].to(tdev), yt[rows].to(tdev)
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss_fn(out, yb).backward()
            opt.step()
            correct += (out.argmax(1) == yb).sum().item()
    return time.perf_counter() - start, correct / len(xt)


def usable_devices() -> list[str]:
    return ["cpu"] + [f"{b}:0" for b in GPU_BACKENDS if is_usable(b)]


def run(devices=None, quick: bool = False, data=None) -> list[dict]:
    mnist = None
    if data is not None:
        from .datasets import mnist as mnist_data
        (x, y), _ = mnist_data.load_data(path=data)
        mnist = (x / 255.0, y, "MNIST")
    rows = []
    for device in devices or usable_devices():
        rows += device_rows(device, quick=quick, mnist=mnist)
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'device':8} {'workload':46} {'gputrain ms':>12} {'PyTorch ms':>11} {'ratio':>6}  rate"]
    for r in rows:
        peer = f"{r['pytorch_ms']:11.2f}" if r["pytorch_ms"] else f"{'-':>11}"
        ratio = f"{r['ratio']:6.2f}" if r["ratio"] else f"{'-':>6}"
        lines.append(f"{r['device']:8} {r['workload']:46} {r['gputrain_ms']:12.2f} {peer} {ratio}  "
                     f"{r.get('gputrain_rate', '')}")
    lines.append("ratio = PyTorch time / gputrain time: above 1, gputrain is faster")
    return "\n".join(lines)
