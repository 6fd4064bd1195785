#!/usr/bin/env bash
# The one-call GPU check, run on the GPU machine (device tool: carry gpu-pack, timeout_s 600):
#   bash bench/gpu/run.sh gpu-pack/agf-gpu.tar.xz
# Unpacks what bench/gpu/pack.sh packed, finds cuBLAS and cuDNN on this machine (its PyTorch's wheels), then, each
# step timed and bounded (the limits add up to 530 s, under the device tool's 600 s):
#   1. the machine: GPU, driver, nvcc, where cuBLAS and cuDNN were found
#   2. test_tensor (its CUDA cases: copies, the caching allocator against the ledger, perturbation, AdamW)
#   3. test_kernels -tc "*CUDA*" (the kernel harness, every op CUDA against CPU, grid capped too; the flawed kernel)
#   4. test_fusion -tc "*CUDA*,*GPU*" (EcgNet forward/backward and the fusion step CUDA vs CPU; determinism)
#   5. agf-kernels (every case on the CPU and on CUDA against the CPU; the op x backend table)
#   6. compute-sanitizer --tool memcheck on a short subset: perturbation, the fused update, conv1d, batch norm
#   7. agf-gpu-bandwidth (perturbation, fused update, AdamW against a device-to-device copy, 1 GiB tensors)
#   8. agf-bench step on the GPU (medium, B=32, b=4, r=16: inference, bp_lora, fusion) and the same steps in
#      PyTorch eager (bench/reference/torch_step.py, this machine's python3): time, our ledger against its
#      max_memory_allocated
#   9. agf-kernels --perf --device cuda (the time of every case on CUDA: conv1d and GEMM rates)
# Writes $OUT/gpu_check.md (every step's status and its last line, the bandwidth table, the step tables),
# $OUT/bandwidth.json, $OUT/bench_cuda.json and $OUT/logs.tar.gz (one log per step): at most 8 files come back. Exits 0 when every step ran and passed; a step that cannot run here says why in the report.
set -uo pipefail
pack=${1:-gpu-pack/agf-gpu.tar.xz}
out=${OUT:-${TMPDIR:-/tmp}/agf-gpu-check}
mkdir -p "$out"
report="$out/gpu_check.md"
work=$(mktemp -d)
trap 'tar -C "$logs" -czf "$out/logs.tar.gz" . 2>/dev/null; rm -rf "$work"' EXIT
logs="$work/logs"
mkdir -p "$logs"
if ! tar -C "$work" -xJf "$pack"; then
  echo "run: cannot unpack $pack (made by bench/gpu/pack.sh; carry its folder)" | tee "$report"
  exit 1
fi
# cuBLAS and cuDNN: the sonames the pack lists, from wherever this machine has them (PyTorch's nvidia-* wheels in
# python3's site-packages, a venv under /opt, a CUDA Toolkit under /usr/local); cuDNN opens its engine libraries from
# the same folder. PyTorch itself later runs with the machine's own LD_LIBRARY_PATH, not the pack's.
orig_ld_library_path=${LD_LIBRARY_PATH:-}
roots="/opt /usr/local /usr/lib /usr/lib64 ${HOME:-/root}/.local"
roots="$roots $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)"
libdirs="" missing=""
while read -r soname; do
  [ -n "$soname" ] || continue
  # shellcheck disable=SC2086
  found=$(find $roots -name "$soname" \( -type f -o -type l \) 2>/dev/null | head -1)
  if [ -z "$found" ]; then missing="$missing $soname"; continue; fi
  case ":$libdirs:" in *":$(dirname "$found"):"*) ;; *) libdirs="$libdirs:$(dirname "$found")" ;; esac
done < "$work/DEVICE_LIBS"
export LD_LIBRARY_PATH="$work/lib$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
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
  echo "cuBLAS/cuDNN from:${libdirs:- nowhere}${missing:+ (NOT FOUND on this machine:$missing)}"
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
  timeout "$limit" "$@" > "$logs/$name.log" 2>&1
  rc=$?
  status=ok
  if [ "$rc" -eq 124 ]; then status="TIMED OUT (${limit} s)"; failed=1
  elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"; failed=1; fi
  last=$(grep -v '^\s*$' "$logs/$name.log" | tail -1 | tr '|' '/' | cut -c1-160)
  echo "| $name | $status | $(( $(date +%s) - t0 )) | $last |" >> "$report"
}

[ -z "$missing" ] || failed=1
step test_tensor 40 "$bin/test_tensor" --no-intro
step test_kernels_cuda 90 "$bin/test_kernels" --no-intro -tc='*CUDA*'
step test_fusion_cuda 60 "$bin/test_fusion" --no-intro -tc='*CUDA*,*GPU*'
step agf-kernels 40 "$bin/agf-kernels" --no-grad
if command -v compute-sanitizer >/dev/null 2>&1; then
  # Exit 9 is a memory error; a comparison failure (agf-kernels' own exit 1) is the harness steps' to report.
  step memcheck 90 bash -c "for o in perturb spsa_perturb fused_adamw conv1d batch_norm; do
                              compute-sanitizer --tool memcheck --error-exitcode 9 '$bin/agf-kernels' --no-grad -o \$o
                              [ \$? -ne 9 ] || exit 9; done"
else
  echo "| memcheck | not run: compute-sanitizer is not on this machine's PATH | 0 | |" >> "$report"
fi
step bandwidth 40 "$bin/agf-gpu-bandwidth" --json "$out/bandwidth.json"
# A GPU that nvidia-smi lists but CUDA cannot start (a driver older than the packed runtime needs) would let every
# GPU test skip and look passed: that is a failure here.
if nvidia-smi -L >/dev/null 2>&1 && grep -q 'skipped:' "$logs/bandwidth.log"; then
  echo "| cuda_start | FAILED: nvidia-smi lists a GPU but CUDA did not start: $(grep -o 'skipped:.*' \
    "$logs/bandwidth.log" | head -1 | tr '|' '/') | 0 | |" >> "$report"
  failed=1
fi
step bench_cuda 50 "$bin/agf-bench" step --preset medium --mode inference,bp_lora,fusion --batch 32 --bp-batch 4 \
  --rank 16 --device cuda:0 --steps 5 --json "$out/bench_cuda.json"
if LD_LIBRARY_PATH="$orig_ld_library_path" python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1
then
  step torch_cuda 90 env LD_LIBRARY_PATH="$orig_ld_library_path" bash -c "for m in inference bp_lora fusion; do
                                python3 bench/reference/torch_step.py --preset medium --mode \$m --batch 32 \
                                  --bp-batch 4 --rank 16 --device cuda --steps 5 || exit 1; done"
else
  echo "| torch_cuda | not run: no python3 with a CUDA PyTorch on this machine | 0 | |" >> "$report"
fi
step perf_cuda 30 "$bin/agf-kernels" --perf --device cuda --seconds 0.05

{
  echo
  echo '## Bandwidth (agf-gpu-bandwidth)'
  echo
  echo '```'
  cat "$logs/bandwidth.log"
  echo '```'
  echo
  echo '## One step on the GPU: ours (agf-bench step) and PyTorch eager (torch_step.py)'
  echo
  echo '```'
  cat "$logs/bench_cuda.log"
  [ -f "$logs/torch_cuda.log" ] && cat "$logs/torch_cuda.log"
  echo '```'
} >> "$report"
echo "run: report in $report ($([ $failed -eq 0 ] && echo 'every step passed' || echo 'a step FAILED'))"
cat "$report"
exit $failed
