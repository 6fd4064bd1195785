#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/error.h"

namespace agf {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

// "cpu", "cuda", "cuda:N"; anything else is an error naming the string.
Device parse_device(std::string_view s);

// Device discovery. No device, no driver, or an insufficient driver all mean "CPU only"; the reason is one line
// fit to print when a GPU test or a --device cuda run is skipped or refused.
bool cuda_available();
int cuda_device_count();
std::string cuda_unavailable_reason();  // empty when a device answers
std::string cuda_device_name(int index);
void cuda_synchronize();
// cudaMemGetInfo of a device: what the whole device has in use (every process, the CUDA context, cuBLAS and cuDNN's
// own allocations, the caching allocator's reserve) beside the ledger's figures, which count only tensors.
struct CudaMemInfo {
  int64_t free_bytes = 0, total_bytes = 0;
};
CudaMemInfo cuda_mem_info(int index);

// The time the work issued on a CUDA device's stream took between construction and seconds(), from two CUDA events
// (no host clock, no synchronisation but the wait for the second event). Only for CUDA devices.
class CudaStreamTimer {
 public:
  explicit CudaStreamTimer(int index);
  ~CudaStreamTimer();
  CudaStreamTimer(const CudaStreamTimer&) = delete;
  CudaStreamTimer& operator=(const CudaStreamTimer&) = delete;
  double seconds();  // records the end event, waits for it, returns the elapsed time

 private:
  int index_;
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};
// Throws with the reason when `d` is a CUDA device that cannot be used.
void require_device(const Device& d);

}  // namespace agf

template <> struct fmt::formatter<agf::Device> : fmt::formatter<std::string> {
  auto format(const agf::Device& d, format_context& ctx) const { return fmt::formatter<std::string>::format(d.str(), ctx); }
};
