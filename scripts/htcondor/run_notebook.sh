#!/bin/bash
# HTCondor job wrapper: runs one notebook or script headless inside the nairrcore
# container and leaves its evidence in outputs/, which HTCondor transfers back.
#   arguments = NOTEBOOK|SCRIPT PLATFORM [KEY=VALUE ...]
set -uo pipefail
notebook=$1
platform=$2
shift 2
params=()
for kv in "$@"; do params+=(--param "$kv"); done
mkdir -p outputs
# kept in outputs/, which HTCondor transfers back on eviction and on exit 85
export NAIRRCORE_CHECKPOINT_DIR=outputs/checkpoints
gpu=()
[ "${_CONDOR_AssignedGPUs:-}" != "" ] && gpu=(--gpu)
nairrcore run "$notebook" --platform "$platform" --out outputs "${gpu[@]}" "${params[@]}"
status=$?
# Exit 85 is passed through: it asks HTCondor to transfer outputs/ and restart the job.
exit $status
