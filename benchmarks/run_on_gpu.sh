#!/usr/bin/env bash
# One call on a lent GPU machine: build with the GPU visible (so CMake picks `native`), show what the
# probe sees, run every test with GPU cases required, then the benchmarks. Logs go to $OUT (or
# ./gpu-logs). MNIST must travel with the working tree: copy ../shared/data/{mnist,fashion-mnist} into
# .device/data/ (ignored by git) and name .device in the device tool's carry list.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
export GPUTRAIN_TEST_DATA=${GPUTRAIN_TEST_DATA:-$PWD/.device/data}
export PYTHONUNBUFFERED=1
step() { printf '\n== %s\n' "$1"; }

step "build (GPUTRAIN_CUDA=ON, architectures chosen by CMake)"
GPUTRAIN_CUDA=ON GPUTRAIN_HIP=OFF python3 -m pip install -q --no-build-isolation . 2>&1 | tail -20 | tee "$out/build.log"
python3 -m gputrain build-info | tee "$out/build_info.json"

step "probe"
{ nvidia-smi -L; python3 -m gputrain devices; python3 -m gputrain doctor
  python3 -c "import gputrain as gt; print(gt.device_lib.list_local_devices()); print('is_gpu_available', gt.is_gpu_available())"
} 2>&1 | tee "$out/probe.log"

step "tests (GPU cases must run, not skip)"
(cd /tmp && GPUTRAIN_REQUIRE_GPU=1 python3 -m pytest -q -x "$OLDPWD/tests" -p no:cacheprovider) 2>&1 | tail -40 | tee "$out/tests.log"

step "benchmarks"
python3 benchmarks/bench_ops.py --device cuda 2>&1 | tee "$out/bench_ops.log"
python3 benchmarks/bench_training.py --device cuda --data "$GPUTRAIN_TEST_DATA/mnist" 2>&1 | tee "$out/bench_training.log"
python3 -m gputrain bench --device cuda --data "$GPUTRAIN_TEST_DATA/mnist" 2>&1 | tee "$out/bench_cli.log"
