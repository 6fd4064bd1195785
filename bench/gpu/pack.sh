#!/usr/bin/env bash
# Packs the one-call GPU check: the GPU test suites, the kernel harness, the bandwidth benchmark, agf-bench and
# agf-profile, built here for sm_80 and sm_90 (./dev build), with every shared library they load that is not part of a
# base system (OpenBLAS, oneDNN, fmt, cudart, libgomp, ...): the GPU machine is bare, has no network, and none of our
# Debian packages. cuBLAS and cuDNN are the exception: together over 1 GB, far past the transfer limit, and the GPU
# machine's PyTorch brings both (its nvidia-cublas and nvidia-cudnn-cu13 wheels, the same sonames: libcublas.so.13,
# libcudnn.so.9), so run.sh finds them there; DEVICE_LIBS in the pack names what it must find (cuBLAS by the version
# the build compiled against: the engine opens it at run time, so ldd does not show it).
#   bench/gpu/pack.sh [PACK_DIR]          (default gpu-pack/, git-ignored; BUILD_DIR as for ./dev; builds first)
# Writes PACK_DIR/agf-gpu.tar.xz and says its size, which must stay under the device tool's 64 MiB transfer limit
# together with the working tree. Then, on the device: bash bench/gpu/run.sh gpu-pack/agf-gpu.tar.xz (carry gpu-pack).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
pack=${1:-$root/gpu-pack}
# PACK_NO_BUILD=1 (the rehearsal under meson test): the build is there already.
[ -n "${PACK_NO_BUILD:-}" ] || BUILD_DIR=$build "$root/dev" build >/dev/null
[ -x "$build/bench/gpu/agf-gpu-bandwidth" ] ||
  { echo "pack: $build has no CUDA backend (nvcc not found at configure time): nothing to run on a GPU"; exit 1; }

bins=(tests/test_tensor tests/test_kernels tests/fusion/test_fusion tests/agf-kernels bench/gpu/agf-gpu-bandwidth
      apps/agf-bench apps/agf-profile)
device_libs='^(libcublas|libcublasLt|libcudnn[a-z_]*)\.so'  # from the GPU machine's PyTorch wheels
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for b in "${bins[@]}"; do
  cp "$build/$b" "$stage/bin/"
  # Every library the loader resolves, except glibc's own and the C++ runtime, which any x86-64 Linux has (newer
  # ones load older binaries). A library the loader cannot find here is an error: it would be missing there too.
  if ldd "$build/$b" | grep -q 'not found'; then ldd "$build/$b" | grep 'not found'; exit 1; fi
  ldd "$build/$b" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) ;;
      *) if [[ "$(basename "$lib")" =~ $device_libs ]]; then basename "$lib" >> "$stage/DEVICE_LIBS"
         else cp -Ln "$lib" "$stage/lib/"; fi ;;
    esac
  done
done
# cuBLAS is opened at run time (dlopen, src/kernels/cuda/handles.h), so ldd does not list it: name it by the major
# version the build compiled against (libcublasLt comes with it).
cuda_home=${CUDA_HOME:-/usr/local/cuda}
cublas_major=$(awk '/#define CUBLAS_VER_MAJOR/ {print $3}' "$cuda_home/include/cublas_api.h")
[ -n "$cublas_major" ] || { echo "pack: no CUBLAS_VER_MAJOR in $cuda_home/include/cublas_api.h"; exit 1; }
printf 'libcublas.so.%s\nlibcublasLt.so.%s\n' "$cublas_major" "$cublas_major" >> "$stage/DEVICE_LIBS"
sort -u -o "$stage/DEVICE_LIBS" "$stage/DEVICE_LIBS"
git -C "$root" rev-parse --short HEAD > "$stage/COMMIT" 2>/dev/null || echo unknown > "$stage/COMMIT"
mkdir -p "$pack"
XZ_OPT=-T0 tar -C "$stage" -cJf "$pack/agf-gpu.tar.xz" .
size=$(stat -c %s "$pack/agf-gpu.tar.xz")
echo "pack: $pack/agf-gpu.tar.xz, $((size / 1048576)) MiB ($(ls "$stage/bin" | wc -l) programs, $(ls "$stage/lib" | wc -l) libraries, commit $(cat "$stage/COMMIT"))"
[ "$size" -lt $((48 * 1048576)) ] || { echo "pack: over 48 MiB, too close to the 64 MiB transfer limit"; exit 1; }
