#pragma once
// Module: named, ordered parameters and buffers, children, train/eval mode, trainable-set selection by name
// pattern, and in-memory state dicts whose names are exactly those of the published PyTorch checkpoints.
//
// A layer keeps its tensors as members and registers their addresses, so moving the model to another device or
// dtype replaces the tensors in place and the layer's own code never looks them up by name. Modules are
// heap-allocated (children are owned by unique_ptr), never copied or moved, so the addresses stay valid.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"

namespace agf::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct LoadOptions {
  bool strict = true;  // missing or unexpected names are errors
  // Parameters whose names match these patterns keep their current (fresh) values when the state dict lacks
  // them or has another shape: a classifier head re-initialised for a new label set.
  std::vector<std::string> reinit_patterns;
};

struct LoadReport {
  std::vector<std::string> loaded, missing, unexpected, reinitialised;
};

// Glob match on dotted names: '*' matches any run of characters (dots included), '?' one character.
bool name_matches(const std::string& name, const std::string& pattern);

class Module {
 public:
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Full dotted names, PyTorch's order: a module's own parameters, then its buffers, then each child's, in
  // registration order.
  std::vector<std::pair<std::string, Tensor*>> named_parameters();
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  std::vector<std::pair<std::string, Tensor*>> state_entries();  // parameters and buffers, state-dict order
  std::vector<std::pair<std::string, Module*>> named_modules();  // pre-order, "" for this module
  Module* child(const std::string& name) const;

  NamedTensors state_dict();  // handles to the live tensors (no copy)
  LoadReport load_state_dict(const NamedTensors& state, const LoadOptions& opt = {});

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  void to(Device d);
  void to(DType t);  // floating parameters and buffers only
  int64_t num_parameters();
  int64_t num_buffer_elements();

  // Marks exactly the parameters matching any pattern as trainable (requires_grad), the rest frozen.
  // Returns the number of trainable elements.
  int64_t set_trainable(const std::vector<std::string>& patterns);
  std::vector<std::pair<std::string, Tensor*>> trainable_parameters();
  void zero_grad();

  // Deterministic initialisation: each module draws from Philox keyed by (seed, its full name), so the values do
  // not depend on construction or traversal order.
  void init_parameters(uint64_t seed);

 protected:
  Module() = default;
  void register_parameter(std::string name, Tensor* slot);
  void register_buffer(std::string name, Tensor* slot);
  template <typename M>
  M* register_module(std::string name, std::unique_ptr<M> m) {
    M* raw = m.get();
    children_.emplace_back(std::move(name), std::move(m));
    return raw;
  }
  // Initialises this module's own parameters (not its children's) from `seed`.
  virtual void reset_parameters(uint64_t seed) { (void)seed; }
  // Called when train() changes the mode, for modules that track it themselves.
  virtual void on_train(bool on) { (void)on; }

 private:
  void collect(const std::string& prefix, bool params, bool buffers,
               std::vector<std::pair<std::string, Tensor*>>& out);
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
  bool training_ = true;
};

// Allocates a parameter-sized tensor charged to MemTag::params.
Tensor param_tensor(const Shape& shape, DType dtype = DType::f32);
// 64-bit FNV-1a of a name, mixed with a seed: per-tensor Philox keys.
uint64_t name_key(uint64_t seed, const std::string& name);

}  // namespace agf::nn
