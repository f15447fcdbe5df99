#!/usr/bin/env bash
# Set up everything nairrcore needs on a Debian/Ubuntu machine, then:
#   scripts/dev.sh demo   run the forecasting notebook headless on the CPU (small default config)
#   scripts/dev.sh test   run every test: C++ (ctest, also under ASan+UBSan), fuzzers, Python (pytest)
#   scripts/dev.sh env    only install; prints the venv path
#   scripts/dev.sh venv   only the Python environment; prints its path
# The Python environment lives outside the repo in a venv keyed on the hash of
# env_exports/dev/requirements.txt (NAIRRCORE_REQUIREMENTS: another file), so a
# machine downloads torch once; NAIRRCORE_VENV puts it elsewhere.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ=${NAIRRCORE_REQUIREMENTS:-$ROOT/env_exports/dev/requirements.txt}
HASH=$(sha256sum "$REQ" | cut -c1-12)
VENV=${NAIRRCORE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nairrcore/venv-$HASH}
SHARED_DATA=${NAIRRCORE_SHARED_DATA:-$ROOT/../shared/data}
WEATHER_ARCHIVE="$SHARED_DATA/us-210-cities-daily.tar.xz"
BUILD_DIR="$ROOT/build/dev"

log() { printf '\n== %s\n' "$*"; }

system_deps() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v xz >/dev/null || missing+=(xz-utils)
  command -v git >/dev/null || missing+=(git)
  [ -f /usr/lib/cmake/Catch2/Catch2Config.cmake ] || missing+=(catch2)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  python3 -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
    || missing+=(python3-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing system packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

python_env() {
  # A venv cannot be moved (its scripts hold its path), so it is made in place
  # and marked complete last; a half-made one is removed and made again.
  if [ ! -f "$VENV/.nairrcore-complete" ]; then
    log "creating $VENV (torch and friends: about 5 GB and 3-10 minutes, once per machine)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -r "$REQ"
    touch "$VENV/.nairrcore-complete"
  fi
}

build() {
  # The build tool's own progress lines ([n/N] ...); the whole log in build/dev.log.
  local log_file="$ROOT/build/dev.log"
  mkdir -p "$ROOT/build"
  log "building nairrcore's C++ core (about 4 minutes on 2 cores the first time, seconds after; log: build/dev.log)"
  set +e
  "$VENV/bin/pip" install -v --no-build-isolation --no-deps \
    -Cbuild-dir="$BUILD_DIR" -Ccmake.define.NAIRRCORE_BUILD_TESTS=ON "$ROOT" 2>&1 \
    | tee "$log_file" | { grep --line-buffered -E '^\s*\[[0-9]+/[0-9]+\] ' | sed -u -E 's/^\s+/  /'; true; }
  local rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log_file" >&2
    echo "error: the build failed (exit $rc); the full log is build/dev.log" >&2
    exit 1
  fi
}

weather_data() {
  if [ ! -f "$WEATHER_ARCHIVE" ]; then
    echo "error: $WEATHER_ARCHIVE not found; set NAIRRCORE_SHARED_DATA to the folder holding the data sets" >&2
    exit 2
  fi
  NAIRRCORE_WEATHER_DIR=$("$VENV/bin/nairrcore" data fetch weather --from "$WEATHER_ARCHIVE")
  export NAIRRCORE_WEATHER_DIR NAIRRCORE_SHARED_DATA="$SHARED_DATA"
}

setup() { system_deps; python_env; build; }

case "${1:-}" in
  env)
    setup
    echo "$VENV"
    ;;
  venv)
    python_env
    echo "$VENV"
    ;;
  demo)
    setup
    weather_data
    log "running notebooks/forecasting.ipynb on the CPU"
    cd "$ROOT"
    "$VENV/bin/nairrcore" run notebooks/forecasting.ipynb --platform laptop \
      --param device=cpu --param data="$WEATHER_ARCHIVE" "${@:2}"
    ;;
  test)
    setup
    weather_data
    log "C++ tests (ctest)"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2
    log "C++ tests under ASan + UBSan, and the fuzzers (${NAIRRCORE_FUZZ_SECONDS:-60} s each)"
    NAIRRCORE_VENV="$VENV" bash "$ROOT/scripts/sanitize.sh" "${NAIRRCORE_FUZZ_SECONDS:-60}"
    log "local Slurm for the batch-script tests"
    bash "$ROOT/scripts/slurm/local_cluster.sh" start
    export NAIRRCORE_REQUIRE_SLURM=1
    log "Python tests (pytest)"
    cd "$ROOT"
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${@:2}"
    ;;
  *)
    echo "usage: scripts/dev.sh demo|test|env|venv [extra args]" >&2
    exit 2
    ;;
esac
