#!/usr/bin/env bash
# Regenerates the committed batch scripts from the platform profiles
# (python/nairrcore/platforms.json). Site values that differ per user
# (account, venv) are left as placeholders to edit or pass on the command line:
#   nairrcore jobs script notebooks/cifar10.ipynb --platform delta --account ACCOUNT --venv ~/venvs/nairrcore
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAIRRCORE=${NAIRRCORE:-nairrcore}
DEST=${1:-$ROOT/scripts}  # tests pass a scratch folder and compare
mkdir -p "$DEST/slurm" "$DEST/htcondor"
cd "$ROOT"
for platform in bridges2 delta anvil alvis; do
  $NAIRRCORE jobs script notebooks/cifar10.ipynb --platform "$platform" --account YOUR_ACCOUNT \
    --venv '$HOME/venvs/nairrcore' --time 02:00:00 --param model=resnet18 --param train_limit=0 \
    --param test_limit=0 -o "$DEST/slurm/$platform.sbatch" >/dev/null
done
# ResNet-18 data parallel over 2 nodes x 4 A100s (one task per GPU)
$NAIRRCORE jobs script notebooks/cifar10.ipynb --platform delta --account YOUR_ACCOUNT --venv '$HOME/venvs/nairrcore' \
  --time 02:00:00 --train cifar10 --nodes 2 --tasks-per-node 4 --cpus 16 --param model=resnet18 \
  -o "$DEST/slurm/delta-ddp-2x4.sbatch" >/dev/null
$NAIRRCORE jobs script notebooks/cifar10.ipynb --platform chtc --param model=fastnet --param train_limit=0 \
  --param test_limit=0 --param widths=auto --param epochs=auto --param batch_size=auto -o "$DEST/htcondor/cifar10.sub" >/dev/null
$NAIRRCORE jobs script notebooks/cifar10.ipynb --platform chtc --array 4 -o "$DEST/htcondor/sweep.sub" >/dev/null
# data parallel over the 4 GPUs of one slot
$NAIRRCORE jobs script notebooks/cifar10.ipynb --platform chtc --train cifar10 --tasks-per-node 4 \
  --param model=resnet18 -o "$DEST/htcondor/cifar10-ddp-4gpu.sub" >/dev/null
