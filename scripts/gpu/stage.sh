#!/usr/bin/env bash
# Stage what a bare GPU machine needs into .gpu/ (ignored by git), in parts
# that each travel in one device call (64 MiB per call, repository included):
#   .gpu/boot   the Catch2 headers (.deb), the wheels the GPU image lacks
#               (Jupyter's kernel stack, jsonschema, nbconvert), SHA256SUMS
#   .gpu/weather  the weather archive whole: it travels beside boot/ in the
#               first call, so the short plan needs no other data call
#   .gpu/c1..   CIFAR-10's .bin.xz files as one tar stream cut into pieces;
#               remote.sh joins and checks them.
# Usage: scripts/gpu/stage.sh   (NAIRRCORE_SHARED_DATA: where the data sets are)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED_DATA=${NAIRRCORE_SHARED_DATA:-$ROOT/../shared/data}
STAGE="$ROOT/.gpu"
PART_MB=${NAIRRCORE_GPU_PART_MB:-54}   # per call, leaving room for the repository
PYVER=${NAIRRCORE_GPU_PYTHON:-3.12}
# The GPU image's Python packages (docs/GPU_CHECK.md): wheels for these are not carried.
IN_IMAGE="attrs jinja2 markupsafe packaging psutil pygments python_dateutil typing_extensions pyyaml six tzdata"

rm -rf "$STAGE"
mkdir -p "$STAGE/boot/wheels" "$STAGE/parts"
echo "== wheels for Python $PYVER (manylinux x86-64)"
platforms=()
for p in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_26_x86_64 \
         manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
python3 -m pip download -q --only-binary=:all: --python-version "$PYVER" --implementation cp "${platforms[@]}" \
  -d "$STAGE/boot/wheels" nbclient nbformat ipykernel jsonschema nbconvert
for name in $IN_IMAGE; do rm -f "$STAGE/boot/wheels/${name}"-[0-9]*.whl; done
echo "== Catch2 (headers only)"
(cd "$STAGE/boot" && apt-get download -qq catch2)

echo "== data from $SHARED_DATA"
(cd "$SHARED_DATA" && sha256sum us-210-cities-daily.tar.xz cifar-10-batches-bin/*) > "$STAGE/boot/SHA256SUMS"
mkdir -p "$STAGE/weather"
cp "$SHARED_DATA/us-210-cities-daily.tar.xz" "$STAGE/weather/"
# The first call carries the repository, boot/ and weather/: 64 MiB at most.
repo_mb=$(cd "$ROOT" && git ls-files -z | du -cm --files0-from=- | tail -1 | cut -f1)
first_mb=$(( repo_mb + $(du -sm "$STAGE/boot" | cut -f1) + $(du -sm "$STAGE/weather" | cut -f1) ))
echo "first call: about $first_mb MiB (repository $repo_mb)"
[ "$first_mb" -lt 64 ] || { echo "error: the first call would carry $first_mb MiB, over 64" >&2; exit 1; }
tar -C "$SHARED_DATA" -cf - cifar-10-batches-bin | split -b "${PART_MB}M" -d -a 3 - "$STAGE/parts/data.tar."
i=0
for part in "$STAGE"/parts/data.tar.*; do
  i=$((i + 1))
  mkdir -p "$STAGE/c$i"
  mv "$part" "$STAGE/c$i/"
done
rmdir "$STAGE/parts"
echo "== staged: boot $(du -sh "$STAGE/boot" | cut -f1), weather $(du -sh "$STAGE/weather" | cut -f1), $i CIFAR-10 parts"
for d in "$STAGE"/c*; do echo "  $(basename "$d"): $(du -sh "$d" | cut -f1)"; done
echo "carry: call 1 [.gpu/boot, .gpu/weather]; then [.gpu/c1] ... for CIFAR-10 (see docs/GPU_CHECK.md)"
