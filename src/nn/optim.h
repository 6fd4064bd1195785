#pragma once
// Optimisers over a module's trainable parameters, and learning-rate schedules.
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "kernels/ops.h"
#include "nn/module.h"

namespace agf::nn {

using ParamList = std::vector<std::pair<std::string, Tensor*>>;

// AdamW with decoupled weight decay (PyTorch's torch.optim.AdamW). Moments live under MemTag::optimizer and are
// created on the first step of each parameter; like torch, each parameter counts its own steps (a parameter that
// first gets a gradient at the third step is bias-corrected as at its first).
class AdamW {
 public:
  struct Options {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  };
  AdamW(ParamList params, Options opt);
  AdamW(ParamList params) : AdamW(std::move(params), Options{}) {}
  // One update with the gradients in each parameter's .grad (a parameter without a gradient is skipped).
  void step(double lr);
  // The same update with an explicit gradient per parameter.
  void step_with(const std::vector<Tensor>& grads, double lr);

  // For an update the optimizer does not compute itself (the fused AdaGrad-Fusion kernel, which forms the gradient
  // element by element): begin_step() counts one step; then prepare(i, lr) hands parameter i's moments (created at
  // its first update) and the arguments of its next AdamW step (its own step count advanced).
  struct Slot {
    Tensor m, v;
    ops::AdamWArgs args;
  };
  void begin_step() { ++step_; }
  Slot prepare(size_t i, double lr);
  int64_t steps() const { return step_; }  // calls of step/step_with
  const ParamList& params() const { return params_; }
  // Per parameter: "<name>.exp_avg", "<name>.exp_avg_sq" and "<name>.step" (i64 scalar), for checkpoints.
  NamedTensors state();
  // Restores what state() saved; `steps` is the number of step calls made so far.
  void load_state(const NamedTensors& state, int64_t steps);

 private:
  ParamList params_;
  Options opt_;
  std::vector<Tensor> m_, v_;
  std::vector<int64_t> param_steps_;
  int64_t step_ = 0;
};

// SGD with momentum (PyTorch semantics: buf = momentum * buf + g; p -= lr * buf), optional L2 weight decay.
class SGD {
 public:
  SGD(ParamList params, double momentum = 0.9, double weight_decay = 0.0);
  void step(double lr);
  NamedTensors state();

 private:
  ParamList params_;
  double momentum_, weight_decay_;
  std::vector<Tensor> buf_;
};

// lr(step) for step = 0 .. total-1.
class LRSchedule {
 public:
  enum class Kind { constant, warmup_linear, cosine };
  // warmup_linear: linear warm-up over warmup_fraction of the planned steps, then linear decay to 0 (the reference's
  // schedule); cosine: the same warm-up, then half a cosine to 0.
  LRSchedule(Kind kind, double base_lr, int64_t total_steps, double warmup_fraction = 0.01);
  static Kind parse(const std::string& name);
  double at(int64_t step) const;

 private:
  Kind kind_;
  double base_;
  int64_t total_, warmup_;
};

}  // namespace agf::nn
