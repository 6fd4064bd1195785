#!/usr/bin/env bash
# The one-call GPU check, run on the GPU machine (device tool: carry gpu-pack, timeout_s 600):
#   bash bench/gpu/run.sh gpu-pack/agf-gpu.tar.xz
# Unpacks what bench/gpu/pack.sh packed, then, each step timed and bounded so that the whole fits in 8 minutes:
#   1. the machine: GPU, driver, nvcc
#   2. test_tensor (its CUDA cases: copies, the caching allocator against the ledger, perturbation, AdamW)
#   3. test_kernels -tc "*CUDA*" (the kernel harness, CUDA against CPU, op by op)
#   4. agf-kernels (every case on the CPU, and on CUDA against the CPU where the op has a kernel)
#   5. compute-sanitizer --tool memcheck on the harness's perturbation and AdamW cases
#   6. agf-gpu-bandwidth (perturbation, fused update, AdamW against a device-to-device copy, 1 GiB tensors)
#   7. agf-kernels --perf --device cuda (the time of every case with a CUDA kernel)
# Writes $OUT/gpu_check.md (every step's status and its last lines, the bandwidth table) and one log per step (at most
# 8 files come back). Exits 0 when every step ran and passed; a step that cannot run here says why in the report.
set -uo pipefail
pack=${1:-gpu-pack/agf-gpu.tar.xz}
out=${OUT:-${TMPDIR:-/tmp}/agf-gpu-check}
mkdir -p "$out"
report="$out/gpu_check.md"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! tar -C "$work" -xJf "$pack"; then
  echo "run: cannot unpack $pack (made by bench/gpu/pack.sh; carry its folder)" | tee "$report"
  exit 1
fi
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_WAIT_POLICY=passive
bin="$work/bin"
failed=0

{
  echo "# GPU check, commit $(cat "$work/COMMIT"), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo '```'
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  else
    echo "nvidia-smi: not on this machine"
  fi
  if command -v nvcc >/dev/null 2>&1; then nvcc --version | tail -1; else echo "nvcc: not on this machine"; fi
  echo "host: $(nproc) cores, $(uname -r)"
  echo '```'
  echo
  echo "| step | status | seconds | last line |"
  echo "|---|---|---:|---|"
} > "$report"

# step NAME LIMIT_S COMMAND...: runs it, its output in NAME.log, a row in the report.
step() {
  local name=$1 limit=$2
  shift 2
  local t0 rc status last
  t0=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  status=ok
  if [ "$rc" -eq 124 ]; then status="TIMED OUT (${limit} s)"; failed=1
  elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"; failed=1; fi
  last=$(grep -v '^\s*$' "$out/$name.log" | tail -1 | tr '|' '/' | cut -c1-160)
  echo "| $name | $status | $(( $(date +%s) - t0 )) | $last |" >> "$report"
}

step test_tensor 120 "$bin/test_tensor" --no-intro
step test_kernels_cuda 120 "$bin/test_kernels" --no-intro -tc='*CUDA*'
step agf-kernels 120 "$bin/agf-kernels"
if command -v compute-sanitizer >/dev/null 2>&1; then
  step memcheck 240 bash -c "compute-sanitizer --tool memcheck --error-exitcode 9 '$bin/agf-kernels' -o perturb &&
                             compute-sanitizer --tool memcheck --error-exitcode 9 '$bin/agf-kernels' -o adamw"
else
  echo "| memcheck | not run: compute-sanitizer is not on this machine's PATH | 0 | |" >> "$report"
fi
step bandwidth 120 "$bin/agf-gpu-bandwidth" --json "$out/bandwidth.json"
step perf_cuda 120 "$bin/agf-kernels" --perf --device cuda --seconds 0.1

{
  echo
  echo '## Bandwidth (agf-gpu-bandwidth)'
  echo
  echo '```'
  cat "$out/bandwidth.log"
  echo '```'
} >> "$report"
echo "run: report in $report ($([ $failed -eq 0 ] && echo 'every step passed' || echo 'a step FAILED'))"
cat "$report"
exit $failed
