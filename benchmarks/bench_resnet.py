"""ResNet training steps, gputrain and PyTorch side by side in one process on one device:

  resnet18, resnet50   one training step (SGD with momentum 0.9, sparse cross-entropy, 1,000 classes) at
                       224x224x3, batch 128 and 32 on a GPU (batch 8 on the CPU), median of repeats;
                       gputrain's compiled step as fit runs it, PyTorch's eager step (channels_last,
                       cudnn.benchmark on, TF32 off: fp32 on both sides), each followed by a wait for the
                       device. On a GPU also the peak device memory of a step: gputrain's allocator peak
                       beside torch.cuda.max_memory_allocated, each measured from a reset before the step
                       (weights and optimizer state, allocated before, count in both).

The PyTorch models are written here to be the same functions as gputrain's: ResNet-18 is torchvision's
(basic blocks, convolutions without bias); ResNet-50 is Keras's variant that gt.applications.ResNet50
builds (biased convolutions, the stride on the block's first 1x1 convolution). Prints one row per
workload: gputrain ms, peer ms, ratio = peer / gputrain (above 1: we are faster), and the memory peaks.
Usage: python benchmarks/bench_resnet.py --device cuda [--models resnet18 resnet50] [--batches 128 32]
"""
from __future__ import annotations

import argparse
import gc

import numpy as np

import gputrain as gt
from gputrain import bench, plan as plan_module, saving

MiB = 1 << 20


def gputrain_step(name, device, batch, size=224):
    """(step, sync, model): one compiled training step as fit runs it, and a wait for the device."""
    build = {"resnet18": gt.applications.ResNet18, "resnet50": gt.applications.ResNet50}[name]
    model = build(weights=None, input_shape=(size, size, 3), classes=1000)
    model.compile(gt.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", device=device)
    rng = np.random.default_rng(0)
    xb = gt.tensor(rng.random((batch, size, size, 3), dtype=np.float32), device=model.device)
    yb = gt.tensor(rng.integers(0, 1000, batch).astype(np.int32), device=model.device)
    plan = plan_module.build(model, batch, saving.weight_key)
    iteration = iter(range(1, 1 << 30))
    step = lambda: plan.step(xb, yb, next(iteration), model.optimizer.learning_rate)  # noqa: E731
    return step, lambda: gt._core.synchronize(model.device), plan


def torch_model(torch, name):
    nn = torch.nn

    class Basic(nn.Module):  # torchvision's BasicBlock
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.short(x) + self.b2(self.c2(y)))

    class Bottleneck(nn.Module):  # Keras's residual_block_v1
        def __init__(self, cin, width, stride, project):
            super().__init__()
            self.c1 = nn.Conv2d(cin, width, 1, stride)
            self.b1 = nn.BatchNorm2d(width, eps=1.001e-5)
            self.c2 = nn.Conv2d(width, width, 3, 1, 1)
            self.b2 = nn.BatchNorm2d(width, eps=1.001e-5)
            self.c3 = nn.Conv2d(width, 4 * width, 1)
            self.b3 = nn.BatchNorm2d(4 * width, eps=1.001e-5)
            self.short = (nn.Sequential(nn.Conv2d(cin, 4 * width, 1, stride), nn.BatchNorm2d(4 * width, eps=1.001e-5))
                          if project else nn.Identity())

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = torch.relu(self.b2(self.c2(y)))
            return torch.relu(self.short(x) + self.b3(self.c3(y)))

    bottleneck = name == "resnet50"
    stages = [3, 4, 6, 3] if bottleneck else [2, 2, 2, 2]
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=bottleneck), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin, width = 64, 64
    for stage, blocks in enumerate(stages):
        for b in range(blocks):
            stride = 2 if b == 0 and stage > 0 else 1
            if bottleneck:
                layers.append(Bottleneck(cin, width, stride, project=b == 0))
                cin = 4 * width
            else:
                layers.append(Basic(cin, width, stride))
                cin = width
        width *= 2
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
    return nn.Sequential(*layers)


def torch_step(torch, name, device, batch, size=224):
    dev = torch.device("cuda" if device.startswith("cuda") else "cpu")
    model = torch_model(torch, name).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    xb = torch.rand(batch, 3, size, size, device=dev).to(memory_format=torch.channels_last)
    yb = torch.randint(0, 1000, (batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()
    return step, sync


def gputrain_peak(device, step, sync):
    """Peak bytes the allocator held during one more step, counted from what was live before it."""
    gt.reset_peak_memory_stats(device)
    step()
    sync()
    return gt.memory_stats(device)["peak_allocated_bytes"]


def torch_peak(torch, step, sync):
    torch.cuda.reset_peak_memory_stats()
    step()
    sync()
    return torch.cuda.max_memory_allocated()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda or hip (default: gputrain's default)")
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default: 128 32 on a GPU, 8 on the CPU")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = gt._backends.resolve_device(args.device)
    gpu = device != "cpu"
    batches = args.batches or ([128, 32] if gpu else [8])
    try:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    except ImportError:
        torch = None
    print(f"device: {device}; peer: "
          f"{'PyTorch ' + torch.__version__ + ' (fp32, TF32 off, channels_last, cudnn.benchmark)' if torch else 'none'}")
    print(f"{'workload':26} {'gputrain ms':>12} {'peer ms':>10} {'ratio':>6} {'peak MiB':>9} {'peer MiB':>9}")
    for name in args.models:
        for batch in batches:
            step, sync, plan = gputrain_step(name, device, batch)
            ours = bench.median_seconds(step, sync, args.repeats)
            ours_peak = gputrain_peak(device, step, sync) if gpu else None
            # This model's tensors go before the next is built, so no peak counts another model's memory.
            del step, sync, plan
            gc.collect()
            peer = peer_peak = None
            if torch is not None:
                t_step, t_sync = torch_step(torch, name, device, batch)
                peer = bench.median_seconds(t_step, t_sync, args.repeats)
                peer_peak = torch_peak(torch, t_step, t_sync) if gpu else None
                del t_step, t_sync
                gc.collect()
                if gpu:
                    torch.cuda.empty_cache()
            print(f"{name + ' step, batch ' + str(batch):26} {ours * 1e3:12.1f} "
                  f"{peer * 1e3 if peer else float('nan'):10.1f} {peer / ours if peer else float('nan'):6.2f} "
                  f"{ours_peak / MiB if ours_peak else float('nan'):9.0f} "
                  f"{peer_peak / MiB if peer_peak else float('nan'):9.0f}", flush=True)


if __name__ == "__main__":
    main()
