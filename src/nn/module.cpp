#include "nn/module.h"

#include <map>

namespace agf::nn {

bool name_matches(const std::string& name, const std::string& pattern) {
  // Iterative glob with backtracking to the last '*'.
  size_t n = 0, p = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++n;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Tensor param_tensor(const Shape& shape, DType dtype) {
  MemScope scope(MemTag::params);
  return zeros(shape, dtype);
}

uint64_t name_key(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  // A final avalanche so that similar names give unrelated keys.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

void Module::register_parameter(std::string name, Tensor* slot) {
  AGF_CHECK(slot->defined(), "register_parameter '{}': tensor not allocated", name);
  slot->storage()->retag(MemTag::params);
  set_requires_grad(*slot, true);
  params_.emplace_back(std::move(name), slot);
}

void Module::register_buffer(std::string name, Tensor* slot) {
  AGF_CHECK(slot->defined(), "register_buffer '{}': tensor not allocated", name);
  slot->storage()->retag(MemTag::params);
  buffers_.emplace_back(std::move(name), slot);
}

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     std::vector<std::pair<std::string, Tensor*>>& out) {
  if (params)
    for (auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers, out);
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", true, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", false, true, out);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::state_entries() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", true, true, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [n, m] : children_)
    for (auto& [cn, cm] : m->named_modules()) out.emplace_back(cn.empty() ? n : n + "." + cn, cm);
  return out;
}

Module* Module::child(const std::string& name) const {
  for (auto& [n, m] : children_)
    if (n == name) return m.get();
  return nullptr;
}

NamedTensors Module::state_dict() {
  NamedTensors out;
  for (auto& [n, t] : state_entries()) out.emplace_back(n, *t);
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& state, const LoadOptions& opt) {
  LoadReport rep;
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : state) {
    AGF_CHECK(given.emplace(n, &t).second, "state dict: name '{}' appears twice", n);
  }
  auto reinit_ok = [&](const std::string& n) {
    for (const auto& p : opt.reinit_patterns)
      if (name_matches(n, p)) return true;
    return false;
  };
  NoGradGuard no_grad;
  std::vector<std::pair<Tensor*, Tensor>> copies;  // validated first, copied after: no half-loaded model
  for (auto& [n, slot] : state_entries()) {
    auto it = given.find(n);
    if (it == given.end()) {
      (reinit_ok(n) ? rep.reinitialised : rep.missing).push_back(n);
      continue;
    }
    Tensor src = *it->second;
    given.erase(it);
    // PyTorch's 2-D convolutions store (Cout, Cin, 1, K) for what is here a (Cout, Cin, K) 1-D kernel.
    if (src.dim() == 4 && slot->dim() == 3 && src.size(2) == 1 && src.size(0) == slot->size(0) &&
        src.size(1) == slot->size(1) && src.size(3) == slot->size(2))
      src = src.squeeze(2);
    if (src.shape() != slot->shape()) {
      AGF_CHECK(reinit_ok(n), "state dict: '{}' has shape {} but the model expects {}", n, shape_str(src.shape()),
                shape_str(slot->shape()));
      rep.reinitialised.push_back(n);
      continue;
    }
    AGF_CHECK(is_floating(src.dtype()) == is_floating(slot->dtype()),
              "state dict: '{}' has dtype {} but the model holds {}", n, src.dtype(), slot->dtype());
    copies.emplace_back(slot, src);
    rep.loaded.push_back(n);
  }
  for (const auto& [n, t] : given) rep.unexpected.push_back(n);
  if (opt.strict) {
    AGF_CHECK(rep.missing.empty(), "state dict: {} missing name(s): {}", rep.missing.size(),
              fmt::join(rep.missing, ", "));
    AGF_CHECK(rep.unexpected.empty(), "state dict: {} unexpected name(s): {}", rep.unexpected.size(),
              fmt::join(rep.unexpected, ", "));
  }
  for (auto& [slot, src] : copies) slot->copy_(src);
  return rep;
}

void Module::train(bool on) {
  for (auto& [n, m] : named_modules()) {
    m->training_ = on;
    m->on_train(on);
  }
}

namespace {
void replace_tensor(Tensor* slot, Tensor moved) {
  const bool rg = requires_grad(*slot) && is_leaf(*slot);
  moved.storage()->retag(MemTag::params);
  *slot = moved;
  if (rg) set_requires_grad(*slot, true);
}
}  // namespace

void Module::to(Device d) {
  for (auto& [n, t] : state_entries())
    if (t->device() != d) {
      MemScope scope(MemTag::params);
      replace_tensor(t, t->to(d));
    }
}

void Module::to(DType dt) {
  for (auto& [n, t] : state_entries())
    if (is_floating(t->dtype()) && t->dtype() != dt) {
      MemScope scope(MemTag::params);
      replace_tensor(t, t->to(dt));
    }
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t->numel();
  return n;
}

int64_t Module::num_buffer_elements() {
  int64_t n = 0;
  for (auto& [name, t] : named_buffers()) n += t->numel();
  return n;
}

int64_t Module::set_trainable(const std::vector<std::string>& patterns) {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) {
    bool on = false;
    for (const auto& p : patterns) on = on || name_matches(name, p);
    set_requires_grad(*t, on);
    if (!on) agf::zero_grad(*t);
    if (on) n += t->numel();
  }
  return n;
}

std::vector<std::pair<std::string, Tensor*>> Module::trainable_parameters() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& e : named_parameters())
    if (requires_grad(*e.second)) out.push_back(e);
  return out;
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) agf::zero_grad(*t);
}

void Module::init_parameters(uint64_t seed) {
  NoGradGuard no_grad;
  for (auto& [n, m] : named_modules()) m->reset_parameters(name_key(seed, n));
}

}  // namespace agf::nn
