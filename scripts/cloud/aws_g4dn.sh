#!/usr/bin/env bash
# Launch an AWS EC2 g4dn.xlarge (T4) that runs a notebook with nairrcore and
# uploads its run folder to S3, then shuts itself down.
#   scripts/cloud/aws_g4dn.sh --bucket s3://my-bucket/nairrcore [--notebook notebooks/cifar10.ipynb]
#                             [--ami AMI_ID] [--key KEYPAIR] [--dry-run] [-- KEY=VALUE ...]
# Needs the AWS CLI with credentials. The default AMI is looked up from the
# public "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)" SSM parameter.
set -euo pipefail
notebook=notebooks/forecasting.ipynb bucket="" ami="" key="" dry=0 region=${AWS_REGION:-us-east-1}
repo=${NAIRRCORE_REPO:-https://github.com/nairrcore/nairrcore.git}
while [ $# -gt 0 ]; do
  case $1 in
    --notebook) notebook=$2; shift 2 ;;
    --bucket) bucket=$2; shift 2 ;;
    --ami) ami=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$bucket" ] || { echo "--bucket s3://... is required (the run folder is uploaded there)" >&2; exit 2; }
params=""
for kv in "$@"; do params+=" --param $kv"; done
if [ -z "$ami" ]; then
  ami=$(aws ssm get-parameter --region "$region" \
    --name /aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id \
    --query Parameter.Value --output text)
fi
user_data=$(cat <<USERDATA
#!/bin/bash
set -euxo pipefail
cd /opt && git clone --depth 1 $repo nairrcore && cd nairrcore
bash scripts/dev.sh env
VENV=\$(bash scripts/dev.sh env | tail -1)
"\$VENV/bin/nairrcore" data fetch weather
"\$VENV/bin/nairrcore" data fetch cifar10
"\$VENV/bin/nairrcore" run $notebook --platform aws-g4dn --gpu $params || true
aws s3 cp --recursive outputs/ $bucket/
shutdown -h now
USERDATA
)
cmd=(aws ec2 run-instances --region "$region" --image-id "$ami" --instance-type g4dn.xlarge
     --instance-initiated-shutdown-behavior terminate --user-data "$user_data"
     --block-device-mappings 'DeviceName=/dev/sda1,Ebs={VolumeSize=100}')
[ -n "$key" ] && cmd+=(--key-name "$key")
if [ "$dry" = 1 ]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
"${cmd[@]}"
