#include "nn/layers.h"

#include <cmath>

#include "autograd/checkpoint.h"
#include "tensor/random.h"

namespace agf::nn {

namespace {

// PyTorch's default for Conv/Linear: kaiming-uniform with a = sqrt(5) on the weight, i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and the same bound for the bias.
void kaiming_uniform_default(Tensor& w, Tensor& b, int64_t fan_in, uint64_t seed) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  fill_uniform_(w, name_key(seed, "weight"), 0, -bound, bound);
  if (b.defined()) fill_uniform_(b, name_key(seed, "bias"), 0, -bound, bound);
}


// Registers the adapter pairs: names "lora_A"/"lora_B", or "lora_A.<chunk>"/"lora_B.<chunk>".
void init_lora_state(LoraState& st, const LoraConfig& cfg, const std::vector<std::string>& chunks, int64_t in,
                     int64_t out_per_chunk) {
  AGF_CHECK(cfg.rank > 0, "LoRA rank must be positive, got {}", cfg.rank);
  AGF_CHECK(!st.enabled, "LoRA is already enabled on this layer");
  st.enabled = true;
  st.scaling = cfg.scaling();
  st.chunk_names = chunks.empty() ? std::vector<std::string>{""} : chunks;
  const size_t n = st.chunk_names.size();
  st.A.resize(n);  // sized once: the registered addresses must not move
  st.B.resize(n);
  for (size_t j = 0; j < n; ++j) {
    st.A[j] = param_tensor({cfg.rank, in});
    st.B[j] = param_tensor({out_per_chunk, cfg.rank});
  }
}

std::string lora_name(const char* ab, const std::string& chunk) {
  return chunk.empty() ? std::string(ab) : std::string(ab) + "." + chunk;
}

}  // namespace

bool all_finite(const Tensor& t) {
  NoGradGuard no_grad;
  return std::isfinite(ops::sum(ops::abs(t)).item<double>());  // an inf or a NaN anywhere makes the sum non-finite
}

// ------------------------------------------------------------------------------------------------ LoRA layers
Tensor LoraLayer::merged_weight() {
  AGF_CHECK(lora_.enabled && !lora_.merged, "{}: merging needs unmerged LoRA adapters", kind_);
  NoGradGuard no_grad;
  return ops::add(weight, delta_weight());
}

void LoraLayer::commit_merge(const Tensor& merged) {
  NoGradGuard no_grad;
  weight.copy_(merged);
  lora_.merged = true;
}

void LoraLayer::merge_lora() {
  Tensor merged = merged_weight();
  AGF_CHECK(all_finite(merged), "{}: LoRA merge refused, the merged weight would not be finite", kind_);
  commit_merge(merged);
}

void LoraLayer::unmerge_lora() {
  AGF_CHECK(lora_.enabled && lora_.merged, "{}: unmerge_lora needs merged LoRA adapters", kind_);
  NoGradGuard no_grad;
  weight.copy_(ops::sub(weight, delta_weight()));
  lora_.merged = false;
}

// ------------------------------------------------------------------------------------------------ Conv1d
Conv1d::Conv1d(int64_t cin_, int64_t cout_, int64_t k_, int64_t stride, int64_t padding, bool with_bias)
    : LoraLayer("Conv1d"), cin(cin_), cout(cout_), k(k_), args{stride, padding} {
  weight = param_tensor({cout, cin, k});
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = param_tensor({cout});
    register_parameter("bias", &bias);
  }
}

void Conv1d::reset_parameters(uint64_t seed) { kaiming_uniform_default(weight, bias, cin * k, seed); }

Tensor Conv1d::forward(const Tensor& x) {
  if (!lora_.enabled || lora_.merged) return ag::conv1d(x, weight, bias, args);
  const int64_t r = lora_.A[0].size(0);
  if (!autograd_detail::should_record({&x, &weight, &bias, &lora_.A[0], &lora_.B[0]})) {
    // Nothing to record (an inference or zeroth-order forward): W x + bias and h = A x from one im2col of x, then
    // B's 1x1 convolution accumulates straight into y, y += scaling * B h per batch element, instead of making a
    // second output-sized tensor to add (which took the NoGrad forward's peak from 2x to 3x its largest
    // intermediate). Peak as before: y, h and one column workspace.
    const int64_t t_out = ops::conv1d_out_len(x.size(2), k, args);
    Tensor y = empty({x.size(0), cout, t_out}, x.dtype(), x.device());
    Tensor h = empty({x.size(0), r, t_out}, x.dtype(), x.device());
    ops::conv1d_pair_out(y, h, x, weight, bias, lora_.A[0].reshape({r, cin, k}), args);
    ops::matmul_out(y, lora_.B[0], h, false, false, lora_.scaling, 1.0);
    return y;
  }
  Tensor y = ag::conv1d(x, weight, bias, args);
  Tensor h = ag::conv1d(x, ag::reshape(lora_.A[0], {r, cin, k}), Tensor(), args);
  Tensor d = ag::conv1d(h, ag::reshape(lora_.B[0], {cout, r, 1}), Tensor(), ops::Conv1dArgs{1, 0});
  h = Tensor();
  return ag::add_owned(y, lora_.scaling == 1.0 ? d : ag::scale(d, lora_.scaling));
}

void Conv1d::enable_lora(const LoraConfig& cfg, uint64_t seed) {
  init_lora_state(lora_, cfg, {}, cin * k, cout);
  lora_.A[0] = lora_.A[0].to(weight.dtype()).to(weight.device());
  lora_.B[0] = lora_.B[0].to(weight.dtype()).to(weight.device());
  fill_normal_(lora_.A[0], name_key(seed, "lora_A"), 0, 0.0, 0.02);
  register_parameter("lora_A", &lora_.A[0]);
  register_parameter("lora_B", &lora_.B[0]);
}

Tensor Conv1d::delta_weight() {
  AGF_CHECK(lora_.enabled, "Conv1d: no LoRA adapters");
  NoGradGuard no_grad;
  return ops::scale(ops::matmul(lora_.B[0], lora_.A[0]), lora_.scaling).reshape({cout, cin, k});
}

// ------------------------------------------------------------------------------------------------ Linear
Linear::Linear(int64_t in_, int64_t out_, bool with_bias, bool input_major_)
    : LoraLayer("Linear"), in(in_), out(out_), input_major(input_major_) {
  weight = input_major ? param_tensor({in, out}) : param_tensor({out, in});
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = param_tensor({out});
    register_parameter("bias", &bias);
  }
}

void Linear::reset_parameters(uint64_t seed) {
  if (input_major) {
    // GPT-2's Conv1D initialisation: N(0, 0.02) weights, zero bias.
    fill_normal_(weight, name_key(seed, "weight"), 0, 0.0, 0.02);
    if (bias.defined()) bias.zero_();
  } else {
    kaiming_uniform_default(weight, bias, in, seed);
  }
}

Tensor Linear::forward(const Tensor& x) {
  Tensor y = input_major ? ag::linear_input_major(x, weight, bias) : ag::linear(x, weight, bias);
  if (!lora_.enabled || lora_.merged) return y;
  std::vector<Tensor> parts;
  for (size_t j = 0; j < lora_.A.size(); ++j)
    parts.push_back(ag::linear(ag::linear(x, lora_.A[j], Tensor()), lora_.B[j], Tensor()));
  Tensor d = parts.size() == 1 ? parts[0] : ag::cat(parts, -1);
  parts.clear();
  return ag::add_owned(y, lora_.scaling == 1.0 ? d : ag::scale(d, lora_.scaling));
}

void Linear::enable_lora(const LoraConfig& cfg, uint64_t seed, LoraInit init,
                         const std::vector<std::string>& chunk_names) {
  const int64_t chunks = chunk_names.empty() ? 1 : static_cast<int64_t>(chunk_names.size());
  AGF_CHECK(out % chunks == 0, "Linear: {} outputs do not split into {} LoRA chunks", out, chunks);
  init_lora_state(lora_, cfg, chunk_names, in, out / chunks);
  for (size_t j = 0; j < lora_.A.size(); ++j) {
    const std::string an = lora_name("lora_A", lora_.chunk_names[j]), bn = lora_name("lora_B", lora_.chunk_names[j]);
    lora_.A[j] = lora_.A[j].to(weight.dtype()).to(weight.device());
    lora_.B[j] = lora_.B[j].to(weight.dtype()).to(weight.device());
    if (init == LoraInit::normal) {
      fill_normal_(lora_.A[j], name_key(seed, an), 0, 0.0, 0.02);
    } else {
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      fill_uniform_(lora_.A[j], name_key(seed, an), 0, -bound, bound);
    }
    register_parameter(an, &lora_.A[j]);
    register_parameter(bn, &lora_.B[j]);
  }
}

Tensor Linear::delta_weight() {
  AGF_CHECK(lora_.enabled, "Linear: no LoRA adapters");
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (size_t j = 0; j < lora_.A.size(); ++j) parts.push_back(ops::matmul(lora_.B[j], lora_.A[j]));  // (out_j, in)
  Tensor d = parts.size() == 1 ? parts[0] : ops::cat(parts, 0);                                      // (out, in)
  d = ops::scale(d, lora_.scaling);
  return input_major ? d.transpose(0, 1).contiguous() : d;
}

// ------------------------------------------------------------------------------------------------ norms
BatchNorm1d::BatchNorm1d(int64_t channels, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  weight = param_tensor({channels});
  bias = param_tensor({channels});
  running_mean = param_tensor({channels});
  running_var = param_tensor({channels});
  num_batches_tracked = param_tensor({}, DType::i64);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
  reset_parameters(0);
}

void BatchNorm1d::reset_parameters(uint64_t) {
  weight.fill_(1.0);
  bias.zero_();
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNorm1d::count_batch() {
  if (num_batches_tracked.device().is_cpu()) {  // reading costs nothing here: the buffer is the count
    ++*num_batches_tracked.data<int64_t>();
    return;
  }
  const std::shared_ptr<Storage>& s = num_batches_tracked.storage();
  if (tracked_storage_.lock() != s || s->version() != tracked_version_) tracked_ = num_batches_tracked.item<int64_t>();
  num_batches_tracked.fill_(static_cast<double>(++tracked_));  // queued on the device's stream; no wait
  tracked_storage_ = s;
  tracked_version_ = s->version();
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  // A checkpointed segment's second forward (autograd/checkpoint.h) sees the batch the first one did: the same batch
  // statistics, and the running statistics were updated then, not to be updated twice.
  if (training() && recomputing()) return ag::batch_norm(x, weight, bias, Tensor(), Tensor(), true, momentum, eps);
  Tensor y = ag::batch_norm(x, weight, bias, running_mean, running_var, training(), momentum, eps);
  if (training()) count_batch();
  return y;
}

Tensor BatchNorm1d::forward_leaky_owned(Tensor x, double slope) {
  // In place only on a tensor nothing else can see: a view or a shared buffer goes the unfused way.
  // A checkpointed segment's second forward in training mode goes through forward(), which leaves the running
  // statistics alone (even where nothing records: a frozen batch norm inside a segment that trains elsewhere).
  if (autograd_detail::should_record({&x, &weight, &bias}) || (training() && recomputing()) ||
      !x.device().is_cpu() || x.storage().use_count() > 1 || x.dim() != 3 || x.stride(2) != 1)
    return ag::leaky_relu_owned(forward(x), slope);
  ops::batch_norm_leaky_(x, weight, bias, running_mean, running_var, training(), momentum, eps, slope);
  if (training()) count_batch();
  return x;
}

LayerNorm::LayerNorm(int64_t channels, double eps_) : eps(eps_) {
  weight = param_tensor({channels});
  bias = param_tensor({channels});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  reset_parameters(0);
}

void LayerNorm::reset_parameters(uint64_t) {
  weight.fill_(1.0);
  bias.zero_();
}

Tensor LayerNorm::forward(const Tensor& x) { return ag::layer_norm(x, weight, bias, eps); }

}  // namespace agf::nn
