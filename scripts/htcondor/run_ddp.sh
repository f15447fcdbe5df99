#!/bin/bash
# HTCondor job wrapper for data-parallel training on the GPUs of one slot:
# one process per GPU started by torchrun (NCCL), checkpoints in outputs/.
#   arguments = WORKLOAD NPROC [KEY=VALUE ...]
set -uo pipefail
workload=$1
nproc=$2
shift 2
params=()
for kv in "$@"; do params+=(--param "$kv"); done
mkdir -p outputs
torchrun --standalone --nproc_per_node "$nproc" -m nairrcore train "$workload" --distributed --quiet \
  --checkpoint-dir outputs/checkpoints --save-model "outputs/$workload-model.pt" "${params[@]}"
exit $?  # 85 (checkpointed on eviction) asks HTCondor to transfer outputs/ and restart
