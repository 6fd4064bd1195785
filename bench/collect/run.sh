#!/usr/bin/env bash
# agf-collect throughput and memory on synthetic Challenge records (agf-synth), then loader read throughput.
#   bench/collect/run.sh [BUILD_DIR] [N_RECORDS] [WORK_DIR]
# Prints records/s (wall and CPU) and peak RSS (/usr/bin/time -v) for the stored-raw default and for deflate 1.
set -euo pipefail
build=${1:-build}
n=${2:-20000}
work=${3:-/tmp/agf_bench_collect}
synth="$build/apps/agf-synth"
collect="$build/apps/agf-collect"
loader="$build/bench/collect/bench-loader"
for exe in "$synth" "$collect" "$loader"; do
  [[ -x "$exe" ]] || { echo "run.sh: $exe not built (ninja -C $build apps/agf-synth apps/agf-collect bench/collect/bench-loader)" >&2; exit 1; }
done
echo "machine: $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
records="$work/WFDB_Synth"
if [[ ! -f "$records/SY$(printf '%06d' "$n").hea" ]]; then
  rm -rf "$work"
  "$synth" challenge --out "$records" --n "$n" --seed 1 --quiet
fi
for level in 0 1; do
  out="$work/out_deflate$level"
  rm -rf "$out"
  /usr/bin/time -v "$collect" -o "$out" --challenge "$records" --deflate "$level" --quiet \
    > "$work/collect_deflate$level.txt" 2> "$work/time_deflate$level.txt"
  wall=$(grep -F 'Elapsed (wall clock)' "$work/time_deflate$level.txt" | awk '{print $NF}')
  user=$(grep -F 'User time' "$work/time_deflate$level.txt" | awk '{print $NF}')
  sys=$(grep -F 'System time' "$work/time_deflate$level.txt" | awk '{print $NF}')
  rss=$(grep -F 'Maximum resident' "$work/time_deflate$level.txt" | awk '{print $NF}')
  size=$(stat -c %s "$out/WFDB_Synth.h5")
  echo "deflate $level: $(head -1 "$work/collect_deflate$level.txt")"
  echo "  wall $wall, user $user s, sys $sys s, peak RSS $((rss / 1024)) MiB, file $((size / 1048576)) MiB" \
       "($(awk -v s="$size" -v n="$n" 'BEGIN{printf "%.0f", s / n}') bytes/record)"
  "$loader" "$out/WFDB_Synth.h5" --batch 64 --batches 100 | tail -1 | sed 's/^/  loader: /'
done
