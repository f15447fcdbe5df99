#!/usr/bin/env bash
# The C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# libFuzzer targets (CSV, CIFAR, in-memory archive and checkpoint readers) for a bounded time each, built with
# Clang in build/sanitize (CPU only). Needs the venv of scripts/dev.sh.
#   scripts/sanitize.sh [SECONDS_PER_FUZZER]     (default 60)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${1:-60}
VENV=${NAIRRCORE_VENV:?set NAIRRCORE_VENV to the venv of scripts/dev.sh}
BUILD="$ROOT/build/sanitize"
command -v clang++ >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq clang >/dev/null; }
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DPython3_EXECUTABLE="$VENV/bin/python" \
  -DNAIRRCORE_WITH_CUDA=OFF -DNAIRRCORE_BUILD_PYTHON=OFF -DNAIRRCORE_BUILD_TESTS=ON \
  -DNAIRRCORE_SANITIZE=ON -DNAIRRCORE_BUILD_FUZZERS=ON -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
# libtorch itself is not instrumented: its one-time allocations are not leaks
# of ours, and its new/delete pairs cross the instrumentation boundary.
export ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0:detect_odr_violation=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$BUILD" --output-on-failure -j 2
for target in fuzz_weather_csv:weather_csv fuzz_weather_csv:city_info fuzz_cifar:cifar fuzz_archive:archive \
              fuzz_checkpoint:checkpoint; do
  bin=${target%%:*}
  corpus="$ROOT/tests/fuzz/corpus/${target##*:}"
  work=$(mktemp -d)
  cp "$corpus"/* "$work"/
  mkdir -p "$BUILD/fuzz-artifacts"
  echo "== $bin on $corpus for ${SECONDS_EACH}s"
  if ! "$BUILD/tests/fuzz/$bin" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
       -artifact_prefix="$BUILD/fuzz-artifacts/" "$work" > "$work.log" 2>&1; then
    cat "$work.log"
    echo "fuzzer $bin failed; the input is in $BUILD/fuzz-artifacts/ (add it to $corpus once fixed)" >&2
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$work.log" || tail -n 2 "$work.log"
  rm -rf "$work" "$work.log"
done
