"""The `gputrain` command line (also `python -m gputrain`): `devices` (the device table, or --json),
`doctor` (findings with the action that fixes each, or --json), `train mnist` (the quickstart model on
MNIST), `bench` (this machine's devices against PyTorch) and `build-info`."""
from __future__ import annotations

import argparse
import json
import sys

from . import _backends


def _backend_rows() -> list[dict]:
    # What each backend module itself reports once loaded; kept beside the probe's devices because
    # scripts read it (and it is the module's view, which decides whether ops can run).
    rows = []
    for backend in ("cpu",) + _backends.GPU_BACKENDS:
        status = _backends.backend_status(backend)
        rows.append({"backend": backend, "built": backend == "cpu" or _backends.is_built(backend),
                     **{k: status.get(k) for k in ("loaded", "device_count", "devices", "reason",
                                                   "runtime_version", "driver_version")}})
    return rows


def _devices(args) -> int:
    from .probe import devices, doctor, snapshot

    snap = snapshot.take()
    found = devices.from_snapshot(snap)
    default, _ = doctor.default_device(found)
    if args.json:
        print(json.dumps({"platform": snap.platform.to_dict(), "default_device": default,
                          "devices": [d.to_dict() for d in found], "backends": _backend_rows()}, indent=2))
        return 0
    print(devices.table_text(found))
    print(f"\nplatform: {snap.platform}; default device: {default or 'none (GPUTRAIN_DEVICE is not usable)'}")
    if not any(d.is_gpu and d.usable for d in found):
        print("no usable GPU: run `gputrain doctor` for why and what to do")
    return 0


def _doctor(args) -> int:
    from .probe.api import doctor

    report = doctor(run_kernels=True)  # a short-lived process: its GPU context goes when it ends
    print(json.dumps(report.to_dict(), indent=2) if args.json else str(report))
    return 0


def _train(args) -> int:
    from .quickstart import train_mnist

    result = train_mnist(epochs=args.epochs, device=args.device, data=args.data, checkpoint=args.checkpoint,
                         resume=args.resume)
    return 0 if result["test_accuracy"] > 0 else 1


def _bench(args) -> int:
    from . import bench

    rows = bench.run(devices=args.device, quick=args.quick, data=args.data)
    print(json.dumps(rows, indent=2) if args.json else bench.table(rows))
    return 0


def _build_info(args) -> int:
    print(json.dumps(_backends.build_info(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gputrain", description="gputrain command line")
    commands = parser.add_subparsers(dest="command", required=True)
    devices = commands.add_parser("devices", help="list the CPU and GPUs, and whether gputrain can use each")
    devices.add_argument("--json", action="store_true", help="print JSON instead of a table")
    devices.set_defaults(run=_devices)
    doctor = commands.add_parser("doctor", help="find why a GPU is not used, with the action that fixes it")
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")
    doctor.set_defaults(run=_doctor)
    train = commands.add_parser("train", help="train a model: `gputrain train mnist`")
    train.add_argument("job", choices=["mnist"], help="mnist: TensorFlow's quickstart model on MNIST")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1, hip ... (default: the best present)")
    train.add_argument("--data", default=None,
                       help="folder with the four MNIST IDX .gz files, or an .npz (default: download once)")
    train.add_argument("--checkpoint", default=None,
                       help="checkpoint file (default: the platform's persistent folder)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    train.set_defaults(run=_train)
    bench = commands.add_parser("bench", help="time this machine's devices, beside PyTorch where installed")
    bench.add_argument("--device", action="append", default=None,
                       help="a device to time (repeatable; default: every usable device)")
    bench.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    bench.add_argument("--data", default=None, help="MNIST folder for the epoch row (default: random images)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.set_defaults(run=_bench)
    info = commands.add_parser("build-info", help="print how this gputrain was built (JSON)")
    info.set_defaults(run=_build_info)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
