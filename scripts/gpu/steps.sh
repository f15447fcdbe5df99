#!/usr/bin/env bash
# The GPU verification steps of docs/GPU_CHECK.md, in order. Each writes its
# JSON, logs or run folders under $RESULTS and never stops the steps after it.
#   steps.sh [--size full|smoke|dry] STEP...
# STEP: tests cuda forecast cifar notebooks notebooks_full profile (all: tests forecast cifar notebooks);
#       the short plan, on the weather data alone: kernels forecast_step profile_mlp (short: all three)
# --size dry runs the same code paths on the CPU with tiny configurations
# (CI runs it, so the plan cannot rot while no GPU is at hand).
# Environment: NAIRRCORE_SHARED_DATA (data sets: weather archive and
# cifar-10-batches-bin/), RESULTS (default /root/nc/results), BUILD_DIR
# (the build with ctest, default build/gpu), PYTHON (default python3).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE=full
if [ "${1:-}" = "--size" ]; then SIZE=$2; shift 2; fi
[ "${1:-all}" = all ] && set -- tests forecast cifar notebooks
[ "${1:-}" = short ] && set -- kernels forecast_step profile_mlp
DATA=${NAIRRCORE_SHARED_DATA:-/root/nc/data}
RESULTS=${RESULTS:-/root/nc/results}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/gpu}
PY=${PYTHON:-python3}
WEATHER_ARCHIVE="$DATA/us-210-cities-daily.tar.xz"
CIFAR="$DATA/cifar-10-batches-bin"
export NAIRRCORE_SHARED_DATA="$DATA" NAIRRCORE_OUTPUTS="$RESULTS/outputs" PYTHONUNBUFFERED=1
mkdir -p "$RESULTS"
cd "$ROOT"
failed=()

case "$SIZE" in
  full)  DEVICE=cuda; PRECISION=auto ;;
  smoke) DEVICE=cuda; PRECISION=auto ;;
  dry)   DEVICE=cpu;  PRECISION=fp32 ;;
  *) echo "--size: expected full, smoke or dry, got $SIZE" >&2; exit 2 ;;
esac

run() {  # run NAME CMD...: log to $RESULTS/NAME.log, time it, remember failures
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name: $*"
  "$@" > "$RESULTS/$name.log" 2>&1
  local rc=$?
  echo "   $name: exit $rc after $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || { failed+=("$name"); tail -25 "$RESULTS/$name.log"; }
}

weather_dir() {
  [ -n "${WEATHER_DIR:-}" ] && return
  WEATHER_DIR=$("$PY" -m nairrcore data fetch weather --from "$WEATHER_ARCHIVE" --dest "$RESULTS/../weather-cache")
  export NAIRRCORE_WEATHER_DIR="$WEATHER_DIR"
}

step_tests() {
  weather_dir
  if [ -d "$BUILD_DIR" ] && [ "$SIZE" != dry ]; then
    run ctest ctest --test-dir "$BUILD_DIR" --output-on-failure -j 8
  fi
  run pytest "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml "$RESULTS/pytest.xml" \
    tests/python/test_cuda.py tests/python/test_norm_gelu_dropout.py tests/python/test_fused_optimizer.py \
    tests/python/test_max_pool.py tests/python/test_loader.py tests/python/test_build.py \
    "tests/python/test_preemption.py::test_sigterm_checkpoint_resume_is_bitwise_identical"
}

step_cuda() {  # the GPU-only tests alone (a short call when the build is already tested)
  run pytest_cuda "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml "$RESULTS/pytest_cuda.xml" \
    tests/python/test_cuda.py tests/python/test_fused_optimizer.py tests/python/test_max_pool.py
}

step_kernels() {  # the short plan's tests: nairrcore's CUDA kernels and the forecasting loop on the GPU
  weather_dir
  run pytest_kernels "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml "$RESULTS/pytest_kernels.xml" \
    tests/python/test_norm_gelu_dropout.py tests/python/test_fused_optimizer.py tests/python/test_cuda.py \
    -k "not cifar and not fast_net and not resnet18 and not augmentation"
}

forecast_args() {  # the benchmark's configuration at each size
  case "$SIZE" in
    full)  args=(--cities 210 --epochs 2 --prep-cities 10 --width 1024 --depth 8 --lr 3e-4 --workers 4 --ablation-epochs 1) ;;
    smoke) args=(--cities 20 --epochs 1 --prep-cities 2 --width 1024 --depth 8 --lr 3e-4 --workers 4 --accuracy-seeds 0) ;;
    dry)   args=(--cities 2 --epochs 1 --prep-cities 2 --width 32 --depth 2 --batch-size 512 --repeats 2 --accuracy-seeds 1) ;;
  esac
  # The telemetry sampler is checked alone first: the benchmark still runs if it cannot.
  if ! "$PY" -c 'from nairrcore.evidence.telemetry import Sampler; Sampler(0.1).start().stop()' \
      > "$RESULTS/telemetry_check.log" 2>&1; then
    echo "   telemetry sampler failed (see telemetry_check.log): benchmark without GPU utilisation"
    args+=(--no-telemetry)
  fi
}

step_forecast_step() {  # nairrcore's step against the Python ceilings, no baseline (bench/forecasting.py --step-only)
  weather_dir
  local args
  forecast_args
  run forecasting_step "$PY" bench/forecasting.py --data "$WEATHER_DIR" --device "$DEVICE" \
    --precision "$PRECISION" "${args[@]}" --step-only --out "$RESULTS/forecasting_step.json"
}

step_forecast() {
  weather_dir
  local args
  forecast_args
  run forecasting_bench "$PY" bench/forecasting.py --data "$WEATHER_DIR" --device "$DEVICE" \
    --precision "$PRECISION" "${args[@]}" --out "$RESULTS/forecasting.json"
}

step_cifar() {
  local args
  case "$SIZE" in
    full)  args=(--fast-seeds 5 --workers 4) ;;
    smoke) args=(--fast-seeds 1 --steps 20) ;;
    dry)   args=(--skip augment --fast-seeds 1 --fast-epochs 1 --fast-train-limit 2048 --fast-test-limit 1000 --steps 2 --step-batch 16) ;;
  esac
  run cifar10_bench "$PY" bench/cifar10.py --data "$CIFAR" "${args[@]}" --out "$RESULTS/cifar10.json"
}

notebook() {  # notebook NAME NOTEBOOK PLATFORM KEY=VALUE...
  local name=$1 nb=$2 platform=$3 gpu=() params=()
  shift 3
  [ "$DEVICE" = cuda ] && gpu=(--gpu)
  for kv in "$@"; do params+=(--param "$kv"); done
  run "$name" "$PY" -m nairrcore run "$nb" "${gpu[@]}" --quiet --platform "$platform" --out "$RESULTS/outputs" \
    --param device="$DEVICE" "${params[@]}"
}

step_notebooks() {
  local platform=workstation-gpu
  [ "$DEVICE" = cpu ] && platform=laptop
  # The configurations of the CPU runs under outputs/examples/laptop, so the comparison can compute speedups.
  notebook nb_forecasting_small notebooks/forecasting.ipynb "$platform" data="$WEATHER_ARCHIVE" \
    cities=10 width=128 depth=3 epochs=3 batch_size=1024 lr=1e-3
  notebook nb_cifar10_small notebooks/cifar10.ipynb "$platform" data="$CIFAR" \
    model=fastnet widths=32,64,64 train_limit=5000 test_limit=2000 epochs=2 batch_size=500
  run validate "$PY" -m nairrcore report validate "$RESULTS"/outputs/*/*/*
  run compare "$PY" -m nairrcore report compare "$ROOT/outputs/examples/laptop" "$RESULTS/outputs" --baseline laptop \
    --out "$RESULTS/comparison"
}

step_notebooks_full() {  # the spec's sizes
  local platform=workstation-gpu
  [ "$DEVICE" = cpu ] && platform=laptop
  notebook nb_forecasting_full notebooks/forecasting.ipynb "$platform" data="$WEATHER_ARCHIVE" \
    cities=210 width=1024 depth=8 epochs=5 batch_size=8192 lr=3e-4
  notebook nb_cifar10_full notebooks/cifar10.ipynb "$platform" data="$CIFAR" model=fastnet \
    widths=auto epochs=auto batch_size=auto train_limit=0 test_limit=0  # auto: the recipe's value
  run validate_full "$PY" -m nairrcore report validate "$RESULTS"/outputs/*/*/*
}

step_profile() {  # kernel by kernel, nairrcore against Python (GPU only; bench/kernel_profile.py)
  [ "$DEVICE" = cuda ] || return 0
  run kernel_profile "$PY" bench/kernel_profile.py --cifar "$CIFAR" ${PROFILE_ARGS:-} --out "$RESULTS/kernel_profile.json"
}

step_profile_mlp() {  # the forecasting MLP's step alone, without torch.compile's autotuning
  [ "$DEVICE" = cuda ] || return 0
  run kernel_profile_mlp "$PY" bench/kernel_profile.py --cases mlp --skip-compile --out "$RESULTS/kernel_profile_mlp.json"
}

for step in "$@"; do
  case "$step" in
    tests|cuda|forecast|cifar|notebooks|notebooks_full|profile|kernels|forecast_step|profile_mlp) "step_$step" ;;
    *) echo "unknown step: $step (tests cuda forecast cifar notebooks notebooks_full profile kernels forecast_step" \
            "profile_mlp; all: tests forecast cifar notebooks; short: kernels forecast_step profile_mlp)" >&2; exit 2 ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (logs in $RESULTS)"
  exit 1
fi
echo "all steps passed (results in $RESULTS)"
