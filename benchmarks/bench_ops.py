"""Conv, pooling and dense workloads (the ResNet-18 and Colab CNN layers of gputrain.bench) through
gputrain and a peer, in one process.

    python benchmarks/bench_ops.py --device cpu     # peers: NumPy (OpenBLAS), PyTorch if installed
    python benchmarks/bench_ops.py --device cuda    # peers: PyTorch cuDNN/cuBLAS, TF32 off and on

One row per workload and pass: gputrain ms, the rate it reached and its share of the device's limit
(GFLOP/s against the measured fp32 rate of a large SGEMM; for pooling, GB/s against the measured copy
bandwidth, counting the bytes a pass must move at least: x and y forward; x, dy and dx backward), then
each peer's ms and ratio = peer / gputrain (above 1: we are faster). GPU timing: CUDA events on the
default stream (where gputrain launches) around a run of back-to-back calls (enough to fill about a
millisecond, so microsecond workloads are not measured as launch gaps), warm-up, median of many such
runs. CPU timing: perf_counter, warm-up, median. Inputs are random normal, drawn fresh for each
workload, with two input sets alternated so no call sees the previous call's data in cache by accident.
On the CPU the batch of every conv and pooling workload is divided by --cpu-batch-divisor (default 16)
so the whole run takes minutes on a small machine (the rows say which batch they ran); dense workloads
run at full size.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time

import numpy as np

import gputrain as gt
from gputrain import bench as workloads

# The workloads are defined once, in the package (`gputrain bench` runs them too).


# ---- timing -----------------------------------------------------------------------------------------

class CpuTimer:
    def __init__(self, repeats, budget_s):
        self.repeats, self.budget_s = repeats, budget_s

    def __call__(self, fn):
        """Median seconds of fn(i) over i = 0, 1, ... after a pause and three warm-up calls; stops early
        after the time budget (at least 3 timed calls). The pause lets the previous library's idle
        worker threads (OpenBLAS's and OpenMP's spin before sleeping) go to sleep: on a machine with
        few cores a spinning thread of one library steals the core the other one's thread needs."""
        time.sleep(0.3)
        for i in range(3):
            fn(i)
        times, start = [], time.perf_counter()
        for i in range(self.repeats):
            t0 = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t0)
            if i >= 2 and time.perf_counter() - start > self.budget_s:
                break
        return statistics.median(times)


class CudaTimer:
    RUN_S = 1e-3  # each timed run of back-to-back calls lasts at least this long

    def __init__(self, torch, repeats, warmup):
        self.torch, self.repeats, self.warmup = torch, repeats, warmup

    def _run(self, fn, first, calls):
        cuda = self.torch.cuda
        start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
        start.record()
        for i in range(first, first + calls):
            fn(i)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    def __call__(self, fn):
        """Median seconds per call, from CUDA events around runs of back-to-back fn(i) calls on the
        default stream. A call that takes microseconds on the device takes longer to launch from
        Python; timed one by one, the events would measure the host. Runs of `calls` calls (enough for
        RUN_S) keep the device busy, as in training, for gputrain and the peer alike."""
        for i in range(self.warmup):
            fn(i)
        self.torch.cuda.synchronize()
        one = self._run(fn, 0, 1)
        calls = max(1, min(1000, int(self.RUN_S / max(one, 1e-7)) + 1))
        return statistics.median(self._run(fn, i * calls, calls) / calls for i in range(self.repeats))


# ---- device limits ----------------------------------------------------------------------------------

def cpu_limits(timer):
    n = 2048
    a, b = (np.random.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    gemm = timer(lambda i: a @ b)
    src = np.random.standard_normal(64 << 20).astype(np.float32)  # 256 MiB
    dst = np.empty_like(src)
    copy = timer(lambda i: np.copyto(dst, src))
    return 2.0 * n ** 3 / gemm / 1e9, 2 * src.nbytes / copy / 1e9


def cuda_limits(torch, timer):
    torch.backends.cuda.matmul.allow_tf32 = False
    n = 8192
    a, b = (torch.randn(n, n, device="cuda") for _ in range(2))
    gemm = timer(lambda i: a @ b)
    src = torch.randn(256 << 20, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)
    copy = timer(lambda i: dst.copy_(src))
    return 2.0 * n ** 3 / gemm / 1e9, 2 * src.numel() * 4 / copy / 1e9


# ---- NumPy peer (CPU) -------------------------------------------------------------------------------

def _pad(x, top, left, bottom, right, value=0.0):
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _same(size, window, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def numpy_conv(x, w, stride, padding):
    r = w.shape[0]
    if padding == "same":
        t, b = _same(x.shape[1], r, stride)
        l, rr = _same(x.shape[2], r, stride)
        x = _pad(x, t, l, b, rr)
    win = np.lib.stride_tricks.sliding_window_view(x, (r, r), axis=(1, 2))[:, ::stride, ::stride]
    # win: (n, oh, ow, c, r, r) → im2col in HWIO order, then one BLAS GEMM.
    n, oh, ow, c = win.shape[:4]
    cols = np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, r * r * c)
    return (cols @ w.reshape(-1, w.shape[3])).reshape(n, oh, ow, -1), cols


def numpy_conv_fwd_bwd(x, w, dy, stride, padding):
    y, cols = numpy_conv(x, w, stride, padding)
    dy2 = dy.reshape(-1, w.shape[3])
    dw = cols.T @ dy2
    db = dy2.sum(axis=0)
    dcols = (dy2 @ w.reshape(-1, w.shape[3]).T).reshape(dy.shape[:3] + w.shape[:3])
    r = w.shape[0]
    t, l = (_same(x.shape[1], r, stride)[0], _same(x.shape[2], r, stride)[0]) if padding == "same" else (0, 0)
    oh, ow = dy.shape[1], dy.shape[2]
    hp, wp = max(x.shape[1] + t, (oh - 1) * stride + r), max(x.shape[2] + l, (ow - 1) * stride + r)
    dxp = np.zeros((x.shape[0], hp, wp, x.shape[3]), np.float32)
    for i in range(r):
        for j in range(r):
            dxp[:, i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride] += dcols[:, :, :, i, j]
    return y, dxp[:, t:t + x.shape[1], l:l + x.shape[2]], dw, db


def numpy_maxpool(x, p, s, padding):
    if padding == "same":
        t, b = _same(x.shape[1], p, s)
        l, r = _same(x.shape[2], p, s)
        x = _pad(x, t, l, b, r, -np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (p, p), axis=(1, 2))[:, ::s, ::s]
    return win.max(axis=(4, 5)), win


def numpy_maxpool_bwd(x, dy, p, s, padding):
    _, win = numpy_maxpool(x, p, s, padding)
    n, oh, ow, c = win.shape[:4]
    arg = win.reshape(n, oh, ow, c, p * p).argmax(axis=4)  # first maximum
    t, l = (_same(x.shape[1], p, s)[0], _same(x.shape[2], p, s)[0]) if padding == "same" else (0, 0)
    dxp = np.zeros((n, max(x.shape[1] + t, (oh - 1) * s + p), max(x.shape[2] + l, (ow - 1) * s + p), c),
                   np.float32)
    for k in range(p * p):
        i, j = divmod(k, p)
        dxp[:, i:i + (oh - 1) * s + 1:s, j:j + (ow - 1) * s + 1:s] += np.where(arg == k, dy, 0.0)
    return dxp[:, t:t + x.shape[1], l:l + x.shape[2]]


# ---- the run ----------------------------------------------------------------------------------------

class Limits:
    """The device's measured fp32 rate (GFLOP/s) and copy bandwidth (GB/s), for each row's share."""
    def __init__(self, gflops, bandwidth):
        self.gflops, self.bandwidth = gflops, bandwidth


LIMITS = Limits(None, None)  # set by run_cpu / run_cuda once measured


def rate_cell(seconds, flops=None, moved_bytes=None) -> str:
    """'123.4 GF/s  45%' of the fp32 limit, or '812.0 GB/s  27%' of the bandwidth for memory-bound work."""
    if flops:
        rate, limit, unit = flops / seconds / 1e9, LIMITS.gflops, "GF/s"
    elif moved_bytes:
        rate, limit, unit = moved_bytes / seconds / 1e9, LIMITS.bandwidth, "GB/s"
    else:
        return f"{'':16s}"
    share = f"{100 * rate / limit:3.0f}%" if limit else "    "
    return f"{rate:7.1f} {unit} {share}"


def row(name, ours, peers, flops=None, moved_bytes=None):
    cells = [f"{name:<48s}", f"{ours * 1e3:10.3f}", rate_cell(ours, flops, moved_bytes)]
    for peer_name, t in peers:
        cells.append(f"{peer_name} {t * 1e3:9.3f} ms x{t / ours:5.2f}" if t is not None else f"{peer_name} -")
    print(" | ".join(cells), flush=True)


def run_cpu(args):
    timer = CpuTimer(args.repeats, args.budget)
    try:
        import torch
        torch.set_num_threads(gt._core.cpu_threads())
    except ImportError:
        torch = None
    gflops, bandwidth = cpu_limits(timer)
    LIMITS.gflops, LIMITS.bandwidth = gflops, bandwidth
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                 platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"device: CPU {model}, {os.cpu_count()} logical cores, gputrain threads {gt._core.cpu_threads()}, "
          f"load average at start {load} (other processes share these cores)")
    print(f"limits: fp32 {gflops:.1f} GFLOP/s (NumPy 2048^3 matmul), copy {bandwidth:.1f} GB/s (256 MiB np.copyto)")
    print(f"batch sizes divided by {args.cpu_batch_divisor} (CPU run); peers: NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__}" if torch else ", PyTorch not installed"))
    print(f"{'workload':<48s} | {'gputrain ms':>10s} | {'rate, of limit':>16s} | peers (ms, ratio = peer / gputrain)")
    rng = np.random.default_rng(0)
    div = args.cpu_batch_divisor

    def pick(sets, i):
        return sets[i % len(sets)]

    for wl in workloads.CONV:
        name, n, h, w, c, k, r, s, pad, tpad = wl[:10]
        n = max(1, n // div)
        sets = [(rng.standard_normal((n, h, w, c), dtype=np.float32),
                 (rng.standard_normal((r, r, c, k), dtype=np.float32) * 0.1)) for _ in range(2)]
        y = gt.ops.conv2d(sets[0][0], sets[0][1], strides=s, padding=pad, device="cpu")
        dys = [rng.standard_normal(y.shape, dtype=np.float32) for _ in range(2)]
        flops = wl.flops(n)
        label = f"{name} N={n}"
        ours = timer(lambda i: gt.ops.conv2d(*pick(sets, i), strides=s, padding=pad, device="cpu"))
        peers = [("numpy", timer(lambda i: numpy_conv(*pick(sets, i), s, pad)))]
        if torch:
            tsets = [(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(wt).permute(3, 2, 0, 1).contiguous())
                     for x, wt in sets]
            peers.append(("torch", timer(lambda i: torch.nn.functional.conv2d(*pick(tsets, i), stride=s, padding=tpad))))
        row(label + " fwd", ours, peers, flops)

        def ours_fb(i):
            x, wt = pick(sets, i)
            gt.ops.conv2d(x, wt, strides=s, padding=pad, device="cpu")
            gt.ops.conv2d_grad(pick(dys, i), x, wt, strides=s, padding=pad, device="cpu")

        peers = [("numpy", timer(lambda i: numpy_conv_fwd_bwd(*pick(sets, i), pick(dys, i), s, pad)))]
        if torch:
            tbias = torch.zeros(k)
            tdys = [torch.from_numpy(d).permute(0, 3, 1, 2) for d in dys]
            peers.append(("torch", timer(lambda i: torch_conv_fwd_bwd(torch, *pick(tsets, i), tbias, pick(tdys, i),
                                                                      s, tpad))))
        row(label + " fwd+bwd", timer(ours_fb), peers, 3 * flops)

    for wl in workloads.POOL:
        name, n, h, w, c, p, s, pad, tpad = wl[:9]
        n = max(1, n // div)
        xs = [rng.standard_normal((n, h, w, c), dtype=np.float32) for _ in range(2)]
        y = gt.ops.max_pool2d(xs[0], p, s, pad, device="cpu")
        dys = [rng.standard_normal(y.shape, dtype=np.float32) for _ in range(2)]
        label = f"{name} N={n}"
        peers = [("numpy", timer(lambda i: numpy_maxpool(pick(xs, i), p, s, pad)[0]))]
        if torch:
            txs = [torch.from_numpy(x).permute(0, 3, 1, 2) for x in xs]
            peers.append(("torch", timer(lambda i: torch.nn.functional.max_pool2d(pick(txs, i), p, s, tpad))))
        row(label + " fwd", timer(lambda i: gt.ops.max_pool2d(pick(xs, i), p, s, pad, device="cpu")), peers,
            moved_bytes=xs[0].nbytes + dys[0].nbytes)
        peers = [("numpy", timer(lambda i: numpy_maxpool_bwd(pick(xs, i), pick(dys, i), p, s, pad)))]
        if torch:
            prepared = [torch_pool_for_backward(torch, x, p, s, tpad) for x in txs]
            tdys = [torch.from_numpy(d).permute(0, 3, 1, 2) for d in dys]
            peers.append(("torch", timer(lambda i: torch.autograd.grad(
                pick(prepared, i)[1], pick(prepared, i)[0], pick(tdys, i), retain_graph=True))))
        row(label + " bwd from x", timer(lambda i: gt.ops.max_pool2d_grad(pick(dys, i), pick(xs, i), p, s, pad,
                                                                          device="cpu")), peers,
            moved_bytes=2 * xs[0].nbytes + dys[0].nbytes)
        argmaxes = [gt.ops.max_pool2d(x, p, s, pad, device="cpu", return_argmax=True)[1] for x in xs]
        row(label + " bwd, saved argmax", timer(lambda i: gt.ops.max_pool2d_grad(
            pick(dys, i), pick(xs, i), p, s, pad, device="cpu", argmax=pick(argmaxes, i))), peers[1:],
            moved_bytes=xs[0].nbytes + 2 * dys[0].nbytes)

    for wl in workloads.DENSE:
        name, m, fin, fout = wl[:4]
        sets = [(rng.standard_normal((m, fin), dtype=np.float32),
                 rng.standard_normal((fin, fout), dtype=np.float32) * 0.01,
                 rng.standard_normal(fout, dtype=np.float32)) for _ in range(2)]
        dys = [rng.standard_normal((m, fout), dtype=np.float32) for _ in range(2)]
        flops = 2.0 * m * fin * fout
        label = f"{name} M={m}"
        peers = [("numpy", timer(lambda i: (lambda x, wt, b: x @ wt + b)(*pick(sets, i))))]
        if torch:
            tsets = [tuple(torch.from_numpy(a) for a in st) for st in sets]
            peers.append(("torch", timer(lambda i: torch.nn.functional.linear(
                pick(tsets, i)[0], pick(tsets, i)[1].T, pick(tsets, i)[2]))))
        row(label + " fwd", timer(lambda i: gt.ops.dense(*pick(sets, i), device="cpu")), peers, flops)

        def numpy_fb(i):
            x, wt, b = pick(sets, i)
            dy = pick(dys, i)
            return x @ wt + b, dy @ wt.T, x.T @ dy, dy.sum(axis=0)

        def ours_fb(i):
            x, wt, b = pick(sets, i)
            gt.ops.dense(x, wt, b, device="cpu")
            gt.ops.dense_grad(pick(dys, i), x, wt, device="cpu")

        peers = [("numpy", timer(numpy_fb))]
        if torch:
            tdys = [torch.from_numpy(d) for d in dys]
            peers.append(("torch", timer(lambda i: torch_dense_fwd_bwd(torch, *pick(tsets, i), pick(tdys, i)))))
        row(label + " fwd+bwd", timer(ours_fb), peers, 3 * flops)


def torch_pool_for_backward(torch, x, p, s, tpad):
    """(x, y) of a max pooling with its graph kept: the peer's backward alone is then timed (its forward,
    which saves the indices, runs before)."""
    x = x.detach().requires_grad_()
    return x, torch.nn.functional.max_pool2d(x, p, s, tpad)


def torch_dense_fwd_bwd(torch, x, wt, b, dy):
    """The work of gputrain's dense + dense_grad: y = x·W + b, dx, dW and db."""
    torch.addmm(b, x, wt)
    return torch.mm(dy, wt.T), torch.mm(x.T, dy), dy.sum(0)


def torch_conv_fwd_bwd(torch, x, wt, b, dy, stride, padding):
    """The work of gputrain's conv2d + conv2d_grad: y, dx, dW and db (a bias with a gradient, as
    conv2d_grad returns one)."""
    x, wt, b = x.detach().requires_grad_(), wt.detach().requires_grad_(), b.detach().requires_grad_()
    out = torch.nn.functional.conv2d(x, wt, b, stride=stride, padding=padding)
    out.backward(dy[:, :, :out.shape[2], :out.shape[3]])


def short_kernel_name(name: str) -> str:
    """A profiler's kernel name cut to what tells kernels apart: gputrain's GEMM instances become
    'gemm 128x128 <A loader>/<B loader>/<store>' (namespaces, parameter lists and `void` dropped)."""
    name = re.sub(r"^void |\(anonymous namespace\)::|gt::gpu::", "", name)
    tile = re.match(r"gemm_tile_(?:pipelined_)?kernel<TileShape<(\d+), (\d+)[^>]*>, (\w+(?:<\w*>)?), "
                    r"(\w+(?:<\w*>)?), (\w+)", name)
    if tile:
        return f"gemm {tile[1]}x{tile[2]} {tile[3]}/{tile[4]}/{tile[5]}"
    return name.split("(")[0][:70]


def kernel_shares(torch, fn, top=3) -> str:
    """The CUDA kernels one call of fn runs, the longest first with their device time and share: which
    algorithm cuDNN or cuBLAS chose (implicit GEMM, Winograd, FFT...), what our kernels must race, and
    where our own time goes."""
    try:
        from torch.profiler import ProfilerActivity, profile
        fn(0)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn(1)
            torch.cuda.synchronize()
        times = {}
        for e in prof.key_averages():
            t = getattr(e, "device_time_total", None)
            t = e.cuda_time_total if t is None else t
            if t and t > 0:
                key = short_kernel_name(e.key)
                times[key] = times.get(key, 0.0) + t
        total = sum(times.values()) or 1.0
        names = sorted(times, key=times.get, reverse=True)[:top]
        return ", ".join(f"{n} {times[n] / 1e3:.3f} ms ({100 * times[n] / total:.0f}%)" for n in names) \
            or "none recorded"
    except Exception as exc:  # a profiler that does not work here must not stop the benchmark
        return f"profiler failed: {exc}"


def run_cuda(args):
    import torch
    if not torch.cuda.is_available():
        sys.exit("--device cuda: PyTorch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    timer = CudaTimer(torch, args.repeats, args.warmup)
    gflops, bandwidth = cuda_limits(torch, timer)
    LIMITS.gflops, LIMITS.bandwidth = gflops, bandwidth
    print(f"device: {torch.cuda.get_device_name(0)}; gputrain {gt.__version__}, PyTorch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    print(f"limits: fp32 {gflops:.1f} GFLOP/s (torch 8192^3 SGEMM, TF32 off), copy {bandwidth:.1f} GB/s "
          f"(1 GiB device-to-device)")
    print(f"{'workload':<48s} | {'gputrain ms':>10s} | {'rate, of limit':>16s} | peers (ms, ratio = peer / gputrain)")
    torch.manual_seed(0)

    def gtt(t):  # zero-copy view of a torch tensor as a gputrain Tensor
        return gt.from_dlpack(t.contiguous())

    def pick(sets, i):
        return sets[i % len(sets)]

    def torch_both(fn):
        """Peer timings with TF32 off, then on (cuDNN and cuBLAS flags together)."""
        out = []
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            out.append((f"torch{'+tf32' if tf32 else ''}", timer(fn)))
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        return out

    for wl in workloads.CONV:
        name, n, h, w, c, k, r, s, pad, tpad = wl[:10]
        xs = [torch.randn(n, h, w, c, device="cuda") for _ in range(2)]
        ws = [torch.randn(r, r, c, k, device="cuda") * 0.1 for _ in range(2)]
        gsets = [(gtt(x), gtt(wt)) for x, wt in zip(xs, ws)]
        tsets = [(x.permute(0, 3, 1, 2), wt.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last))
                 for x, wt in zip(xs, ws)]  # NHWC memory seen as NCHW: cuDNN's channels_last path
        y = gt.ops.conv2d(*gsets[0], strides=s, padding=pad)
        dys = [torch.randn(*y.shape, device="cuda") for _ in range(2)]
        gdys = [gtt(d) for d in dys]
        tdys = [d.permute(0, 3, 1, 2) for d in dys]
        flops = wl.flops(n)
        ours = timer(lambda i: gt.ops.conv2d(*pick(gsets, i), strides=s, padding=pad))
        row(name + " fwd", ours,
            torch_both(lambda i: torch.nn.functional.conv2d(*pick(tsets, i), stride=s, padding=tpad)), flops)

        def ours_fb(i):
            x, wt = pick(gsets, i)
            gt.ops.conv2d(x, wt, strides=s, padding=pad)
            gt.ops.conv2d_grad(pick(gdys, i), x, wt, strides=s, padding=pad)

        tbias = torch.zeros(k, device="cuda")
        peer_fb = lambda i: torch_conv_fwd_bwd(torch, *pick(tsets, i), tbias, pick(tdys, i), s, tpad)  # noqa: E731
        row(name + " fwd+bwd", timer(ours_fb), torch_both(peer_fb), 3 * flops)
        print(f"    torch fwd+bwd kernels: {kernel_shares(torch, peer_fb)}", flush=True)
        print(f"    gputrain fwd+bwd kernels: {kernel_shares(torch, ours_fb, top=4)}", flush=True)

    for wl in workloads.POOL:
        name, n, h, w, c, p, s, pad, tpad = wl[:9]
        xs = [torch.randn(n, h, w, c, device="cuda") for _ in range(2)]
        gxs, txs = [gtt(x) for x in xs], [x.permute(0, 3, 1, 2) for x in xs]
        y = gt.ops.max_pool2d(gxs[0], p, s, pad)
        dys = [torch.randn(*y.shape, device="cuda") for _ in range(2)]
        gdys, tdys = [gtt(d) for d in dys], [d.permute(0, 3, 1, 2) for d in dys]
        x_bytes, y_bytes = xs[0].numel() * 4, dys[0].numel() * 4
        row(name + " fwd", timer(lambda i: gt.ops.max_pool2d(pick(gxs, i), p, s, pad)),
            [("torch", timer(lambda i: torch.nn.functional.max_pool2d(pick(txs, i), p, s, tpad)))],
            moved_bytes=x_bytes + y_bytes)
        prepared = [torch_pool_for_backward(torch, x, p, s, tpad) for x in txs]
        torch_bwd = [("torch", timer(lambda i: torch.autograd.grad(pick(prepared, i)[1], pick(prepared, i)[0],
                                                                   pick(tdys, i), retain_graph=True)))]
        # PyTorch's backward reads the indices its forward saved: "saved argmax" is the like-for-like row.
        row(name + " bwd from x", timer(lambda i: gt.ops.max_pool2d_grad(pick(gdys, i), pick(gxs, i), p, s, pad)),
            torch_bwd, moved_bytes=2 * x_bytes + y_bytes)
        argmaxes = [gt.ops.max_pool2d(x, p, s, pad, return_argmax=True)[1] for x in gxs]
        row(name + " bwd, saved argmax", timer(lambda i: gt.ops.max_pool2d_grad(
            pick(gdys, i), pick(gxs, i), p, s, pad, argmax=pick(argmaxes, i))), torch_bwd,
            moved_bytes=x_bytes + 2 * y_bytes)

    for wl in workloads.DENSE:
        name, m, fin, fout = wl[:4]
        xs = [torch.randn(m, fin, device="cuda") for _ in range(2)]
        ws = [torch.randn(fin, fout, device="cuda") * 0.01 for _ in range(2)]
        bs = [torch.randn(fout, device="cuda") for _ in range(2)]
        dys = [torch.randn(m, fout, device="cuda") for _ in range(2)]
        gsets = [(gtt(x), gtt(wt), gtt(b)) for x, wt, b in zip(xs, ws, bs)]
        gdys = [gtt(d) for d in dys]
        flops = 2.0 * m * fin * fout
        row(name + " fwd", timer(lambda i: gt.ops.dense(*pick(gsets, i))),
            torch_both(lambda i: torch.addmm(bs[i % 2], xs[i % 2], ws[i % 2])), flops)

        def ours_fb(i):
            x, wt, b = pick(gsets, i)
            gt.ops.dense(x, wt, b)
            gt.ops.dense_grad(pick(gdys, i), x, wt)

        peer_fb = lambda i: torch_dense_fwd_bwd(torch, xs[i % 2], ws[i % 2], bs[i % 2], dys[i % 2])  # noqa: E731
        row(name + " fwd+bwd", timer(ours_fb), torch_both(peer_fb), 3 * flops)
        print(f"    torch fwd+bwd kernels: {kernel_shares(torch, peer_fb)}", flush=True)
        print(f"    gputrain fwd+bwd kernels: {kernel_shares(torch, ours_fb, top=4)}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row (median)")
    parser.add_argument("--warmup", type=int, default=5, help="GPU warm-up calls per row")
    parser.add_argument("--budget", type=float, default=3.0, help="CPU: seconds per row before stopping early")
    parser.add_argument("--cpu-batch-divisor", type=int, default=16)
    args = parser.parse_args(argv)
    print(f"gputrain {gt.__version__} bench_ops --device {args.device}; {time.strftime('%Y-%m-%d %H:%M')}")
    if args.device == "cpu":
        args.repeats = args.repeats or 10
        run_cpu(args)
    else:
        args.repeats = args.repeats or 50
        run_cuda(args)


if __name__ == "__main__":
    main()
