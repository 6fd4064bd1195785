#pragma once
// EcgNet (spec/model.md): a residual convolutional encoder (T -> T/64 tokens), a pre-norm causal transformer, max
// over tokens, and two heads. Parameter and buffer names match the published checkpoints exactly.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace agf::nn {

struct EcgNetConfig {
  std::string preset = "tinylight";
  int64_t width = 64;        // C
  int64_t layers = 1;        // L transformer layers
  int64_t n_classes = 6;
  bool aux_head = true;      // the AdaGrad-Fusion auxiliary abnormal/normal head
  int64_t leads = 12;
  int64_t heads = 16;
  int64_t pe_length = 200;   // rows of the positional-encoding buffer
  int64_t mask_length = 96;  // side of the causal-mask buffer (tokens of a 6144-sample input)
  double leaky_slope = 0.01;
  // A reduced-lead network (a distilled student): the rows of the 12-lead input it reads; the others are zeroed at the
  // top of forward(), so it runs on 12-lead data as it was trained. Empty: every lead.
  std::vector<int64_t> input_leads;
};

// tinylight, tiny, light, base, mediumv2, medium, large.
EcgNetConfig preset_config(const std::string& preset, int64_t n_classes = 6, bool aux_head = true);
std::vector<std::string> preset_names();

// Causal multi-head self-attention: c_attn (C, 3C) and c_proj (C, C) input-major, buffer `bias` = the causal mask.
class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t width, int64_t heads, int64_t mask_length);
  Tensor forward(const Tensor& x);  // (B, T, C) -> (B, T, C)
  Linear* c_attn;
  Linear* c_proj;
  Tensor mask;  // "bias": (1, 1, M, M) lower triangular
  int64_t heads;
};

class TransformerLayer : public Module {
 public:
  TransformerLayer(int64_t width, int64_t heads, int64_t mask_length, double slope);
  Tensor forward(Tensor x);
  LayerNorm* norm1;
  CausalSelfAttention* self_attention;
  LayerNorm* norm2;
  Linear* fc1;
  Linear* fc2;
  double slope;
};

// A named wrapper so that the checkpoint name is `conv1.conv.weight`.
class ConvUnit : public Module {
 public:
  ConvUnit(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding);
  Tensor forward(const Tensor& x) { return conv->forward(x); }
  Conv1d* conv;
};

class ResidualBlock : public Module {
 public:
  ResidualBlock(int64_t cin, int64_t cout, double slope);
  Tensor forward(const Tensor& x);
  ConvUnit *conv1, *conv2, *conv3;
  BatchNorm1d *bn1, *bn2;
  double slope;
};

class PositionalEncoding : public Module {
 public:
  PositionalEncoding(int64_t length, int64_t width);
  Tensor forward(const Tensor& tokens);  // tokens (B, T, C) + PE[:T]
  Tensor positional_encoding;
};

struct EcgNetOutput {
  Tensor aux_logit;    // (B, 1); undefined without the auxiliary head
  Tensor main_logits;  // (B, n_classes)
  Tensor features;     // (B, C): max over tokens
};

class EcgNet : public Module {
 public:
  explicit EcgNet(const EcgNetConfig& cfg, uint64_t seed = 0);
  // x (B, leads, T), T a multiple of 64. With `trace`, the intermediates are kept under the names the golden files
  // use: encoder_layers.<i>.out (B, C, L), tokens (B, L, C) after the positional encoding,
  // transformer_layers.<j>.out — for tests and debugging (it keeps them alive).
  EcgNetOutput forward(const Tensor& x, NamedTensors* trace = nullptr);
  // The heads on given features (the `head_grad: full` path differentiates only these).
  EcgNetOutput heads(const Tensor& features);

  // The per-sample gradient gate of spec/model.md: while set (and the auxiliary head exists), main_logits carry their
  // gradient only for samples with sigmoid(aux_logit) > positive_threshold; their forward value is unchanged. The
  // threshold is the mean class prevalence of the labelled training split, which the trainer knows, not the net.
  void set_gradient_gate(std::optional<double> positive_threshold);
  std::optional<double> gradient_gate() const { return gate_threshold_; }

  // Activation checkpointing (autograd/checkpoint.h) of each residual block and each transformer layer: a forward
  // that records a graph keeps only the segments' inputs, and the backward recomputes one segment at a time.
  // Gradients are those of the plain forward; the backward costs one more forward. No effect without grad mode.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }

  // LoRA on every conv1/conv2/conv3, the q/k/v of every c_attn, fc1, fc2, classifier.0, auxiliary_classifier.0.
  void enable_lora(const LoraConfig& cfg, uint64_t seed);
  void merge_lora();
  void unmerge_lora();
  // W + scaling * dW of every adapted layer, computed beside the network and checked finite (an error names the
  // first that is not); `commit` writes one into its layer. merge_lora commits them all; an export reads them.
  struct MergedWeight {
    std::string module;  // e.g. "encoder_layers.0.conv1.conv"; the weight is <module>.weight
    Tensor weight;
    std::function<void(const Tensor&)> commit;
  };
  std::vector<MergedWeight> merged_weights();
  bool lora_enabled() const { return lora_enabled_; }
  bool lora_merged() const;
  // Trainable set of teacher fine-tuning: LoRA A/B, all biases, classifier.1.weight, the auxiliary head.
  static std::vector<std::string> finetune_patterns();

  const EcgNetConfig& config() const { return cfg_; }
  ModuleList* encoder_layers;
  PositionalEncoding* position_encoding;
  ModuleList* transformer_layers;
  ModuleList* classifier;
  ModuleList* auxiliary_classifier;  // null without the auxiliary head

 private:
  std::vector<Conv1d*> lora_convs();
  std::vector<Linear*> lora_linears();
  EcgNetConfig cfg_;
  Tensor lead_mask_;  // (1, leads, 1): 1 on input_leads, 0 elsewhere; undefined when every lead is read
  bool lora_enabled_ = false;
  std::optional<double> gate_threshold_;
  bool checkpointing_ = false;
};

}  // namespace agf::nn
