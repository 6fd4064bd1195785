#!/usr/bin/env bash
# The engine and PyTorch eager side by side, on the same network, the same steps and the same threads:
#   bench/reference/side_by_side.sh [OUT]            (default build/bench-reference; ~15 minutes on 2 cores)
# Installs PyTorch into a virtual environment of its own (build/bench-venv, from PyPI: about 5 GB with the CUDA
# libraries PyPI's wheel pulls in, once; a bench-time tool only: the engine never runs Python), builds the engine, then runs each configuration ROUNDS times, ours and theirs in turn,
# each run a fresh process (agf-bench step; bench/reference/torch_step.py). Prints, and writes to OUT/side_by_side.md,
# the medians with their ratios (samples/s, peak RSS of the process) and our ledger's peak beside our RSS.
# Environment: ROUNDS (2), STEPS (5 timed steps per run), THREADS (all cores), CONFIGS (to replace the list below:
# "preset mode batch bp_batch rank" entries separated by ';'), PYTHON (an interpreter that has torch: no venv made).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
out=${1:-$build/bench-reference}
rounds=${ROUNDS:-2}
steps=${STEPS:-5}
threads=${THREADS:-$(nproc)}
# Each side runs with its own OpenMP wait policy: the engine's apps choose theirs (apps/app_main.h), PyTorch keeps its
# default. Until 2026-12-07 this script set OMP_WAIT_POLICY=passive for both, which slowed PyTorch's steps by 15-30%
# (tinylight backprop B=32: 0.17-0.21 s against 0.14-0.15 s with its default) and flattered the ratios before then.
unset OMP_WAIT_POLICY
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
# The targets of the CPU-speed work (issue 11): medium inference B=16, tinylight backprop B=32 (every parameter),
# medium fusion B=32 b=4 r=16; and the memory baselines around the fusion step.
configs=${CONFIGS:-"medium inference 16 16 0;tinylight bp 32 32 0;medium fusion 32 4 16;medium zo 32 4 16;medium bp_lora 16 16 16"}

"$root/dev" build
if [ -z "${PYTHON:-}" ]; then
  venv="$build/bench-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "side_by_side: installing PyTorch into $venv (once)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch numpy
  fi
  PYTHON="$venv/bin/python"
fi
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"
IFS=';' read -ra list <<<"$configs"
for entry in "${list[@]}"; do
  read -r preset mode batch bp rank <<<"$entry"
  for ((r = 1; r <= rounds; r++)); do
    echo "side_by_side: $preset $mode B=$batch b=$bp r=$rank, round $r/$rounds"
    "$build/apps/agf-bench" step --preset "$preset" --mode "$mode" --batch "$batch" --bp-batch "$bp" --rank "$rank" \
      --steps "$steps" --quiet --json "$out/ours.json" >/dev/null 2>"$out/ours.log"
    "$PYTHON" - "$out/ours.json" "$threads" >>"$results" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
r = rep["results"][0]
r.update(side="ours", preset=rep["options"]["preset"], threads=int(sys.argv[2]), kernels=rep["machine"]["kernels"],
         runtime_baseline_rss_bytes=rep["machine"]["runtime_baseline_rss_bytes"])
print(json.dumps(r))
PY
    "$PYTHON" "$here/torch_step.py" --preset "$preset" --mode "$mode" --batch "$batch" --bp-batch "$bp" \
      --rank "$rank" --steps "$steps" --threads "$threads" >>"$results"
  done
done
"$PYTHON" "$here/summarise.py" "$results" | tee "$out/side_by_side.md"
