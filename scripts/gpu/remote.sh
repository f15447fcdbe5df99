#!/usr/bin/env bash
# On the GPU machine (docs/GPU_CHECK.md). Every call runs in a fresh copy of
# the repository; what must outlive a call lives under /root/nc:
#   /root/nc/src      the repository as of the boot call (built and tested there)
#   /root/nc/site     the carried wheels (PYTHONPATH)
#   /root/nc/parts    the data parts received so far; /root/nc/data the data sets
#   /root/nc/results  every step's output; each call copies it to $OUT
# Usage:
#   remote.sh boot [--no-ctest] --commit HASH   copy the repo, install wheels, start
#                        the build (background; --no-ctest leaves the C++ tests out, a shorter
#                        build). HASH: the commit the working tree here is (git rev-parse HEAD
#                        on the sending side): the copy's own .git, if any, is not it, so every
#                        result records HASH (NAIRRCORE_SOURCE_COMMIT).
#                        The weather archive, carried whole beside it (.gpu/weather), is put in
#                        place and checked at once: the short plan needs no other data.
#   remote.sh weather    only that (boot does it)
#   remote.sh receive    keep the CIFAR-10 part this call carried
#   remote.sh data       join the CIFAR-10 parts, check every checksum, unpack
#   remote.sh STEP...    wait for the build, then run scripts/gpu/steps.sh STEP...
set -uo pipefail
NC=${NAIRRCORE_GPU_HOME:-/root/nc}  # (another folder only for the plan's own tests)
mkdir -p "$NC/parts" "$NC/results"
export PYTHONPATH="$NC/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -s "$NC/source_commit" ] && export NAIRRCORE_SOURCE_COMMIT="$(cat "$NC/source_commit")"

receive() {
  for d in .gpu/c*; do [ -d "$d" ] && cp "$d"/data.tar.* "$NC/parts/"; done
  ls -l "$NC/parts"
}

weather() {  # the weather archive carried whole beside boot/ (its sums): put in place and checked
  local f=.gpu/weather/us-210-cities-daily.tar.xz sums=$PWD/.gpu/boot/SHA256SUMS
  [ -f "$f" ] || return 0
  mkdir -p "$NC/data" && cp "$f" "$NC/data/" || exit 1
  (cd "$NC/data" && grep ' us-210-cities-daily.tar.xz$' "$sums" | sha256sum -c --quiet) ||
    { echo "weather archive: checksum mismatch" >&2; rm -f "$NC/data/us-210-cities-daily.tar.xz"; exit 1; }
  echo "weather archive in place: $NC/data/us-210-cities-daily.tar.xz"
}

finish() {  # what this call leaves for the caller: the results so far, packed
  local out=${OUT:-}
  [ -n "$out" ] || return 0
  # Model files above 5 MB stay behind (a full-size MLP is 30 MB; only small runs are kept as examples).
  (cd "$NC" && find results -type f -name model.pt -size +5M > "$NC/large.txt"
   tar -czf "$out/results.tgz" -X "$NC/large.txt" results 2>/dev/null)
  cp "$NC"/build.log "$out/" 2>/dev/null
  ls -l "$out"
}
trap finish EXIT

case "${1:-}" in
  boot)
    ctest_flag=ON commit=
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        --no-ctest) ctest_flag=OFF ;;
        --commit) commit=${2:-}; shift ;;
        *) echo "boot: unknown option $1" >&2; exit 2 ;;
      esac
      shift
    done
    [[ "$commit" =~ ^[0-9a-f]{7,40}$ ]] || { echo "boot: --commit HASH (the sending side's git rev-parse HEAD) is required" >&2; exit 2; }
    echo "$commit" > "$NC/source_commit"
    rm -rf "$NC/src" && mkdir -p "$NC/src"
    tar --exclude=./.gpu --exclude=./build -cf - . | tar -C "$NC/src" -xf -
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$NC/site" .gpu/boot/wheels/*.whl || exit 1
    dpkg -x .gpu/boot/catch2_*.deb "$NC/catch2" && cp .gpu/boot/SHA256SUMS "$NC/"
    weather
    receive
    {
      nvidia-smi; nvcc --version | tail -2; cmake --version | head -1
      python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
      lscpu | grep -E "Model name|^CPU\(s\)"
    } > "$NC/results/machine.txt" 2>&1
    cat "$NC/results/machine.txt"
    # The build outlives this call (setsid); later calls wait for build.rc.
    (cd "$NC/src" && setsid bash -c "TORCH_CUDA_ARCH_LIST=9.0 CMAKE_BUILD_PARALLEL_LEVEL=\$(nproc) \
      python3 -m pip install -v --no-build-isolation --no-deps -Cbuild-dir=build/gpu \
      -Ccmake.define.NAIRRCORE_BUILD_TESTS=$ctest_flag -Ccmake.define.CMAKE_PREFIX_PATH=$NC/catch2/usr . \
      > $NC/build.log 2>&1; echo \$? > $NC/build.rc" < /dev/null > /dev/null 2>&1 &)
    echo "build started"
    ;;
  weather)
    weather
    ;;
  receive)
    receive
    ;;
  data)
    receive
    mkdir -p "$NC/data"
    cat "$NC"/parts/data.tar.* | tar -C "$NC/data" -xf - || { echo "data parts incomplete"; exit 1; }
    (cd "$NC/data" && sha256sum -c --quiet "$NC/SHA256SUMS") || { echo "checksum mismatch"; exit 1; }
    mkdir -p "$NC/data/weather"
    tar -C "$NC/data/weather" -xJf "$NC/data/us-210-cities-daily.tar.xz"
    du -sh "$NC/data"/*
    ;;
  *)
    while [ ! -f "$NC/build.rc" ]; do sleep 2; done
    if [ "$(cat "$NC/build.rc")" != 0 ]; then tail -60 "$NC/build.log"; exit 1; fi
    cd "$NC/src" && bash scripts/gpu/steps.sh "$@"
    ;;
esac
