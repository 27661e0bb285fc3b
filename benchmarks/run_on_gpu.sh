#!/usr/bin/env bash
# The checks a lent GPU machine is for, in stages that fit the device tool's 10 minutes per command:
#   benchmarks/run_on_gpu.sh [build] [probe] [tests] [ops] [training] [cli]    (no stage named: all)
# build: pip install with the GPU visible (CMake picks `native`; pyproject keeps the build folder, so a
# later call on the same warm machine rebuilds only what changed); probe: what gputrain sees; tests: every test with GPU
# cases required (GPUTRAIN_REQUIRE_GPU=1); ops / training / cli: the benchmarks. A stage other than build
# builds first when gputrain is not installed yet. Each stage has its own time limit, so the logs of the
# finished stages come back even when a later one hangs. Logs go to $OUT (or ./gpu-logs).
# MNIST must travel with the working tree: copy ../shared/data/{mnist,fashion-mnist} into .device/data/
# (ignored by git) and name .device in the device tool's carry list.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-gpu-logs}
mkdir -p "$out"
export GPUTRAIN_TEST_DATA=${GPUTRAIN_TEST_DATA:-$root/.device/data}
export PYTHONUNBUFFERED=1
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

build() {
  step "build (GPUTRAIN_CUDA=ON, architectures chosen by CMake)"
  GPUTRAIN_CUDA=ON GPUTRAIN_HIP=OFF timeout 420 python3 -m pip install -q --no-build-isolation . 2>&1 | tail -20 | tee "$out/build.log"
  (cd /tmp && python3 -m gputrain build-info) | tee "$out/build_info.json"
}
probe() {
  step "probe"
  { nvidia-smi -L; cd /tmp; python3 -m gputrain devices; python3 -m gputrain doctor
    python3 -c "import gputrain as gt; print(gt.device_lib.list_local_devices()); print('is_gpu_available', gt.is_gpu_available())"
  } 2>&1 | tee "$out/probe.log"
}
tests() {
  step "tests (GPU cases must run, not skip)"
  (cd /tmp && GPUTRAIN_REQUIRE_GPU=1 timeout 480 python3 -m pytest -q --maxfail=20 -p no:cacheprovider \
    -rfE "$root/tests") 2>&1 | tail -60 | tee "$out/tests.log"
}
ops() {
  step "benchmark: ops"
  timeout 420 python3 benchmarks/bench_ops.py --device cuda 2>&1 | tee "$out/bench_ops.log"
}
training() {
  step "benchmark: training"
  timeout 420 python3 benchmarks/bench_training.py --device cuda --data "$GPUTRAIN_TEST_DATA/mnist" 2>&1 |
    tee "$out/bench_training.log"
}
cli() {
  step "gputrain bench and train"
  (cd /tmp && timeout 240 python3 -m gputrain bench --device cuda --data "$GPUTRAIN_TEST_DATA/mnist") 2>&1 |
    tee "$out/bench_cli.log"
  (cd /tmp && timeout 120 python3 -m gputrain train mnist --device cuda --data "$GPUTRAIN_TEST_DATA/mnist") 2>&1 |
    tail -15 | tee "$out/train_cli.log"
}

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(build probe tests ops training cli)
for s in "${stages[@]}"; do
  case $s in
    build | probe | tests | ops | training | cli) ;;
    *) echo "unknown stage: $s (build, probe, tests, ops, training, cli)" >&2; exit 2 ;;
  esac
done
if [[ " ${stages[*]} " != *" build "* ]] && ! (cd /tmp && python3 -c "import gputrain._cuda") 2>/dev/null; then
  stages=(build "${stages[@]}")
fi
for s in "${stages[@]}"; do "$s"; done
