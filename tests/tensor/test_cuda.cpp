// The CUDA backend on a device: copies, the caching allocator and its ledger, and the shared-math kernels
// (perturbation, AdamW) agreeing with the CPU. Skipped, with the reason printed once, when no device answers.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/test_util.h"
#include "kernels/ops.h"
#include "tensor/philox.h"
#include "tensor/random.h"

using namespace agf;

TEST_CASE("CUDA discovery: a missing device is one line of reason, never a crash") {
  if (cuda_available()) {
    CHECK(cuda_unavailable_reason().empty());
    CHECK(!cuda_device_name(0).empty());
    return;
  }
  const std::string reason = cuda_unavailable_reason();
  CHECK(!reason.empty());
  CHECK(reason.find('\n') == std::string::npos);
  CHECK_THROWS_WITH_AS(require_device(Device::cuda(0)), doctest::Contains("CUDA is unavailable"), Error);
}

TEST_CASE("a process that runs only on the CPU never loads cuBLAS (150 MiB of resident memory)") {
  // cuBLAS is opened on the first GEMM on a GPU (kernels/cuda/handles.h). After CPU work, GEMMs included, no
  // libcublas or libcublasLt may be mapped into the process.
  Tensor a = empty({64, 64}), b = empty({64, 64});
  fill_normal_(a, 1, 0);
  fill_normal_(b, 2, 0);
  CHECK(ops::matmul(a, b).numel() == 64 * 64);
  if (cuda_available()) {
    MESSAGE("a GPU answers: other tests may have loaded cuBLAS, nothing to check");
    return;
  }
  std::ifstream maps("/proc/self/maps");
  REQUIRE(maps.good());
  std::stringstream text;
  text << maps.rdbuf();
  CHECK(text.str().find("libcublas") == std::string::npos);
  CHECK(text.str().find("libc.so") != std::string::npos);  // the map was read: the C library is in it
}

AGF_GPU_TEST("CUDA: host <-> device copies, strided copies and fills are exact") {
  const Device gpu = Device::cuda(0);
  Tensor h = empty({5, 7, 3});
  fill_normal_(h, 1, 0);
  Tensor d = h.to(gpu);
  CHECK(d.device() == gpu);
  CHECK(d.to(Device::cpu()).to_vector<float>() == h.to_vector<float>());
  // A transposed view copied on the device, then converted to float64 on the device.
  Tensor dt = d.transpose(0, 2).contiguous().to(DType::f64);
  CHECK(dt.to(Device::cpu()).to_vector<double>() == h.transpose(0, 2).contiguous().to(DType::f64).to_vector<double>());
  Tensor z = zeros({4, 6}, DType::f32, gpu);
  z.slice(1, 0, 6, 2).fill_(3.0);
  CHECK(z.to(Device::cpu()).to_vector<float>()[2] == 3.0f);
  CHECK(z.to(Device::cpu()).to_vector<float>()[3] == 0.0f);
}

AGF_GPU_TEST("CUDA: the caching allocator reports to the ledger exactly and reuses blocks") {
  const Device gpu = Device::cuda(0);
  MemoryLedger& L = ledger(gpu);
  const int64_t live0 = L.live_total();
  {
    MemScope s(MemTag::activations);
    Tensor a = empty({1000}, DType::f32, gpu);
    CHECK(L.live_total() - live0 == 4000);
    CHECK(L.reserved() >= L.live_total());
  }
  CHECK(L.live_total() == live0);
  const int64_t reserved = L.reserved();
  Tensor b = empty({900}, DType::f32, gpu);  // fits the cached 4096-byte block: no new reservation
  CHECK(L.reserved() == reserved);
}

AGF_GPU_TEST("CUDA: perturbation agrees with the CPU to a few ulp, and +a, -2a, +a returns within 4 ulp") {
  const int64_t n = 1 << 20 | 3;
  Tensor theta = empty({n});
  fill_normal_(theta, 2, 0, 0.0, 0.05);
  Tensor cpu = theta.clone();
  Tensor gpu = theta.to(Device::cuda(0));
  ops::perturb_(cpu, 77, 5, 1e-3);
  ops::perturb_(gpu, 77, 5, 1e-3);
  // Same Philox integers; logf/sinf/cosf may differ in the last bit between glibc and libdevice, so z does too.
  const auto on_gpu = gpu.to(Device::cpu()).to_vector<float>(), on_cpu = cpu.to_vector<float>(),
             theta0 = theta.to_vector<float>();
  int64_t far = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float s = std::max(std::fabs(theta0[i]), 1e-3f * std::fabs(philox::normal(77, 5 + i)));
    if (std::fabs(on_gpu[i] - on_cpu[i]) > 4 * (std::nextafter(s, INFINITY) - s)) ++far;
  }
  CHECK(far == 0);
  ops::perturb_(gpu, 77, 5, -2e-3);
  ops::perturb_(gpu, 77, 5, 1e-3);
  const auto back = gpu.to(Device::cpu()).to_vector<float>(), start = theta.to_vector<float>();
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float s = std::max(std::fabs(start[i]), 1e-3f * std::fabs(philox::normal(77, 5 + i)));
    const float ulp = std::nextafter(s, INFINITY) - s;
    if (std::fabs(back[i] - start[i]) > 4 * ulp) ++bad;
  }
  CHECK(bad == 0);
}

AGF_GPU_TEST("CUDA: AdamW and element-wise kernels agree with the CPU") {
  Tensor p = empty({4097}), g = empty({4097}), m = zeros({4097}), v = zeros({4097});
  fill_normal_(p, 3, 0);
  fill_normal_(g, 4, 0);
  Tensor pd = p.to(Device::cuda(0)), gd = g.to(Device::cuda(0)), md = m.to(Device::cuda(0)), vd = v.to(Device::cuda(0));
  for (int64_t step = 1; step <= 3; ++step) {
    ops::adamw_step_(p, g, m, v, {1e-2, 0.9, 0.999, 1e-8, 0.01, step});
    ops::adamw_step_(pd, gd, md, vd, {1e-2, 0.9, 0.999, 1e-8, 0.01, step});
  }
  const auto a = p.to_vector<float>(), b = pd.to(Device::cpu()).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-6));
  Tensor s = ops::sigmoid(ops::add(pd, gd)).to(Device::cpu());
  Tensor r = ops::sigmoid(ops::add(p, g));
  const auto sv = s.to_vector<float>(), rv = r.to_vector<float>();
  for (size_t i = 0; i < sv.size(); ++i) CHECK(sv[i] == doctest::Approx(rv[i]).epsilon(1e-6));
}
