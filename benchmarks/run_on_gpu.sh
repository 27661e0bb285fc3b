#!/usr/bin/env bash
# What a lent GPU machine is for, in one call of the device tool (10 minutes a command; a session's
# device time, machine start included, is short, so one call must do it all):
#   benchmarks/run_on_gpu.sh [build] [probe] [tests] [ops] [training] [resnet] [cli] [sanitize]   (none: all)
# build: pip install with the GPU visible (CMake picks `native`: this GPU's architecture alone, the
# quickest build); probe: what gputrain sees; tests: the GPU cases (-k cuda) and the real-backend checks
# of test_backends.py with GPUTRAIN_REQUIRE_GPU=1, so none passes by skipping (the CPU cases run in CI);
# ops / training / resnet / cli: the benchmarks; sanitize: the op, graph and executor tests' GPU cases under
# compute-sanitizer's memcheck (out-of-bounds and misaligned accesses) and racecheck (shared-memory
# hazards between threads, which the CPU emulator cannot show). Stages run in this order; each is stopped at the smaller of its
# own limit and what is left of GPU_RUN_BUDGET_S (default 500 s from the start), so the logs of the
# stages that finished come back even when a later one runs long. A stage other than build builds first
# when gputrain._cuda is not installed. Logs: one file a stage in $OUT (or ./gpu-logs).
# MNIST must travel with the working tree: copy its folder of IDX files into .device/data/mnist (ignored by git)
# and name .device in the device tool's carry list.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
root=$PWD
out=${OUT:-gpu-logs}
mkdir -p "$out"
export GPUTRAIN_TEST_DATA=${GPUTRAIN_TEST_DATA:-$root/.device/data}
export PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${GPU_RUN_BUDGET_S:-500}))

# limit SECONDS: the stage's own limit, cut to what the budget has left (at least 10 s).
limit() {
  local left=$((deadline - SECONDS))
  [ "$left" -lt "$1" ] && echo $((left > 10 ? left : 10)) || echo "$1"
}
step() { printf '\n== %s (%s, %ds into the run)\n' "$1" "$(date +%T)" "$SECONDS"; }

build() {
  step "build (GPUTRAIN_CUDA=ON, architectures chosen by CMake, the GEMM's reference loop compiled in)"
  { GPUTRAIN_CUDA=ON GPUTRAIN_HIP=OFF GPUTRAIN_GEMM_REFERENCE=ON timeout "$(limit 300)" \
      python3 -m pip install -q --no-build-isolation . 2>&1 |
      tail -30
    (cd /tmp && python3 -m gputrain build-info); } 2>&1 | tee "$out/build.log"
}
probe() {
  step "probe"
  { nvidia-smi -L; cd /tmp || exit; timeout "$(limit 60)" python3 -m gputrain devices; python3 -m gputrain doctor
    python3 -c "import gputrain as gt; print(gt.device_lib.list_local_devices()); print('is_gpu_available', gt.is_gpu_available())"
  } 2>&1 | tee "$out/probe.log"
}
tests() {
  step "tests (GPU cases must run, not skip)"
  (cd /tmp && GPUTRAIN_REQUIRE_GPU=1 timeout "$(limit 240)" python3 -m pytest -q -p no:cacheprovider -rfEs --maxfail=40 \
    --durations=15 "$root/tests" -k "cuda or test_backends") 2>&1 | tail -80 | tee "$out/tests.log"
}
ops() {
  step "benchmark: ops"
  timeout "$(limit 150)" python3 benchmarks/bench_ops.py --device cuda --repeats 30 2>&1 | tee "$out/bench_ops.log"
}
training() {
  step "benchmark: training"
  timeout "$(limit 120)" python3 benchmarks/bench_training.py --device cuda --data "$GPUTRAIN_TEST_DATA/mnist" 2>&1 |
    tee "$out/bench_training.log"
}
resnet() {
  step "benchmark: ResNet-18 and ResNet-50 training steps, time and peak memory"
  timeout "$(limit 150)" python3 benchmarks/bench_resnet.py --device cuda 2>&1 | tee "$out/bench_resnet.log"
}
cli() {
  step "gputrain bench and train"
  { cd /tmp && timeout "$(limit 90)" python3 -m gputrain bench --device cuda --data "$GPUTRAIN_TEST_DATA/mnist"
    timeout "$(limit 60)" python3 -m gputrain train mnist --device cuda --data "$GPUTRAIN_TEST_DATA/mnist" | tail -15
  } 2>&1 | tee "$out/cli.log"
}

sanitize() {
  step "compute-sanitizer: memcheck, then racecheck"
  { cd /tmp || exit
    timeout "$(limit 120)" compute-sanitizer --tool memcheck --error-exitcode 97 python3 -m pytest -q -x \
      -p no:cacheprovider "$root"/tests/test_ops_*.py "$root"/tests/test_{train_graph,one_executor,functional_gradients}.py \
      "$root"/tests/test_layer_{prelu,permute,upsampling_bilinear,conv2d_groups}.py \
      "$root"/tests/test_{losses_elementwise,regularizers,class_weight,multiple_outputs}.py -k cuda | tail -15
    echo "memcheck exit status: ${PIPESTATUS[0]} (0: clean, 97: errors found, 124: out of time)"
    timeout "$(limit 120)" compute-sanitizer --tool racecheck --error-exitcode 97 python3 -m pytest -q -x \
      -p no:cacheprovider "$root"/tests/test_ops_{conv,dense,pool,loss,batch_norm,activation}.py -k cuda | tail -15
    echo "racecheck exit status: ${PIPESTATUS[0]}"
  } 2>&1 | tee "$out/sanitize.log"
}

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(build probe tests ops training resnet cli sanitize)
for s in "${stages[@]}"; do
  case $s in
    build | probe | tests | ops | training | resnet | cli | sanitize) ;;
    *) echo "unknown stage: $s (build, probe, tests, ops, training, resnet, cli, sanitize)" >&2; exit 2 ;;
  esac
done
if [[ " ${stages[*]} " != *" build "* ]] && ! (cd /tmp && python3 -c "import gputrain._cuda") 2>/dev/null; then
  stages=(build "${stages[@]}")
fi
for s in "${stages[@]}"; do
  if [ $((deadline - SECONDS)) -le 10 ]; then
    echo "== $s: skipped, the run's budget is spent" | tee -a "$out/skipped.log"
    continue
  fi
  "$s"
done
step "done"
