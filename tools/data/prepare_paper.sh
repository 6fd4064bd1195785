#!/usr/bin/env bash
# Prepares the real data of the paper's experiment (configs/paper/experiment.json) from what tools/data/fetch.sh
# downloaded:
#   tools/data/prepare_paper.sh DATA_DIR OUT_DIR [BUILD_DIR]
# DATA_DIR holds challenge2021/training/<set>/ and code15/ (fetch.sh challenge2021 DATA_DIR/challenge2021, fetch.sh
# code15 DATA_DIR/code15). Writes OUT_DIR/code15.h5 (400 Hz, T 4096, the six labels, 80/20 train/val) and
# OUT_DIR/{chapman_shaoxing,ptb_xl,ningbo,georgia}.h5 resampled to the teacher's 400 Hz, T 4096 (10.24 s), the
# classes each set's published counts select, 10% labelled (finetune_label_ratio) and split as spec/data.md says.
# Edit the dataset paths of configs/paper/experiment.json when OUT_DIR is not /data/prepared.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
data=$1 out=$2
bin=${3:-$(cd "$(dirname "$0")/../.." && pwd)/build}/apps
train=$data/challenge2021/training
for d in chapman_shaoxing ptb-xl ningbo georgia; do
  [ -d "$train/$d" ] || { echo "prepare_paper: $train/$d is missing (tools/data/fetch.sh challenge2021 $data/challenge2021)"; exit 1; }
done
[ -f "$data/code15/exams.csv" ] || { echo "prepare_paper: $data/code15/exams.csv is missing (tools/data/fetch.sh code15 $data/code15)"; exit 1; }
"$bin/agf-collect" -o "$out" --code15 "$data/code15" --code15-length 4096 --label-ratio 1.0
"$bin/agf-collect" -o "$out" --challenge "$train/chapman_shaoxing" --challenge "$train/ptb-xl" \
  --challenge "$train/ningbo" --challenge "$train/georgia" --name chapman_shaoxing --name ptb_xl --name ningbo \
  --name georgia --published-counts --target-fs 400 --length 4096 --label-ratio 0.10 --seed 18
