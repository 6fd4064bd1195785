#!/usr/bin/env bash
# pipeline.sh BIN_DIR WORKDIR: the whole recipe through the apps, at small sizes, checking what each stage hands the
# next (issue 13):
#   1. agf-pretrain on a synthetic CODE-15% set writes a backbone that records 400 Hz and its six labels;
#   2. agf-finetune loads it on a synthetic Challenge set prepared at 400 Hz and exports the merged teacher;
#      agf-eval scores the merged teacher as it scores the unmerged run (the exact 1e-5 logits check is in
#      tests/fusion/test_distill.cpp);
#   3. agf-distill refuses the pretrained backbone as a teacher (another label set), then distils a 3-lead student
#      whose export agf-eval reads (its JSON report parses, it says which leads it reads);
#   4. agf-experiment, once straight and once interrupted by Ctrl-C and run again, ends with the same results (every
#      figure but the timings).
set -u
bin=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }
run() { "$@" >"$work/last.out" 2>"$work/last.err" || { cat "$work/last.out" "$work/last.err"; fail "$* exited $?"; }; }
export OMP_WAIT_POLICY=passive
rm -rf "$work" && mkdir -p "$work" || fail "cannot make $work"
cd "$work" || fail "cannot enter $work"

# Data: a CODE-15% set (400 Hz) and a Challenge set (500 Hz, resampled to 400 Hz as the teacher expects).
run "$bin/agf-synth" code15 --out raw_code15 --n 160 --seed 5 --quiet
run "$bin/agf-collect" -o prepared --code15 raw_code15 --code15-length 512 --label-ratio 1.0 -q
run "$bin/agf-synth" challenge --out raw_set --n 240 --seed 7 --quiet
run "$bin/agf-collect" -o prepared --challenge raw_set --name set --target-fs 400 --length 512 --min-count 10 \
  --label-ratio 0.6 -q
common=(--preset tinylight --batch_size 16 --steps 10 --eval_every 5 --progress false)

# 1. Pretraining.
run "$bin/agf-pretrain" --data prepared/code15.h5 "${common[@]}" --out runs/pretrain
[ -f runs/pretrain/backbone.safetensors ] || fail "agf-pretrain wrote no backbone"
grep -q '"fs":"400"' runs/pretrain/backbone.safetensors || fail "the backbone does not record 400 Hz"
grep -q '1dAVb' runs/pretrain/backbone.safetensors || fail "the backbone does not record its label set"

# 2. Fine-tuning from that backbone, the merged teacher exported, both scored alike.
run "$bin/agf-finetune" --data prepared/set.h5 --backbone runs/pretrain/backbone.safetensors "${common[@]}" \
  --mode fusion --r 4 --bp_batch 4 --out runs/teacher --export-merged teacher.safetensors
[ -f teacher.safetensors ] || fail "no merged teacher"
run "$bin/agf-eval" --checkpoint runs/teacher/best.safetensors --data prepared/set.h5 --json unmerged.json
run "$bin/agf-eval" --checkpoint teacher.safetensors --data prepared/set.h5 --json merged.json
auroc() { tr -d ' \n' <"$1" | grep -o '"macro":{"auroc":{[^}]*"value":[-0-9.e]*' | head -1 | sed 's/.*"value"://'; }
a=$(auroc unmerged.json) b=$(auroc merged.json)
[ -n "$a" ] && [ -n "$b" ] || fail "no macro AUROC in the agf-eval reports"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-3) }' ||
  fail "the merged teacher scores macro AUROC $b, the unmerged run $a"

# 3. Distillation: a teacher of another label set is refused (nothing written), then a 3-lead student.
if "$bin/agf-distill" --data prepared/set.h5 --teacher runs/pretrain/backbone.safetensors "${common[@]}" \
  --out runs/refused >refused.out 2>refused.err; then fail "agf-distill took a teacher of another label set"; fi
grep -q 'predicts another label set than dataset' refused.err || { cat refused.err; fail "unclear refusal"; }
[ "$(wc -l <refused.err)" -eq 1 ] || { cat refused.err; fail "more than one line on stderr"; }
[ ! -e runs/refused ] || fail "the refused run left a folder"
run "$bin/agf-distill" --data prepared/set.h5 --teacher runs/teacher/best.safetensors "${common[@]}" \
  --lead_mask 3lead --temperature 2 --out runs/student --export student.safetensors
run "$bin/agf-eval" --checkpoint student.safetensors --data prepared/set.h5 --json student.json
grep -q 'reads leads II,V1,V5' "$work/last.out" || { cat "$work/last.out"; fail "agf-eval does not say the leads"; }
[ -n "$(auroc student.json)" ] || fail "the student's report has no macro AUROC"

# 4. The experiment driver, straight and interrupted.
cat >experiment.json <<'EOF'
{
  "pretrain": {"data": "prepared/code15.h5", "preset": "tinylight", "batch_size": 16, "steps": 10, "eval_every": 5},
  "datasets": {"set": "prepared/set.h5"},
  "modes": ["fusion", "bp"],
  "finetune": {"preset": "tinylight", "r": 4, "batch_size": 16, "bp_batch": 4, "steps": 40, "eval_every": 10},
  "distill": {"batch_size": 16, "steps": 20, "eval_every": 10},
  "latency_repeats": 2
}
EOF
run "$bin/agf-experiment" --config experiment.json --out straight
for f in straight/results/summary.md straight/results/set.md straight/results/set.json straight/results/set_memory.png \
  straight/results/set_val_map.png; do
  [ -s "$f" ] || fail "the experiment did not write $f"
done
grep -q '| student |' straight/results/set.md || fail "no student row in the table"
"$bin/agf-experiment" --config experiment.json --out resumed >resumed1.out 2>resumed1.err &
pid=$!
for ((i = 0; i < 6000; i++)); do
  [ -f resumed/set/fusion/validation.jsonl ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 130 ] || { cat resumed1.err; fail "an interrupted experiment exited $status (expected 130)"; }
  [ ! -f resumed/results/set.json ] || fail "an interrupted experiment wrote results"
  run "$bin/agf-experiment" --config experiment.json --out resumed
  grep -q 'done earlier' "$work/last.err" || fail "the second run redid the finished stages"
  grep -q 'continuing the interrupted run' "$work/last.err" || fail "the second run did not continue the stage"
fi
# Everything but the timings (and the paths, which name the two folders) is the same.
strip() { grep -v -E '"(median_step_seconds|median_ms|min_ms|ms_per_record|checkpoint)"' "$1"; }
diff <(strip straight/results/set.json) <(strip resumed/results/set.json) >results.diff ||
  { cat results.diff; fail "the interrupted experiment ends with another table"; }
# Running a finished experiment again redoes nothing and writes the same results.
run "$bin/agf-experiment" --config experiment.json --out straight
[ "$(grep -c 'done earlier' "$work/last.err")" -eq 4 ] || { cat "$work/last.err"; fail "stages were redone"; }
echo "pipeline: pretrain -> finetune -> distill -> eval and the experiment (interrupted: exit $status) all agree"
