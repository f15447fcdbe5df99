#!/usr/bin/env bash
# Regenerates python/nairrcore/_core.pyi, the typed stubs of the compiled core,
# from the installed build (tests/python/test_core_stub.py checks they match it).
#   pip install pybind11-stubgen && scripts/core_stub.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pybind11-stubgen nairrcore._core --exit-code -o "$out"
cp "$out/nairrcore/_core.pyi" python/nairrcore/_core.pyi
echo "python/nairrcore/_core.pyi written"
