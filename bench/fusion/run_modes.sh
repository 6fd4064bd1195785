#!/usr/bin/env bash
# The four modes of AdaGrad-Fusion side by side on synthetic data, from nothing but this repository:
#   bench/fusion/run_modes.sh [OUT]      (default build/bench-modes; about 20 minutes on 2 cores)
# 1. two synthetic Challenge-format sets prepared by agf-collect: seed 101 with a mix that leaves out five findings
#    (LBBB, RAD, PVC, LQRSV, TInv) for the teacher, seed 202 with every class for the fine-tuning,
# 2. a small teacher (tinylight) pretrained with backprop on the first (configs/pretrain.json),
# 3. the teacher fine-tuned on the second in each mode, same config and steps (configs/finetune.json),
# 4. a Markdown table of the four (test macro AUROC, mAP, ledger peak, s/step, trainable parameters) and charts of
#    their training loss and validation mAP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
out=${1:-$build/bench-modes}
bin="$build/apps"
mkdir -p "$out"
if [ ! -f "$out/prepared/finetune.h5" ]; then
  "$bin/agf-synth" challenge --out "$out/raw_pretrain" --n 4000 --seed 101 --quiet \
    --mix NSR=0.4,SB=0.17,STach=0.15,AF=0.18,AFL=0.1,IAVB=0.14,RBBB=0.1,LAD=0.12,PAC=0.1
  "$bin/agf-synth" challenge --out "$out/raw_finetune" --n 3000 --seed 202 --quiet
  "$bin/agf-collect" -o "$out/prepared" --challenge "$out/raw_pretrain" --name pretrain --label-ratio 1.0 -q
  "$bin/agf-collect" -o "$out/prepared" --challenge "$out/raw_finetune" --name finetune --label-ratio 0.2 -q
fi
if [ ! -f "$out/teacher.safetensors" ]; then
  "$bin/agf-finetune" --config "$here/configs/pretrain.json" --data "$out/prepared/pretrain.h5" \
    --out "$out/runs/pretrain" --export-merged "$out/teacher.safetensors"
fi
for mode in fusion bp zo fo_micro; do
  [ -f "$out/runs/$mode/report.json" ] && continue
  rm -rf "$out/runs/$mode"
  "$bin/agf-finetune" --config "$here/configs/finetune.json" --data "$out/prepared/finetune.h5" \
    --backbone "$out/teacher.safetensors" --mode "$mode" --out "$out/runs/$mode"
done
runs=(fusion="$out/runs/fusion" bp_lora="$out/runs/bp" fo_micro="$out/runs/fo_micro" zo="$out/runs/zo")
"$build/bench/fusion/agf-compare-runs" --metric loss --smooth 10 --title "fine-tuning loss, four modes" \
  --out "$out/loss_curves.png" "${runs[@]}" | tee "$out/table.md"
"$build/bench/fusion/agf-compare-runs" --metric val_map --title "validation mAP, four modes" \
  --out "$out/val_map_curves.png" "${runs[@]}" >/dev/null
echo "table: $out/table.md; charts: $out/loss_curves.png, $out/val_map_curves.png"
