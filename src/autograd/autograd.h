#pragma once
// Reverse-mode automatic differentiation over the raw kernels.
//
// A tensor that requires grad carries an AutogradMeta (in its TensorImpl). Every differentiable op in
// autograd/functions.h that sees such an input while grad mode is on makes one Node: the op's backward closure,
// holding what it saved, and one edge per input (to the input's own node, or to the input itself when it is a
// leaf). backward() runs nodes in decreasing creation order — a valid reverse topological order, since a node's
// inputs always exist before it — sums the gradients that meet at a node, accumulates into the leaves' .grad,
// and drops each closure as soon as it has run, so saved activations go back to the allocator during the pass.
//
// Under NoGradGuard no node is made: an intermediate dies when its last handle does, and a forward holds only its
// live working set (the zeroth-order passes of AdaGrad-Fusion rely on this).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace agf {

struct Node;

// What the tensor layer's TensorImpl::autograd points at.
struct AutogradMeta {
  bool requires_grad = false;  // a leaf whose gradient is wanted (a trainable parameter)
  Tensor grad;                 // accumulated gradient of a leaf (charged to MemTag::grads)
  std::shared_ptr<Node> grad_fn;  // the node that made this tensor; null for leaves
  // A transient leaf whose gradient its owner takes at once (a checkpointed segment's input): the gradient is kept
  // as it arrives, without the private copy a parameter's gets, and further contributions are added out of place.
  bool borrow_grad = false;
};

struct Edge {
  std::shared_ptr<Node> node;          // the input's node, or
  std::shared_ptr<AutogradMeta> leaf;  // the input itself when it is a leaf that requires grad
  Shape shape;                         // the input's shape: its gradient must have it
  bool valid() const { return node != nullptr || leaf != nullptr; }
};

// grad_inputs[i] = d loss / d input_i given d loss / d output; an undefined tensor where no gradient flows.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;
  uint64_t sequence = 0;
  std::vector<Edge> inputs;
  BackwardFn backward;
};

// A tensor an op keeps for its backward: a handle without history (so a node never owns, through a saved output,
// the metadata that owns the node) plus the storage's version at save time. Reading it after an in-place write to
// that storage (an optimizer step, a perturbation, copy_) is an error instead of a silently wrong gradient.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  bool defined() const { return t_.defined(); }
  const Tensor& get() const;
  operator const Tensor&() const { return get(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

// ---- grad mode ----
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};
// Grad mode on for a scope, whatever the caller's (a checkpointed segment records its recomputation with it).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool saved_;
};

// ---- per-tensor autograd state ----
bool requires_grad(const Tensor& t);       // a leaf that requires grad, or the output of a recorded op
void set_requires_grad(Tensor& t, bool on);  // only on leaves
bool is_leaf(const Tensor& t);
Tensor grad(const Tensor& t);              // undefined until a backward reached it
void zero_grad(Tensor& t);                 // drops the gradient (frees its memory)
Tensor detach(const Tensor& t);            // same storage, no history

// Runs the backward pass from a scalar `root` (gradient 1) or with an explicit seed gradient. The graph is freed as
// it is consumed unless retain_graph.
void backward(const Tensor& root, const Tensor& grad_root = {}, bool retain_graph = false);
// The same, releasing the root's handle once its node is known: when the caller's was the last, the root's memory
// goes back before the pass runs instead of after (a checkpointed segment's recomputed output).
void backward(Tensor&& root, const Tensor& grad_root = {}, bool retain_graph = false);

namespace autograd_detail {
// For op implementations: true when the op must record (grad mode on and some input needs a gradient).
bool should_record(std::initializer_list<const Tensor*> inputs);
// Attaches a new node to `output`: edges to `inputs` (undefined or no-grad inputs get no edge) and the closure.
Tensor record(Tensor output, const char* name, std::vector<Tensor> inputs, BackwardFn backward);
}  // namespace autograd_detail

}  // namespace agf
