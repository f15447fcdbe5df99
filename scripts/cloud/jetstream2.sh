#!/usr/bin/env bash
# Launch a Jetstream2 CPU VM (the CPU baseline) with the OpenStack CLI; it runs
# a notebook with nairrcore and keeps the run folder in /opt/nairrcore/outputs
# (copy it back with scp), then powers off.
#   scripts/cloud/jetstream2.sh --key KEYPAIR [--flavor m3.medium] [--notebook notebooks/forecasting.ipynb]
#                               [--dry-run] [-- KEY=VALUE ...]
# Needs an application credential sourced (openrc) for your allocation.
set -euo pipefail
notebook=notebooks/forecasting.ipynb flavor=m3.medium key="" dry=0
image=${JS2_IMAGE:-Featured-Ubuntu22}
repo=${NAIRRCORE_REPO:-https://github.com/nairrcore/nairrcore.git}
while [ $# -gt 0 ]; do
  case $1 in
    --notebook) notebook=$2; shift 2 ;;
    --flavor) flavor=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$key" ] || { echo "--key KEYPAIR is required" >&2; exit 2; }
params=""
for kv in "$@"; do params+=" --param $kv"; done
userdata=$(mktemp)
cat > "$userdata" <<USERDATA
#!/bin/bash
set -euxo pipefail
cd /opt && git clone --depth 1 $repo nairrcore && cd nairrcore
VENV=\$(bash scripts/dev.sh env | tail -1)
"\$VENV/bin/nairrcore" data fetch weather
"\$VENV/bin/nairrcore" run $notebook --platform jetstream2 --param device=cpu $params || true
poweroff
USERDATA
cmd=(openstack server create --flavor "$flavor" --image "$image" --key-name "$key"
     --user-data "$userdata" --wait "nairrcore-$(date +%Y%m%d-%H%M%S)")
if [ "$dry" = 1 ]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
"${cmd[@]}"
