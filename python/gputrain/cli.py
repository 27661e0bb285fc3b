"""The `gputrain` command line (also `python -m gputrain`)."""
from __future__ import annotations

import argparse
import json
import sys

from . import _backends


def _devices(args) -> int:
    rows = []
    for backend in ("cpu",) + _backends.GPU_BACKENDS:
        status = _backends.backend_status(backend)
        rows.append({"backend": backend, "built": backend == "cpu" or _backends.is_built(backend),
                     **{k: status.get(k) for k in ("loaded", "device_count", "devices", "reason",
                                                   "runtime_version", "driver_version")}})
    if args.json:
        print(json.dumps({"default_device": _backends.default_device(), "backends": rows}, indent=2))
        return 0
    print(f"{'backend':8} {'built':6} {'devices':8} detail")
    for row in rows:
        if row["device_count"]:
            detail = ", ".join(f"{row['backend']}:{d['index']} {d['name']}" for d in row["devices"])
        else:
            detail = row["reason"] or ""
        print(f"{row['backend']:8} {'yes' if row['built'] else 'no':6} {row['device_count']:<8} {detail}")
    print(f"default device: {_backends.default_device()}")
    return 0


def _build_info(args) -> int:
    print(json.dumps(_backends.build_info(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gputrain", description="gputrain command line")
    commands = parser.add_subparsers(dest="command", required=True)
    devices = commands.add_parser("devices", help="list the devices gputrain can use, and why not")
    devices.add_argument("--json", action="store_true", help="print JSON instead of a table")
    devices.set_defaults(run=_devices)
    info = commands.add_parser("build-info", help="print how this gputrain was built (JSON)")
    info.set_defaults(run=_build_info)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
