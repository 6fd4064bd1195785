#!/usr/bin/env bash
# Builds one libFuzzer target (clang, ASan + UBSan) and runs it for SECONDS on its committed seeds.
#   tests/fuzz/run.sh TARGET SECONDS [more libFuzzer flags...]
# TARGET: checkpoint | wfdb_header | record | code15 | code15_raw. Environment: BUILD_DIR (build-fuzz),
# AGF_FUZZ_WORK (/tmp/agf_fuzz: the working corpus and crash files, kept out of the repository).
# Exits non-zero when libFuzzer reports a finding; the input is then in $AGF_FUZZ_WORK/TARGET-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${1:?usage: tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags]}
seconds=${2:?usage: tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags]}
shift 2
build=${BUILD_DIR:-build-fuzz}
work=${AGF_FUZZ_WORK:-/tmp/agf_fuzz}

case "$target" in
  checkpoint)  max_len=65536 ;;
  wfdb_header) max_len=8192 ;;
  record)      max_len=65536 ;;
  code15)      max_len=16384 ;;
  code15_raw)  max_len=65536 ;;
  *) echo "run.sh: unknown target '$target' (checkpoint, wfdb_header, record, code15, code15_raw)" >&2; exit 2 ;;
esac
seeds=tests/fuzz/corpus/$target
dict=tests/fuzz/$target.dict
[[ $target == code15_raw ]] && dict=tests/fuzz/code15.dict

if [[ ! -d $build ]]; then
  CXX=clang++ CC=clang meson setup "$build" -Dcuda=disabled -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C "$build" "tests/fuzz/fuzz_$target"

mkdir -p "$work/$target" "$work/$target-artifacts"
# The readers take paths: their scratch files go to tmpfs when there is one.
[[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=/dev/shm
# UBSan only prints by default; halting makes its report a finding that libFuzzer saves.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Raw HDF5 bytes reach libhdf5's own error paths, which leak (hdf5.lsan.supp says which and why), and sizes read
# from damaged metadata that libhdf5 passes to malloc: past ASan's limit (1 TiB) malloc then returns null, as glibc's
# would, and libhdf5 reports the error instead of ASan ending the run.
if [[ $target == code15_raw ]]; then
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/hdf5.lsan.supp}
  export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}
fi
cmd=("$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=$max_len -timeout=10 -print_final_stats=1
     -artifact_prefix="$work/$target-artifacts/" -dict="$dict" "$@" "$work/$target" "$seeds")
echo "+ ${cmd[*]}" >&2
exec "${cmd[@]}"
