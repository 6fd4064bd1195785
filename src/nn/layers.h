#pragma once
// The layers of EcgNet. Conv1d and Linear can carry LoRA adapters (spec/model.md "LoRA").
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/module.h"

namespace agf::nn {

enum class LoraInit {
  normal,           // A ~ N(0, 0.02): conv and linear adapters
  kaiming_uniform,  // A ~ U(-1/sqrt(in), 1/sqrt(in)), kaiming-uniform with a = sqrt(5): the q/k/v adapters of c_attn
};

struct LoraConfig {
  int64_t rank = 16;
  double alpha = 16.0;  // scaling = alpha / rank (1 by default)
  double scaling() const { return alpha / static_cast<double>(rank); }
};

// The adapter pairs of one layer: chunk j adapts output rows [j*out/n, (j+1)*out/n). Names "lora_A"/"lora_B" for
// one chunk, "lora_A.q"/"lora_B.q" ... for named chunks.
struct LoraState {
  bool enabled = false;
  bool merged = false;
  double scaling = 1.0;
  std::vector<std::string> chunk_names;
  std::vector<Tensor> A, B;  // A_j (r, in), B_j (out_j, r); registered as parameters
};

// True when every element is finite (a merge is refused otherwise).
bool all_finite(const Tensor& t);

// A layer whose weight can carry LoRA adapters (Conv1d, Linear): the merge/unmerge bookkeeping, written once. A
// subclass says how its adapters form delta W in the layout of its weight.
class LoraLayer : public Module {
 public:
  const LoraState& lora() const { return lora_; }
  virtual Tensor delta_weight() = 0;  // scaling * dW in the layout of `weight`
  Tensor merged_weight();             // W + scaling * dW, computed, not applied (to check a model before merging)
  void commit_merge(const Tensor& merged);
  void merge_lora();    // W += scaling * dW; refused when the result is not finite
  void unmerge_lora();  // W -= scaling * dW

  Tensor weight, bias;

 protected:
  explicit LoraLayer(const char* kind) : kind_(kind) {}
  LoraState lora_;
  const char* kind_;  // "Conv1d" / "Linear", for messages
};

// 1-D convolution; weight (Cout, Cin, K), bias (Cout).
class Conv1d : public LoraLayer {
 public:
  Conv1d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, bool bias = true);
  Tensor forward(const Tensor& x);

  // Adds A (r, Cin*K) ~ N(0, 0.02) and B (Cout, r) = 0; delta W = (B A) reshaped (Cout, Cin, K). The adapted
  // forward runs as two convolutions (A as an r-channel conv, then B as a 1x1 conv), never materialising W + dW.
  void enable_lora(const LoraConfig& cfg, uint64_t seed);
  Tensor delta_weight() override;  // (Cout, Cin, K)

  int64_t cin, cout, k;
  ops::Conv1dArgs args;

 protected:
  void reset_parameters(uint64_t seed) override;
};

// y = x W^T + b with W (out, in), or y = x W + b with an input-major W (in, out) (GPT-2's Conv1D, the layout of
// c_attn and c_proj in the checkpoints).
class Linear : public LoraLayer {
 public:
  Linear(int64_t in, int64_t out, bool bias = true, bool input_major = false);
  Tensor forward(const Tensor& x);

  // chunk_names empty: one adapter pair "lora_A"/"lora_B"; else one pair per equal output chunk (c_attn: q, k, v).
  void enable_lora(const LoraConfig& cfg, uint64_t seed, LoraInit init = LoraInit::normal,
                   const std::vector<std::string>& chunk_names = {});
  Tensor delta_weight() override;

  int64_t in, out;
  bool input_major;

 protected:
  void reset_parameters(uint64_t seed) override;
};

class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  // Training mode: batch statistics, running statistics updated; eval mode: running statistics.
  Tensor forward(const Tensor& x);
  // leaky_relu(forward(x), slope). Without a graph to record, x (which the caller hands over) is normalised and
  // activated in place in one pass (ops::batch_norm_leaky_): no second map, one read and one write; bit for bit the
  // same values.
  Tensor forward_leaky_owned(Tensor x, double slope);
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;

 protected:
  void reset_parameters(uint64_t seed) override;

 private:
  // num_batches_tracked + 1. On a GPU, reading the counter would wait for every kernel queued before it (a device
  // sync per layer per training forward), so its value is kept here too and written with an asynchronous fill; it
  // is read again only when the buffer changed behind this layer's back (another storage, or a version bump: loaded,
  // moved, written in place).
  void count_batch();
  int64_t tracked_ = 0;
  std::weak_ptr<Storage> tracked_storage_;
  uint64_t tracked_version_ = 0;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x);
  Tensor weight, bias;
  double eps;

 protected:
  void reset_parameters(uint64_t seed) override;
};

// Modules whose children are named "0", "1", ... (PyTorch's Sequential/ModuleList naming) and nothing else.
class ModuleList : public Module {
 public:
  template <typename M>
  M* add(std::unique_ptr<M> m) {
    return register_module(std::to_string(count_++), std::move(m));
  }
  // Reserves an index for a parameter-free module (an activation in a Sequential), keeping PyTorch's numbering.
  void skip_index() { ++count_; }

 private:
  int count_ = 0;
};

}  // namespace agf::nn
