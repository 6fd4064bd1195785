#include "nn/ecgnet.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "autograd/checkpoint.h"
#include "nn/losses.h"
#include "tensor/nvtx.h"

namespace agf::nn {

namespace {
// The one preset table (spec/model.md "Presets"): width C and transformer layers L.
struct Preset {
  const char* name;
  int64_t width, layers;
};
constexpr Preset kPresets[] = {{"tinylight", 64, 1}, {"tiny", 128, 4},     {"light", 128, 8},  {"base", 256, 8},
                               {"mediumv2", 512, 8}, {"medium", 512, 12}, {"large", 768, 12}};
}  // namespace

EcgNetConfig preset_config(const std::string& preset, int64_t n_classes, bool aux_head) {
  for (const auto& p : kPresets) {
    if (preset != p.name) continue;
    EcgNetConfig c;
    c.preset = preset;
    c.width = p.width;
    c.layers = p.layers;
    c.n_classes = n_classes;
    c.aux_head = aux_head;
    return c;
  }
  AGF_FAIL("unknown EcgNet preset '{}' (known: {})", preset, fmt::join(preset_names(), ", "));
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.emplace_back(p.name);
  return names;
}

// ------------------------------------------------------------------------------------------------ attention
CausalSelfAttention::CausalSelfAttention(int64_t width, int64_t heads_, int64_t mask_length) : heads(heads_) {
  AGF_CHECK(width % heads == 0, "attention: width {} is not a multiple of {} heads", width, heads);
  c_attn = register_module("c_attn", std::make_unique<Linear>(width, 3 * width, true, /*input_major=*/true));
  c_proj = register_module("c_proj", std::make_unique<Linear>(width, width, true, /*input_major=*/true));
  mask = param_tensor({1, 1, mask_length, mask_length});
  float* m = mask.data<float>();
  for (int64_t i = 0; i < mask_length; ++i)
    for (int64_t j = 0; j <= i; ++j) m[i * mask_length + j] = 1.0f;
  register_buffer("bias", &mask);
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), d = C / heads;
  AGF_CHECK(T <= mask.size(-1), "attention: {} tokens but the causal mask covers {}", T, mask.size(-1));
  Tensor qkv = c_attn->forward(x);  // (B, T, 3C)
  auto head_view = [&](int64_t part) {
    return ag::permute(ag::reshape(ag::narrow(qkv, 2, part * C, C), {B, T, heads, d}), {0, 2, 1, 3});  // (B,H,T,d)
  };
  Tensor q = head_view(0), k = head_view(1), v = head_view(2);
  qkv = Tensor();
  Tensor scores = ag::scale(ag::matmul(q, k, false, true), 1.0 / std::sqrt(static_cast<double>(d)));
  q = Tensor();
  k = Tensor();
  Tensor p = ag::softmax(scores, /*causal=*/true);
  scores = Tensor();
  Tensor o = ag::matmul(p, v);  // (B, H, T, d)
  p = Tensor();
  o = ag::reshape(ag::permute(o, {0, 2, 1, 3}), {B, T, C});
  return c_proj->forward(o);
}

TransformerLayer::TransformerLayer(int64_t width, int64_t heads, int64_t mask_length, double slope_) : slope(slope_) {
  norm1 = register_module("norm1", std::make_unique<LayerNorm>(width));
  self_attention = register_module("self_attention", std::make_unique<CausalSelfAttention>(width, heads, mask_length));
  norm2 = register_module("norm2", std::make_unique<LayerNorm>(width));
  fc1 = register_module("fc1", std::make_unique<Linear>(width, 4 * width));
  fc2 = register_module("fc2", std::make_unique<Linear>(4 * width, width));
}

Tensor TransformerLayer::forward(Tensor x) {
  // Statements, not nested calls: each intermediate is released as soon as the next one exists.
  Tensor h = norm1->forward(x);
  h = self_attention->forward(h);
  x = ag::add(x, h);
  h = norm2->forward(x);
  h = fc1->forward(h);
  h = ag::leaky_relu_owned(std::move(h), slope);
  h = fc2->forward(h);
  return ag::add_owned(std::move(h), x);
}

// ------------------------------------------------------------------------------------------------ encoder
ConvUnit::ConvUnit(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding) {
  conv = register_module("conv", std::make_unique<Conv1d>(cin, cout, k, stride, padding));
}

ResidualBlock::ResidualBlock(int64_t cin, int64_t cout, double slope_) : slope(slope_) {
  conv1 = register_module("conv1", std::make_unique<ConvUnit>(cin, cout, 9, 4, 4));
  bn1 = register_module("bn1", std::make_unique<BatchNorm1d>(cout));
  conv2 = register_module("conv2", std::make_unique<ConvUnit>(cout, cout, 9, 1, 4));
  bn2 = register_module("bn2", std::make_unique<BatchNorm1d>(cout));
  conv3 = register_module("conv3", std::make_unique<ConvUnit>(cin, cout, 1, 1, 0));
}

Tensor ResidualBlock::forward(const Tensor& x) {
  // The main path first, the skip last: the skip's output is as large as the main path's maps, and made last it
  // lives only for the final add, so a forward without a graph holds two such maps at a time, not three.
  Tensor h = bn1->forward_leaky_owned(conv1->forward(x), slope);
  h = bn2->forward_leaky_owned(conv2->forward(h), slope);
  Tensor skip = ag::avg_pool1d(x, 4, 4);
  skip = conv3->forward(skip);
  return ag::add_owned(std::move(h), skip);
}

PositionalEncoding::PositionalEncoding(int64_t length, int64_t width) {
  positional_encoding = param_tensor({length, width});
  float* pe = positional_encoding.data<float>();
  for (int64_t p = 0; p < length; ++p)
    for (int64_t i = 0; 2 * i < width; ++i) {
      const double angle = static_cast<double>(p) / std::pow(10000.0, 2.0 * i / static_cast<double>(width));
      pe[p * width + 2 * i] = static_cast<float>(std::sin(angle));
      if (2 * i + 1 < width) pe[p * width + 2 * i + 1] = static_cast<float>(std::cos(angle));
    }
  register_buffer("positional_encoding", &positional_encoding);
}

Tensor PositionalEncoding::forward(const Tensor& tokens) {
  const int64_t T = tokens.size(1);
  AGF_CHECK(T <= positional_encoding.size(0), "positional encoding: {} tokens but {} positions", T,
            positional_encoding.size(0));
  return ag::add(tokens, positional_encoding.narrow(0, 0, T));
}

// ------------------------------------------------------------------------------------------------ EcgNet
EcgNet::EcgNet(const EcgNetConfig& cfg, uint64_t seed) : cfg_(cfg) {
  AGF_CHECK(cfg.width > 0 && cfg.layers > 0 && cfg.n_classes > 0, "EcgNet: bad config (width {}, layers {}, classes {})",
            cfg.width, cfg.layers, cfg.n_classes);
  encoder_layers = register_module("encoder_layers", std::make_unique<ModuleList>());
  for (int i = 0; i < 3; ++i)
    encoder_layers->add(std::make_unique<ResidualBlock>(i == 0 ? cfg.leads : cfg.width, cfg.width, cfg.leaky_slope));
  position_encoding = register_module("position_encoding", std::make_unique<PositionalEncoding>(cfg.pe_length, cfg.width));
  transformer_layers = register_module("transformer_layers", std::make_unique<ModuleList>());
  for (int64_t j = 0; j < cfg.layers; ++j)
    transformer_layers->add(std::make_unique<TransformerLayer>(cfg.width, cfg.heads, cfg.mask_length, cfg.leaky_slope));
  classifier = register_module("classifier", std::make_unique<ModuleList>());
  classifier->add(std::make_unique<Linear>(cfg.width, cfg.width));
  classifier->add(std::make_unique<Linear>(cfg.width, cfg.n_classes));
  auxiliary_classifier = nullptr;
  if (cfg.aux_head) {
    auxiliary_classifier = register_module("auxiliary_classifier", std::make_unique<ModuleList>());
    auxiliary_classifier->add(std::make_unique<Linear>(cfg.width, cfg.width / 2));
    auxiliary_classifier->skip_index();  // index 1 is the LeakyReLU
    auxiliary_classifier->add(std::make_unique<Linear>(cfg.width / 2, 1));
  }
  init_parameters(seed);
  if (!cfg.input_leads.empty()) {
    lead_mask_ = zeros({1, cfg.leads, 1}, DType::f32, Device::cpu());
    for (int64_t lead : cfg.input_leads) {
      AGF_CHECK(lead >= 0 && lead < cfg.leads, "EcgNet: input lead {} outside 0..{}", lead, cfg.leads - 1);
      lead_mask_.data<float>()[lead] = 1.0f;
    }
  }
}

namespace {
template <typename M>
M* typed_child(Module* list, int index) {
  return static_cast<M*>(list->child(std::to_string(index)));
}

// One segment of the forward: the layer itself, or (checkpointing) its recomputed stand-in.
template <typename M>
Tensor run_segment(M* layer, const Tensor& x, bool checkpointed, const char* name) {
  if (!checkpointed) return layer->forward(x);
  std::vector<const Tensor*> params;
  for (auto& [_, p] : layer->named_parameters()) params.push_back(p);
  return checkpoint(name, [layer](const Tensor& in) { return layer->forward(in); }, x, params);
}
}  // namespace

EcgNetOutput EcgNet::forward(const Tensor& x, NamedTensors* trace) {
  AGF_CHECK(x.dim() == 3 && x.size(1) == cfg_.leads && x.size(2) % 64 == 0 && x.size(2) > 0,
            "EcgNet: input {} must be (B, {}, T) with T a positive multiple of 64", x.describe(), cfg_.leads);
  Tensor h = x;
  if (lead_mask_.defined()) {
    if (lead_mask_.device() != x.device()) lead_mask_ = lead_mask_.to(x.device());
    h = ag::mul(x, lead_mask_);
  }
  // NVTX ranges per layer (forward): nested inside the step's phase ranges, around the per-op ranges of the CUDA
  // launchers, so a timeline reads phase > layer > kernel.
  // A traced forward keeps every intermediate anyway: nothing to gain from recomputing.
  const bool checkpointed = checkpointing_ && trace == nullptr && grad_enabled();
  static constexpr const char* kEncoderRanges[] = {"encoder_layers.0", "encoder_layers.1", "encoder_layers.2"};
  for (int i = 0; i < 3; ++i) {
    NvtxRange range(kEncoderRanges[i]);
    h = run_segment(typed_child<ResidualBlock>(encoder_layers, i), h, checkpointed, "checkpoint(residual_block)");
    if (trace) trace->emplace_back(fmt::format("encoder_layers.{}.out", i), h);
  }
  h = ag::permute(h, {0, 2, 1});  // (B, tokens, C)
  h = position_encoding->forward(h);
  if (trace) trace->emplace_back("tokens", h);
  for (int64_t j = 0; j < cfg_.layers; ++j) {
    NvtxRange range("transformer_layer");
    h = run_segment(typed_child<TransformerLayer>(transformer_layers, j), h, checkpointed,
                    "checkpoint(transformer_layer)");
    if (trace) trace->emplace_back(fmt::format("transformer_layers.{}.out", j), h);
  }
  Tensor features = ag::max(h, 1);
  h = Tensor();
  return heads(features);
}

EcgNetOutput EcgNet::heads(const Tensor& features) {
  NvtxRange range("heads");
  EcgNetOutput out;
  out.features = features;
  Tensor c = typed_child<Linear>(classifier, 0)->forward(features);
  out.main_logits = typed_child<Linear>(classifier, 1)->forward(c);
  if (auxiliary_classifier) {
    Tensor a = typed_child<Linear>(auxiliary_classifier, 0)->forward(features);
    a = ag::leaky_relu(a, cfg_.leaky_slope);
    out.aux_logit = typed_child<Linear>(auxiliary_classifier, 2)->forward(a);
    if (gate_threshold_) out.main_logits = gate_main_logits(out.main_logits, out.aux_logit, *gate_threshold_);
  }
  return out;
}

void EcgNet::set_gradient_gate(std::optional<double> positive_threshold) {
  AGF_CHECK(!positive_threshold || cfg_.aux_head, "EcgNet: the gradient gate needs the auxiliary head (aux_head)");
  AGF_CHECK(!positive_threshold || (*positive_threshold >= 0 && *positive_threshold < 1),
            "EcgNet: gradient-gate threshold {} is not in [0, 1) (a probability the aux head's sigmoid must exceed)",
            positive_threshold.value_or(0));
  gate_threshold_ = positive_threshold;
}

std::vector<Conv1d*> EcgNet::lora_convs() {
  std::vector<Conv1d*> v;
  for (int i = 0; i < 3; ++i) {
    auto* b = typed_child<ResidualBlock>(encoder_layers, i);
    for (ConvUnit* u : {b->conv1, b->conv2, b->conv3}) v.push_back(u->conv);
  }
  return v;
}

std::vector<Linear*> EcgNet::lora_linears() {
  std::vector<Linear*> v;
  for (int64_t j = 0; j < cfg_.layers; ++j) {
    auto* t = typed_child<TransformerLayer>(transformer_layers, j);
    v.push_back(t->fc1);
    v.push_back(t->fc2);
  }
  v.push_back(typed_child<Linear>(classifier, 0));
  if (auxiliary_classifier) v.push_back(typed_child<Linear>(auxiliary_classifier, 0));
  return v;
}

void EcgNet::enable_lora(const LoraConfig& cfg, uint64_t seed) {
  AGF_CHECK(!lora_enabled_, "EcgNet: LoRA already enabled");
  const std::vector<Linear*> listed_linears = lora_linears();
  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<Conv1d*>(m)) {
      conv->enable_lora(cfg, name_key(seed, name));
    } else if (auto* lin = dynamic_cast<Linear*>(m)) {
      const bool is_attn = name.size() >= 6 && name.compare(name.size() - 6, 6, "c_attn") == 0;
      const bool listed = std::find(listed_linears.begin(), listed_linears.end(), lin) != listed_linears.end();
      if (is_attn)
        lin->enable_lora(cfg, name_key(seed, name), LoraInit::kaiming_uniform, {"q", "k", "v"});
      else if (listed)
        lin->enable_lora(cfg, name_key(seed, name));
    }
  }
  lora_enabled_ = true;
}

std::vector<EcgNet::MergedWeight> EcgNet::merged_weights() {
  AGF_CHECK(lora_enabled_ && !lora_merged(), "EcgNet: merging needs unmerged LoRA adapters");
  std::vector<MergedWeight> out;
  for (auto& [name, m] : named_modules()) {
    auto* layer = dynamic_cast<LoraLayer*>(m);
    if (!layer || !layer->lora().enabled) continue;
    MergedWeight w{name, layer->merged_weight(), [layer](const Tensor& t) { layer->commit_merge(t); }};
    AGF_CHECK(all_finite(w.weight), "EcgNet: merging the LoRA adapters of '{}' would make its weight non-finite; "
              "nothing was merged", name);
    out.push_back(std::move(w));
  }
  return out;
}

void EcgNet::merge_lora() {
  // All merged weights are computed and checked before any is written: a refused merge changes nothing.
  for (auto& w : merged_weights()) w.commit(w.weight);
}

void EcgNet::unmerge_lora() {
  AGF_CHECK(lora_enabled_ && lora_merged(), "EcgNet: unmerge_lora needs merged LoRA adapters");
  for (auto& [name, m] : named_modules())
    if (auto* layer = dynamic_cast<LoraLayer*>(m); layer && layer->lora().enabled) layer->unmerge_lora();
}

bool EcgNet::lora_merged() const {
  if (!lora_enabled_) return false;
  return typed_child<ResidualBlock>(encoder_layers, 0)->conv1->conv->lora().merged;
}

std::vector<std::string> EcgNet::finetune_patterns() {
  return {"*.lora_A", "*.lora_A.*", "*.lora_B", "*.lora_B.*", "*.bias", "classifier.1.weight",
          "auxiliary_classifier.*"};
}

}  // namespace agf::nn
