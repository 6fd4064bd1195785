#!/usr/bin/env bash
# How the fusion gap to bp LoRA moves with the number of steps, on the demo's teacher and its synth_a set:
#   ./dev demo                                   (leaves the teacher and the prepared sets in build/demo)
#   bench/fusion/gap_vs_steps.sh [OUT] [STEPS...] (default build/gap-vs-steps, steps 100 300 800; about 20 minutes
#                                                  on 2 cores for the default, two runs at a time on one thread each)
# Each mode (fusion, bp LoRA, fo_micro, zo) is fine-tuned with the demo's settings (configs/demo/experiment.json,
# "finetune"; the same batches in every mode) for each number of steps: the learning rate warms up and decays to 0
# over the steps planned, so every run is a complete schedule, not a prefix of a longer one. Then a table of test
# macro AUROC and mAP (best validation checkpoint) per mode and steps, and a chart of the validation macro AUROC of
# the longest runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
out=${1:-$build/gap-vs-steps}
shift $(($# > 0 ? 1 : 0))
steps_list=("$@")
[ ${#steps_list[@]} -gt 0 ] || steps_list=(100 300 800)
bin="$build/apps"
backbone="$build/demo/experiment/pretrain/backbone.safetensors"
data="$build/demo/prepared/synth_a.h5"
for f in "$backbone" "$data"; do
  [ -f "$f" ] || { echo "gap_vs_steps: $f is missing: run ./dev demo first" >&2; exit 1; }
done
mkdir -p "$out"

run() {  # run MODE STEPS: one fine-tuning run on one thread, skipped when its report exists
  local dir="$out/$1-$2"
  [ -f "$dir/report.json" ] && return 0
  rm -rf "$dir"
  OMP_NUM_THREADS=1 "$bin/agf-finetune" --config "$here/configs/demo_finetune.json" --data "$data" \
    --backbone "$backbone" --mode "$1" --steps "$2" --eval_every 50 --progress false --out "$dir" \
    >"$out/$1-$2.log" 2>&1 || { echo "gap_vs_steps: $1 at $2 steps failed, see $out/$1-$2.log" >&2; return 1; }
}

for steps in "${steps_list[@]}"; do
  # Two at a time, one thread each: the pair's wall time is the slower run's.
  run fusion "$steps" & run bp "$steps" & wait
  run fo_micro "$steps" & run zo "$steps" & wait
done

{
  echo "| steps | fusion | bp LoRA | fo_micro | zo | fusion - bp |"
  echo "|---:|---|---|---|---|---:|"
  for steps in "${steps_list[@]}"; do
    row=$(for mode in fusion bp fo_micro zo; do
      # test macro AUROC / mAP of the best validation checkpoint, from the report agf-finetune wrote
      sed -n 's/^| test macro AUROC | \(.*\) |$/\1/p; s/^| test mAP | \(.*\) |$/\1/p' "$out/$mode-$steps/report.md" |
        paste -sd/
    done | paste -sd'|')
    IFS='|' read -r f b m z <<<"$row"
    gap=$(awk -v a="${f%%/*}" -v b="${b%%/*}" 'BEGIN { printf "%+.4f", a - b }')
    echo "| $steps | $f | $b | $m | $z | $gap |"
  done
} | tee "$out/table.md"
echo "(each cell: test macro AUROC / test mAP)" | tee -a "$out/table.md"

last=${steps_list[-1]}
runs=(fusion="$out/fusion-$last" bp_lora="$out/bp-$last" fo_micro="$out/fo_micro-$last" zo="$out/zo-$last")
"$build/bench/fusion/agf-compare-runs" --metric val_auroc --title "validation macro AUROC, $last steps, four modes" \
  --out "$out/val_auroc_$last.png" "${runs[@]}" >/dev/null
echo "table: $out/table.md; chart: $out/val_auroc_$last.png"
