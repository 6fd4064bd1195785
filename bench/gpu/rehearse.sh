#!/usr/bin/env bash
# The GPU check rehearsed on a machine without a GPU (CI runs it, as a test of suite cli), so that GPU minutes go to
# measuring: packs (bench/gpu/pack.sh), checks that each packed program finds every library in the pack or in a base
# system (nothing resolved from the rest of this machine), runs bench/gpu/run.sh in a clean environment (env -i) and
# checks its report: the CPU steps passed, and each GPU step ran up to the point where it needs a device and said so
# in one line. On a machine with a GPU it checks instead that every step passed.
#   bench/gpu/rehearse.sh            (BUILD_DIR as for ./dev; PACK_NO_BUILD=1 to use the build as it is)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "rehearsal: FAILED: $*"; exit 1; }

"$root/bench/gpu/pack.sh" "$tmp/pack"
mkdir "$tmp/unpacked"
tar -C "$tmp/unpacked" -xJf "$tmp/pack/agf-gpu.tar.xz"
[ -s "$tmp/unpacked/DEVICE_LIBS" ] || fail "the pack names no libraries for the GPU machine to provide (DEVICE_LIBS)"
for b in "$tmp/unpacked"/bin/*; do
  while read -r name path; do
    case "$name" in
      libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) ;;
      *) grep -qx "$name" "$tmp/unpacked/DEVICE_LIBS" && continue  # cuBLAS, cuDNN: the GPU machine's own
         [ "$(dirname "$path")" = "$tmp/unpacked/lib" ] || fail "$(basename "$b") loads $name from $path, not from the pack" ;;
    esac
  done < <(LD_LIBRARY_PATH="$tmp/unpacked/lib" ldd "$b" | awk '/=> / {print $1, $3}')
done

set +e
(cd "$root" && env -i PATH=/usr/bin:/bin HOME="$tmp" OUT="$tmp/out" bash bench/gpu/run.sh "$tmp/pack/agf-gpu.tar.xz") \
  > "$tmp/run.log" 2>&1
rc=$?
set -e
report="$tmp/out/gpu_check.md"
[ -f "$report" ] || { cat "$tmp/run.log"; fail "run.sh wrote no report"; }
[ "$(find "$tmp/out" -type f | wc -l)" -le 8 ] || fail "run.sh left more than the 8 files the device tool brings back"
mkdir "$tmp/logs"
tar -C "$tmp/logs" -xzf "$tmp/out/logs.tar.gz" || fail "run.sh left no logs.tar.gz"
row() { grep -E "^\| $1 \|" "$report" || fail "the report has no row for $1"; }
grep -q 'cuBLAS/cuDNN from: *:' "$report" && ! grep -q 'NOT FOUND' "$report" ||
  { cat "$report"; fail "cuBLAS or cuDNN not found the way the GPU machine will look for them"; }
for s in test_tensor test_kernels_cuda test_fusion_cuda agf-kernels; do
  row "$s" | grep -q '| ok |' || { cat "$report"; fail "step $s did not pass"; }
done
if grep -q 'skipped: ' "$tmp/logs/bandwidth.log"; then
  # No device here: the GPU steps must stop where they need one, with the reason.
  row bandwidth | grep -q 'skipped: .*CUDA' || { cat "$report"; fail "the bandwidth step gave no reason"; }
  row perf_cuda | grep -q 'CUDA is unavailable' || { cat "$report"; fail "the CUDA timing step gave no reason"; }
  row bench_cuda | grep -q 'CUDA is unavailable' || { cat "$report"; fail "the GPU step benchmark gave no reason"; }
  echo "rehearsal: ok: pack $(($(stat -c %s "$tmp/pack/agf-gpu.tar.xz") / 1048576)) MiB, every library from the pack," \
       "CPU steps passed, GPU steps stopped at the device with the reason ($(row bandwidth | cut -d'|' -f5 | cut -c2-90))"
else
  [ "$rc" -eq 0 ] || { cat "$report"; fail "a GPU device answers, and a step failed"; }
  echo "rehearsal: ok: a GPU answered and every step passed"
fi
