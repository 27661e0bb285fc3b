"""`gputrain bench`: how fast this notebook's devices are, so that two notebooks on two platforms can be
compared row by row: fp32 matrix rate, memory bandwidth, the conv, pooling and dense workloads of the
project's benchmark set (8 convolutions, 2 max poolings and 3 dense layers of a ResNet-18 and of the
classic Colab CNN, each forward+backward as one training step runs them), and one epoch of the MNIST quickstart, on each usable device, with
PyTorch's numbers beside ours where it is installed (same device, NHWC memory seen by PyTorch as
channels_last, fp32 with TF32 off). On the CPU every workload runs at its batch divided by
CPU_BATCH_DIVISOR (and the MNIST epoch has that fraction of the images), so the whole run takes
seconds on a 2-core machine; each row names the batch it ran.

Timings: a warm-up, then the median of repeated runs, each a run of back-to-back calls (enough to last
RUN_S, so microsecond kernels are not measured as launch gaps) ended by a device synchronisation, over
two sets of random inputs alternated (fresh data, not zeros, not the previous call's in cache).

CONV, POOL and DENSE below are the one definition of the workloads inside the package."""
from __future__ import annotations

import os
import statistics
import time
from typing import NamedTuple

import numpy as np

from . import _core, memory, ops
from ._backends import GPU_BACKENDS, is_usable
from .tensor import tensor as _tensor


def _out_hw(h: int, w: int, window: int, stride: int, padding: str) -> tuple[int, int]:
    """Output height and width of a square window under TensorFlow's padding."""
    if padding == "same":
        return -(-h // stride), -(-w // stride)
    return (h - window) // stride + 1, (w - window) // stride + 1


class ConvWorkload(NamedTuple):
    """N,H,W,C → K with a square kernel; `padding` is gputrain's, `torch_padding` the symmetric padding
    on each side that gives PyTorch the same output shape and work."""
    name: str
    n: int
    h: int
    w: int
    c: int
    k: int
    kernel: int
    stride: int
    padding: str
    torch_padding: int
    source: str

    def out_hw(self) -> tuple[int, int]:
        return _out_hw(self.h, self.w, self.kernel, self.stride, self.padding)

    def flops(self, n: int) -> float:
        """Forward multiply-adds × 2 at batch n (a forward+backward step is three times this)."""
        oh, ow = self.out_hw()
        return 2.0 * n * oh * ow * self.k * self.kernel * self.kernel * self.c


class PoolWorkload(NamedTuple):
    """Max pooling of N,H,W,C with a square window."""
    name: str
    n: int
    h: int
    w: int
    c: int
    pool: int
    stride: int
    padding: str
    torch_padding: int
    source: str

    def out_hw(self) -> tuple[int, int]:
        return _out_hw(self.h, self.w, self.pool, self.stride, self.padding)


class DenseWorkload(NamedTuple):
    """M×in → out, with a bias."""
    name: str
    m: int
    fin: int
    fout: int
    source: str

    def flops(self, m: int) -> float:
        return 2.0 * m * self.fin * self.fout


# The layers of a ResNet-18 (224x224 images, batch 128) and of the classic Colab CNN (150x150x3, batch 32)
# that the benchmarks time (NHWC, float32); benchmarks/bench_ops.py, the developers' longer benchmark,
# runs these same tables.
CONV = (
    ConvWorkload("conv 224x224x3->64 7x7 s2 p3", 128, 224, 224, 3, 64, 7, 2, "same", 3, "resnet18"),
    ConvWorkload("conv 56x56x64->64 3x3", 128, 56, 56, 64, 64, 3, 1, "same", 1, "resnet18"),
    ConvWorkload("conv 28x28x128->128 3x3", 128, 28, 28, 128, 128, 3, 1, "same", 1, "resnet18"),
    ConvWorkload("conv 14x14x256->256 3x3", 128, 14, 14, 256, 256, 3, 1, "same", 1, "resnet18"),
    ConvWorkload("conv 7x7x512->512 3x3", 128, 7, 7, 512, 512, 3, 1, "same", 1, "resnet18"),
    ConvWorkload("conv 150x150x3->16 3x3 valid", 32, 150, 150, 3, 16, 3, 1, "valid", 0, "colab_cnn"),
    ConvWorkload("conv 74x74x16->32 3x3 valid", 32, 74, 74, 16, 32, 3, 1, "valid", 0, "colab_cnn"),
    ConvWorkload("conv 36x36x32->64 3x3 valid", 32, 36, 36, 32, 64, 3, 1, "valid", 0, "colab_cnn"),
)
POOL = (
    PoolWorkload("maxpool 148x148x16 2x2 s2", 32, 148, 148, 16, 2, 2, "valid", 0, "colab_cnn"),
    PoolWorkload("maxpool 112x112x64 3x3 s2 p1", 128, 112, 112, 64, 3, 2, "same", 1, "resnet18"),
)
DENSE = (
    DenseWorkload("dense 18496->512", 32, 18496, 512, "colab_cnn"),
    DenseWorkload("dense 784->128", 32, 784, 128, "mnist_mlp"),
    DenseWorkload("dense 4096->4096", 4096, 4096, 4096, "GEMM"),
)
# --quick: one of each kind, for a smoke test.
QUICK = ("conv 56x56x64->64 3x3", "maxpool 148x148x16 2x2 s2", "dense 784->128")

CPU_BATCH_DIVISOR = 16  # CPU rows run each workload's batch (N, or M for dense) divided by this, at least 1
RUN_S = 2e-3  # each timed run of back-to-back calls lasts at least this long
CPU_PAUSE_S = 0.1  # before each CPU timing, so the other library's idle worker threads stop spinning
CPU_BUDGET_S = 0.5  # CPU: fewer repeats (at least 3) for a workload whose repeats would take longer
QUICK_MNIST_IMAGES = 6000  # --quick: the MNIST row trains one epoch of at most this many images


def batch_divisor(device: str) -> int:
    return CPU_BATCH_DIVISOR if device == "cpu" else 1


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def median_seconds(fn, sync, repeats: int, warmup: int = 2) -> float:
    """Median seconds of fn() over `repeats` calls after `warmup`, each call ended by sync()."""
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


def op_seconds(fn, sync, repeats: int, warmup: int = 2, pause_s: float = 0.0, budget_s: float | None = None) -> float:
    """Median seconds per call of fn(i), i = 0, 1, ...: after `warmup` calls, `repeats` timed runs of
    back-to-back calls ended by sync(), each run long enough to last RUN_S (the first timed call, alone,
    sizes the runs and is the first sample when it lasts that long). With budget_s, fewer runs (at
    least 3) where `repeats` would take longer than budget_s."""
    if pause_s:
        time.sleep(pause_s)
    for i in range(warmup):
        fn(i)
    sync()
    start = time.perf_counter()
    fn(warmup)
    sync()
    one = max(time.perf_counter() - start, 1e-9)
    calls = max(1, min(1000, int(RUN_S / one) + 1)) if one < RUN_S else 1
    if budget_s is not None:
        repeats = max(3, min(repeats, int(budget_s / (one * calls))))
    times = [one] if calls == 1 else []
    i = warmup + 1
    while len(times) < repeats:
        start = time.perf_counter()
        for _ in range(calls):
            fn(i)
            i += 1
        sync()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def _sizes(device: str, quick: bool) -> dict:
    gpu = device != "cpu"
    return {
        "matmul": (8192 if gpu else 1024) if not quick else (4096 if gpu else 512),
        "copy_mib": (1024 if gpu else 128) if not quick else (256 if gpu else 32),
        "repeats": (20 if gpu else 5) if not quick else 3,
    }


def _row(device, workload, ours_s, peer_s, unit=None, amount=None, **extra):
    row = {"device": device, "workload": workload, "gputrain_ms": ours_s * 1e3 if ours_s else None,
           "pytorch_ms": peer_s * 1e3 if peer_s else None,
           "ratio": peer_s / ours_s if peer_s and ours_s else None}
    if unit and ours_s:
        row["gputrain_rate"] = f"{amount / ours_s / 1e9:.1f} {unit}"
    row.update(extra)
    return row


def _torch_device(torch, device):
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.device(device)
    if device.startswith("hip") and torch.cuda.is_available() and getattr(torch.version, "hip", None):
        return torch.device(device.replace("hip", "cuda"))  # PyTorch names ROCm devices cuda
    return None


# ---- the workloads, forward+backward: (ours(i), peer(i) or None, amount, unit) -------------------------

def _pairs(make):
    return [make() for _ in range(2)]


def _conv_case(wl: ConvWorkload, n, device, torch, tdev, rng):
    oh, ow = wl.out_hw()
    host = _pairs(lambda: (rng.standard_normal((n, wl.h, wl.w, wl.c), np.float32),
                           rng.standard_normal((wl.kernel, wl.kernel, wl.c, wl.k), np.float32) * 0.1,
                           rng.standard_normal((n, oh, ow, wl.k), np.float32)))
    ours_in = [tuple(_tensor(a, device=device) for a in s) for s in host]

    def ours(i):
        x, k, dy = ours_in[i % 2]
        ops.conv2d(x, k, strides=wl.stride, padding=wl.padding)
        ops.conv2d_grad(dy, x, k, strides=wl.stride, padding=wl.padding)

    peer = None
    if tdev is not None:
        cl = torch.channels_last
        peer_in = [(torch.from_numpy(x).to(tdev).permute(0, 3, 1, 2),  # NHWC memory seen as NCHW
                    torch.from_numpy(k).to(tdev).permute(3, 2, 0, 1).contiguous(memory_format=cl),
                    torch.from_numpy(dy).to(tdev).permute(0, 3, 1, 2)) for x, k, dy in host]
        bias = torch.zeros(wl.k, device=tdev)

        def peer(i):  # y, dx, dW and db, as conv2d + conv2d_grad
            x, k, dy = peer_in[i % 2]
            x, k, b = x.detach().requires_grad_(), k.detach().requires_grad_(), bias.detach().requires_grad_()
            torch.nn.functional.conv2d(x, k, b, stride=wl.stride, padding=wl.torch_padding).backward(dy)
    return ours, peer, 3 * wl.flops(n), "GFLOP/s"


def _pool_case(wl: PoolWorkload, n, device, torch, tdev, rng):
    oh, ow = wl.out_hw()
    host = _pairs(lambda: (rng.standard_normal((n, wl.h, wl.w, wl.c), np.float32),
                           rng.standard_normal((n, oh, ow, wl.c), np.float32)))
    ours_in = [tuple(_tensor(a, device=device) for a in s) for s in host]

    def ours(i):  # as MaxPooling2D trains: the forward keeps its argmax for the backward
        x, dy = ours_in[i % 2]
        _, argmax = ops.max_pool2d(x, wl.pool, wl.stride, wl.padding, return_argmax=True)
        ops.max_pool2d_grad(dy, x, wl.pool, wl.stride, wl.padding, argmax=argmax)

    peer = None
    if tdev is not None:
        peer_in = [(torch.from_numpy(x).to(tdev).permute(0, 3, 1, 2), torch.from_numpy(dy).to(tdev).permute(0, 3, 1, 2))
                   for x, dy in host]

        def peer(i):  # PyTorch's forward saves its indices for the backward too
            x, dy = peer_in[i % 2]
            x = x.detach().requires_grad_()
            torch.nn.functional.max_pool2d(x, wl.pool, wl.stride, wl.torch_padding).backward(dy)
    # Least traffic of the step: x read, y and argmax written; dy and argmax read, dx written.
    x_bytes, y_bytes = host[0][0].nbytes, host[0][1].nbytes
    return ours, peer, 2 * x_bytes + 4 * y_bytes, "GB/s"


def _dense_case(wl: DenseWorkload, m, device, torch, tdev, rng):
    host = _pairs(lambda: (rng.standard_normal((m, wl.fin), np.float32),
                           rng.standard_normal((wl.fin, wl.fout), np.float32) * 0.01,
                           rng.standard_normal(wl.fout, np.float32),
                           rng.standard_normal((m, wl.fout), np.float32)))
    ours_in = [tuple(_tensor(a, device=device) for a in s) for s in host]

    def ours(i):
        x, k, b, dy = ours_in[i % 2]
        ops.dense(x, k, b)
        ops.dense_grad(dy, x, k)

    peer = None
    if tdev is not None:
        peer_in = [tuple(torch.from_numpy(a).to(tdev) for a in s) for s in host]

        def peer(i):  # y = x·W + b, dx, dW and db, as dense + dense_grad
            x, k, b, dy = peer_in[i % 2]
            torch.addmm(b, x, k)
            torch.mm(dy, k.T), torch.mm(x.T, dy), dy.sum(0)
    return ours, peer, 3 * wl.flops(m), "GFLOP/s"


def workloads(quick: bool = False) -> list:
    every = [("conv", wl, wl.n, _conv_case) for wl in CONV] + [("pool", wl, wl.n, _pool_case) for wl in POOL] \
        + [("dense", wl, wl.m, _dense_case) for wl in DENSE]
    return [w for w in every if not quick or w[1].name in QUICK]


def _workload_rows(device, quick, torch, tdev, sync, tsync, reps, rng) -> list[dict]:
    div = batch_divisor(device)
    cpu = device == "cpu"
    timing = {"warmup": 1 if cpu else 3, "pause_s": CPU_PAUSE_S if cpu else 0.0,
              "budget_s": CPU_BUDGET_S if cpu else None}
    rows = []
    for kind, wl, full, case in workloads(quick):
        n = max(1, full // div)
        label = f"{wl.name}, N {n}" + (f"/{full}" if n != full else "")
        extra = {"kind": kind, "name": wl.name, "source": wl.source, "pass": "fwd+bwd", "batch": n,
                 "guide_batch": full}
        try:
            ours, peer, amount, unit = case(wl, n, device, torch, tdev, rng)
            ours_s = op_seconds(ours, sync, reps, **timing)
        except _core.OutOfMemoryError as exc:
            rows.append(_row(device, label, None, None, error=f"out of memory: {exc}", **extra))
            continue
        peer_s = None
        if peer is not None:
            try:
                peer_s = op_seconds(peer, tsync, reps, **timing)
            except Exception as exc:  # noqa: BLE001 - the peer failing (memory, a missing kernel) is not ours
                extra["pytorch_error"] = f"{type(exc).__name__}: {exc}"[:200]
        rows.append(_row(device, label, ours_s, peer_s, unit, amount, **extra))
        ours = peer = None
        _release(device, torch, tdev)
    return rows


def _release(device, torch, tdev):
    """On a GPU, each library's cached blocks go back, so the next workload finds the memory free."""
    if device == "cpu":
        return
    _core.synchronize(device)
    memory.empty_cache(device)
    if tdev is not None and tdev.type == "cuda":
        torch.cuda.empty_cache()


def device_rows(device: str, quick: bool = False, mnist=None) -> list[dict]:
    torch = _torch()
    tdev = _torch_device(torch, device) if torch else None
    size = _sizes(device, quick)
    reps = size["repeats"]
    rng = np.random.default_rng(0)
    sync = lambda: _core.synchronize(device)  # noqa: E731
    tsync = (lambda: torch.cuda.synchronize(tdev)) if tdev is not None and tdev.type == "cuda" else (lambda: None)
    restore = None
    if tdev is not None:
        restore = (torch.get_num_threads(), torch.backends.cudnn.benchmark)
        if tdev.type == "cpu":
            torch.set_num_threads(_core.cpu_threads())  # the threads gputrain uses
        torch.backends.cudnn.benchmark = True  # the peer at its best: cuDNN picks its fastest algorithms
    load = os.getloadavg()[0] if device == "cpu" and hasattr(os, "getloadavg") else None
    rows = []

    def peer(fn):
        return median_seconds(fn, tsync, reps) if tdev is not None else None

    try:
        n = size["matmul"]
        a = _tensor(rng.standard_normal((n, n), np.float32), device=device)
        b = _tensor(rng.standard_normal((n, n), np.float32), device=device)
        ours = median_seconds(lambda: ops.matmul(a, b), sync, reps)
        ta, tb = (torch.from_numpy(a.numpy()).to(tdev), torch.from_numpy(b.numpy()).to(tdev)) if tdev is not None else (None, None)
        rows.append(_row(device, f"fp32 matmul {n}x{n}x{n}", ours, peer(lambda: ta @ tb), "GFLOP/s", 2.0 * n ** 3,
                         kind="limit"))
        a = b = ta = tb = None

        count = size["copy_mib"] * (1 << 20) // 4
        src = _tensor(rng.standard_normal(count, np.float32), device=device)
        ours = median_seconds(lambda: src.to(device, copy=True), sync, reps)
        tsrc = torch.from_numpy(src.numpy()).to(tdev) if tdev is not None else None
        rows.append(_row(device, f"copy {size['copy_mib']} MiB (read+write)", ours, peer(lambda: tsrc.clone()),
                         "GB/s", 2.0 * count * 4, kind="limit"))
        src = tsrc = None

        _release(device, torch, tdev)
        rows += _workload_rows(device, quick, torch, tdev, sync, tsync, reps, rng)

        x_train, y_train, source = mnist if mnist is not None else synthetic_mnist()
        images = len(x_train) // batch_divisor(device)  # on the CPU, an epoch of 1/16 of the images
        if quick:
            images = min(images, QUICK_MNIST_IMAGES)
        x_train, y_train = x_train[:images], y_train[:images]
        ours, _ = mnist_gputrain(x_train, y_train, device, epochs=1)
        theirs = mnist_torch(torch, x_train, y_train, tdev, epochs=1)[0] if tdev is not None else None
        rows.append(_row(device, f"MNIST quickstart, 1 epoch of {images:,} ({source})", ours, theirs,
                         kind="train", batch=32, images=images))
    finally:
        if restore is not None:
            torch.set_num_threads(restore[0])
            torch.backends.cudnn.benchmark = restore[1]
    peer_name = f"PyTorch {torch.__version__}" if tdev is not None else None
    for row in rows:
        row["peer"] = peer_name
        row["batch_divisor"] = batch_divisor(device)
        if load is not None:
            row["cpu_load_at_start"] = load
    return rows


def synthetic_mnist():
    rng = np.random.default_rng(0)
    return rng.random((60000, 28, 28), dtype=np.float32), rng.integers(0, 10, 60000), "random images"


def mnist_gputrain(x, y, device: str, epochs: int):
    """Seconds for `epochs` of the quickstart fit (batch 32), and the final training accuracy."""
    from .quickstart import build_model
    from .losses import SparseCategoricalCrossentropy
    model = build_model()
    model.compile("adam", SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"], device=device)
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
    lines = [f"{'device':8} {'workload':52} {'gputrain ms':>12} {'PyTorch ms':>11} {'ratio':>6}  rate"]
    for r in rows:
        ours = f"{r['gputrain_ms']:12.2f}" if r["gputrain_ms"] else f"{'-':>12}"
        peer = f"{r['pytorch_ms']:11.2f}" if r["pytorch_ms"] else f"{'-':>11}"
        ratio = f"{r['ratio']:6.2f}" if r["ratio"] else f"{'-':>6}"
        lines.append(f"{r['device']:8} {r['workload']:52} {ours} {peer} {ratio}  {r.get('gputrain_rate', '')}")
    lines.append("ratio = PyTorch time / gputrain time: above 1, gputrain is faster")
    lines.append("conv, maxpool, dense: layers of a ResNet-18 (224x224 images, batch 128) and of the classic "
                 "Colab CNN (150x150x3, batch 32), NHWC float32, each timed as one forward+backward step")
    lines.append("N: the batch run; 'N 2/32' ran batch 2 of a layer whose full batch is 32")
    for device in dict.fromkeys(r["device"] for r in rows):
        first = next(r for r in rows if r["device"] == device)
        div = first.get("batch_divisor", 1)
        scale = (f"batches (and MNIST images) divided by {div}, at least 1, to keep the run short" if div > 1
                 else "full batches")
        peer = (f"{first['peer']} on the same device, channels_last, TF32 off" if first.get("peer")
                else "PyTorch not installed or not on this device: no peer numbers")
        load = (f"; load average {first['cpu_load_at_start']:.2f} at start on {os.cpu_count()} logical cores "
                "(other processes' work slows both columns)" if "cpu_load_at_start" in first else "")
        lines.append(f"{device}: {scale}; {peer}{load}")
    for r in rows:
        for key in ("error", "pytorch_error"):
            if r.get(key):
                lines.append(f"{r['device']} {r['workload']}: {'PyTorch ' if key == 'pytorch_error' else ''}{r[key]}")
    return "\n".join(lines)
