#include "pipeline/inference_probe.h"

#include <algorithm>
#include <chrono>

#include "ecg/leads.h"
#include "fusion/model_io.h"
#include "tensor/ledger.h"
#include "tensor/random.h"

namespace agf::pipeline {

nlohmann::json probe_inference(const std::filesystem::path& checkpoint, int64_t length, int64_t batch,
                               int64_t repeats) {
  MemoryLedger& L = ledger(Device::cpu());
  const int64_t params_before = L.live(MemTag::params);
  fusion::FrozenNetwork f = fusion::load_frozen_network(checkpoint);
  nn::EcgNet& net = *f.net;
  const int64_t param_bytes = L.live(MemTag::params) - params_before;
  NoGradGuard no_grad;
  MemScope scope(MemTag::activations);
  Tensor x = zeros({batch, net.config().leads, length});
  fill_normal_(x, /*seed=*/7, /*offset=*/0);
  const int64_t before = L.live_total();
  using Clock = std::chrono::steady_clock;
  net.forward(x);  // warm-up: the allocator's cache and the BLAS threads
  std::vector<double> ms;
  int64_t peak = 0;
  for (int64_t i = 0; i < repeats; ++i) {
    L.reset_peak();
    const auto t0 = Clock::now();
    nn::EcgNetOutput out = net.forward(x);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    peak = std::max(peak, L.peak_total());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  return {{"checkpoint", checkpoint.string()},
          {"preset", net.config().preset},
          {"input_leads", ecg::lead_mask_name(net.config().input_leads)},
          {"parameters", net.num_parameters()},
          {"param_bytes", param_bytes},
          {"batch", batch},
          {"length", length},
          {"median_ms", median},
          {"min_ms", ms.front()},
          {"ms_per_record", median / static_cast<double>(batch)},
          {"peak_bytes", peak},
          {"activation_peak_bytes", peak - before}};
}

}  // namespace agf::pipeline
