#!/usr/bin/env bash
# Runs a test binary with every core kept busy: the tests that depend on
# timing or threads must hold on a loaded machine (CI's is one), not only a quiet one.
#   under_load.sh BINARY ARGS...
set -u
burners=()
for _ in $(seq "$(nproc)"); do
  bash -c 'while :; do :; done' &
  burners+=($!)
done
"$@"
status=$?
kill "${burners[@]}" 2>/dev/null
wait "${burners[@]}" 2>/dev/null
exit "$status"
