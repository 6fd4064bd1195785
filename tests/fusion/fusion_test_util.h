#pragma once
// A small network and batch for the fusion suites: tinylight (C = 64, one transformer layer) on 256-sample inputs
// (4 tokens), 3 classes with NSR as class 0, an auxiliary head, LoRA of rank 4 or every parameter trainable.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "fusion/step.h"
#include "nn/losses.h"
#include "tensor/random.h"

namespace agf::fusion::test {

struct TinySetup {
  std::unique_ptr<nn::EcgNet> net;
  std::unique_ptr<nn::AdamW> opt;
  Tensor x, y;
  int64_t normal_class = 0;

  // leaky_slope 1 makes the activations linear: the network without its kinks (for finite-difference checks).
  // width < 64: a narrower tinylight (4 heads), a small model in parameter count too.
  TinySetup(DType dtype, bool lora, int64_t batch = 6, int64_t length = 256, double leaky_slope = 0.01,
            int64_t width = 64) {
    nn::EcgNetConfig cfg = nn::preset_config("tinylight", 3, true);
    cfg.leaky_slope = leaky_slope;
    if (width != cfg.width) {
      cfg.width = width;
      cfg.heads = 4;
    }
    net = std::make_unique<nn::EcgNet>(cfg, 17);
    if (lora) {
      net->enable_lora({4, 4.0}, 23);
      // B = 0 at creation makes every A's gradient 0: give the adapters a fine-tuned look so all of them move.
      for (auto& [name, t] : net->named_parameters())
        if (name.find("lora_B") != std::string::npos) fill_normal_(*t, nn::name_key(29, name), 0, 0.0, 0.02);
      net->set_trainable(nn::EcgNet::finetune_patterns());
    } else {
      net->set_trainable({"*"});
    }
    if (dtype == DType::f64) net->to(DType::f64);
    opt = std::make_unique<nn::AdamW>(net->trainable_parameters());
    x = empty({batch, 12, length}, dtype);
    fill_normal_(x, 31, 0);
    std::vector<float> labels(static_cast<size_t>(batch * 3), 0.0f);
    for (int64_t b = 0; b < batch; ++b) labels[static_cast<size_t>(b * 3 + b % 3)] = 1.0f;  // NSR, A, B in turn
    labels[4] = 1.0f;  // record 1 carries two abnormal classes
    y = from_vector(labels, {batch, 3}).to(dtype);
  }

  StepOptions options(Mode m) const {
    StepOptions o;
    o.mode = m;
    o.bp_batch = 2;
    o.normal_class = normal_class;
    return o;
  }

  std::vector<Tensor> trainable_copy() {
    std::vector<Tensor> out;
    for (auto& [n, t] : net->trainable_parameters()) out.push_back(t->clone());
    return out;
  }

  // (||theta - start||, ||start||) over the trainable tensors, in double.
  std::pair<double, double> distance_from(const std::vector<Tensor>& start) {
    double d = 0.0, r = 0.0;
    size_t k = 0;
    for (auto& [n, t] : net->trainable_parameters()) {
      const std::vector<double> now = t->to_vector<double>(), was = start[k++].to_vector<double>();
      for (size_t i = 0; i < now.size(); ++i) {
        d += (now[i] - was[i]) * (now[i] - was[i]);
        r += was[i] * was[i];
      }
    }
    return {std::sqrt(d), std::sqrt(r)};
  }

  // Every parameter and buffer equal byte for byte.
  bool bitwise_equal(const TinySetup& other) const {
    auto a = net->state_dict(), b = other.net->state_dict();
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      const Tensor ta = a[i].second.contiguous(), tb = b[i].second.contiguous();
      if (a[i].first != b[i].first || ta.nbytes() != tb.nbytes() ||
          std::memcmp(ta.raw_data(), tb.raw_data(), ta.nbytes()) != 0)
        return false;
    }
    return true;
  }
};

}  // namespace agf::fusion::test
