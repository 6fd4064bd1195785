// Per-device cuBLAS and cuDNN handles. They are never destroyed: destroying them at exit races the driver's own
// teardown, and a process has one per device.
#include "kernels/cuda/handles.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/device.h"

namespace agf::cuda {

namespace {

int current_device() {
  int index = 0;
  AGF_CUDA_CHECK(cudaGetDevice(&index));
  return index;
}

template <typename H, typename Create>
H per_device(std::vector<H>& handles, std::mutex& mu, Create create) {
  const int index = current_device();
  std::lock_guard lk(mu);
  if (handles.empty()) handles.resize(cuda_device_count(), nullptr);
  AGF_CHECK(index < static_cast<int>(handles.size()), "no CUDA device {}", index);
  if (handles[index] == nullptr) handles[index] = create();
  return handles[index];
}

std::atomic<bool> g_cublas_loaded{false};

// cublas_v2.h maps the API's names onto versioned symbols (cublasCreate -> cublasCreate_v2): the symbol to look up
// is the name after macro expansion.
#define AGF_SYMBOL_NAME_(x) #x
#define AGF_SYMBOL_NAME(x) AGF_SYMBOL_NAME_(x)

}  // namespace

const CublasApi& cublas() {
  static const CublasApi api = [] {
    const std::string soname = fmt::format("libcublas.so.{}", CUBLAS_VER_MAJOR);
    void* lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    std::string first_error = lib == nullptr ? dlerror() : "";
#ifdef AGF_CUDA_LIBDIR
    if (lib == nullptr) lib = dlopen((std::string(AGF_CUDA_LIBDIR) + "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
    AGF_CHECK(lib != nullptr, "cannot load cuBLAS ({}): {}; install the CUDA Toolkit's cuBLAS {} or put its folder on "
              "LD_LIBRARY_PATH", soname, first_error, CUBLAS_VER_MAJOR);
    CublasApi a{};
    const auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      AGF_CHECK(fn != nullptr, "{} has no symbol {}: a cuBLAS older than the {} this was built against?", soname, name,
                CUBLAS_VER_MAJOR);
    };
    bind(a.create, AGF_SYMBOL_NAME(cublasCreate));
    bind(a.set_stream, AGF_SYMBOL_NAME(cublasSetStream));
    bind(a.set_math_mode, AGF_SYMBOL_NAME(cublasSetMathMode));
    bind(a.set_workspace, AGF_SYMBOL_NAME(cublasSetWorkspace));
    bind(a.get_version, AGF_SYMBOL_NAME(cublasGetVersion));
    bind(a.status_string, AGF_SYMBOL_NAME(cublasGetStatusString));
    bind(a.status_name, AGF_SYMBOL_NAME(cublasGetStatusName));
    bind(a.sgemm, AGF_SYMBOL_NAME(cublasSgemm));
    bind(a.dgemm, AGF_SYMBOL_NAME(cublasDgemm));
    bind(a.sgemm_strided_batched, AGF_SYMBOL_NAME(cublasSgemmStridedBatched));
    bind(a.dgemm_strided_batched, AGF_SYMBOL_NAME(cublasDgemmStridedBatched));
    g_cublas_loaded.store(true);
    return a;
  }();
  return api;
}

bool cublas_loaded() { return g_cublas_loaded.load(); }

cublasHandle_t cublas_handle() {
  static std::mutex mu;
  static auto* handles = new std::vector<cublasHandle_t>();
  return per_device(*handles, mu, [] {
    cublasHandle_t h = nullptr;
    const CublasApi& api = cublas();
    AGF_CUBLAS_CHECK(api.create(&h));
    AGF_CUBLAS_CHECK(api.set_stream(h, current_stream()));
    AGF_CUBLAS_CHECK(api.set_math_mode(h, tf32_allowed() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return h;
  });
}

cudnnHandle_t cudnn_handle() {
  static std::mutex mu;
  static auto* handles = new std::vector<cudnnHandle_t>();
  return per_device(*handles, mu, [] {
    cudnnHandle_t h = nullptr;
    AGF_CUDNN_CHECK(cudnnCreate(&h));
    AGF_CUDNN_CHECK(cudnnSetStream(h, current_stream()));
    return h;
  });
}

bool tf32_allowed() {
  static const bool on = [] {
    const char* env = std::getenv("AGF_TF32");
    return env != nullptr && std::string(env) != "0" && std::string(env) != "";
  }();
  return on;
}

size_t cublas_workspace_bytes() {
  int major = 0;
  AGF_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, current_device()));
  return major >= 9 ? (size_t{32} << 20) : (size_t{4} << 20);
}

}  // namespace agf::cuda
