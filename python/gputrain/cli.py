"""The `gputrain` command line (also `python -m gputrain`): `devices` (the device table, or --json),
`doctor` (findings with the action that fixes each, or --json), `train mnist` (the quickstart model on
MNIST), `bench` (this machine's devices against PyTorch) and `build-info`.

A mistake of the user's (a bad argument, a device that is not here, data that cannot be found) is one
line on stderr saying what is wrong and what to do, with exit status 2; a traceback means a bug, and
--debug shows one for the user's mistakes too. A reader that
closes the pipe early (`gputrain doctor --json | head`) ends the command quietly."""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from . import _backends, checks


class UsageError(Exception):
    """An argument the user gave that cannot work; the message says what to do instead."""


def _count_argument(minimum: int):
    def parse(text: str) -> int:
        try:
            return checks.count(int(text), "", minimum)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
    return parse


def _device_argument(name: str | None) -> str | None:
    """The canonical name of a --device, checked before any work starts."""
    if name is None:
        return None
    try:
        return _backends.resolve_device(name)
    except (ValueError, TypeError, _backends._core.DeviceUnavailableError) as exc:
        raise UsageError(f"--device {name}: {exc}. Run `gputrain devices` to see what is here, or leave "
                         f"--device out to use the best device present") from exc


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
    blocked = "gputrain._core did not load" if _backends.core_error() else "GPUTRAIN_DEVICE is not usable"
    print(f"\nplatform: {snap.platform}; default device: {default or f'none ({blocked})'}")
    if not any(d.is_gpu and d.usable for d in found):
        print("no usable GPU: run `gputrain doctor` for why and what to do")
    return 0


def _doctor(args) -> int:
    from .probe.api import diagnose

    report = diagnose(run_kernels=True)  # a short-lived process: its GPU context goes when it ends
    print(json.dumps(report.to_dict(), indent=2) if args.json else str(report))
    return 0


def _train(args) -> int:
    from .datasets import files, mnist
    from .quickstart import train_mnist

    device = _device_argument(args.device)
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError(f"--data {args.data}: no such file or folder; give the folder holding the four MNIST "
                         f"IDX .gz files (or an .npz), or leave --data out to download MNIST once")
    try:
        dataset = mnist.load_data(path=args.data)
    except files.DatasetUnavailableError as exc:
        raise UsageError(exc.explain("pass --data with")) from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"--data: {exc}") from exc
    result = train_mnist(epochs=args.epochs, device=device, dataset=dataset, checkpoint=args.checkpoint,
                         resume=args.resume)
    return 0 if result["test_accuracy"] > 0 else 1


def _bench(args) -> int:
    from . import bench

    devices = [_device_argument(d) for d in args.device] if args.device else None
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError(f"--data {args.data}: no such file or folder; give the folder holding the four MNIST "
                         f"IDX .gz files, or leave --data out to time the epoch on random images")
    rows = bench.run(devices=devices, quick=args.quick, data=args.data)
    print(json.dumps(rows, indent=2) if args.json else bench.table(rows))
    return 0


def _build_info(args) -> int:
    print(json.dumps(_backends.build_info(), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show a traceback for every error")
    parser = argparse.ArgumentParser(prog="gputrain", description="gputrain command line")
    commands = parser.add_subparsers(dest="command", required=True)
    devices = commands.add_parser("devices", parents=[common],
                                  help="list the CPU and GPUs, and whether gputrain can use each")
    devices.add_argument("--json", action="store_true", help="print JSON instead of a table")
    devices.set_defaults(run=_devices)
    doctor = commands.add_parser("doctor", parents=[common],
                                 help="find why a GPU is not used, with the action that fixes it")
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")
    doctor.set_defaults(run=_doctor)
    train = commands.add_parser("train", parents=[common], help="train a model: `gputrain train mnist`")
    train.add_argument("job", choices=["mnist"], help="mnist: TensorFlow's quickstart model on MNIST")
    train.add_argument("--epochs", type=_count_argument(1), default=5,
                       help="epochs to train in all (with --resume: including those already trained)")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1, hip ... (default: the best present)")
    train.add_argument("--data", default=None,
                       help="folder with the four MNIST IDX .gz files, or an .npz (default: download once)")
    train.add_argument("--checkpoint", default=None,
                       help="checkpoint file (default: the platform's persistent folder)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    train.set_defaults(run=_train)
    bench = commands.add_parser("bench", parents=[common],
                                help="time this machine's devices, beside PyTorch where installed")
    bench.add_argument("--device", action="append", default=None,
                       help="a device to time (repeatable; default: every usable device)")
    bench.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    bench.add_argument("--data", default=None, help="MNIST folder for the epoch row (default: random images)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.set_defaults(run=_bench)
    info = commands.add_parser("build-info", parents=[common], help="print how this gputrain was built (JSON)")
    info.set_defaults(run=_build_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        # The reader is gone: send what is still buffered nowhere, so Python's own flush at exit stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"gputrain {args.command}: {exc}", file=sys.stderr)
        return 2
    except _backends.CoreUnavailableError as exc:  # not a bug of this command: the doctor explains it
        if args.debug:
            traceback.print_exc()
        print(f"gputrain {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
