#include <atomic>
#include <queue>
#include <unordered_map>

#include "autograd/autograd.h"
#include "kernels/ops.h"

namespace agf {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_sequence{0};

AutogradMeta* meta(const Tensor& t) { return t.defined() ? t.impl()->autograd.get() : nullptr; }

// A gradient that is stored must not alias a tensor someone else holds (an op's backward may hand the incoming
// gradient through unchanged), and lives under the grads tag.
Tensor own_gradient(const Tensor& g) {
  MemScope scope(MemTag::grads);
  return g.clone();
}

void accumulate_leaf(AutogradMeta& m, const Tensor& g) {
  if (m.borrow_grad) {
    m.grad = m.grad.defined() ? ops::add(m.grad, g) : g;
  } else if (!m.grad.defined()) {
    m.grad = own_gradient(g);
  } else {
    ops::axpy_(m.grad, 1.0, g);
  }
}
}  // namespace

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  t_ = detach(t);
  version_ = t.storage()->version();
}

const Tensor& SavedTensor::get() const {
  AGF_CHECK(!t_.defined() || t_.storage()->version() == version_,
            "a tensor saved for the gradient ({}) was modified in place after it was saved (version {} -> {}); run "
            "backward before updating or perturbing what the forward used",
            t_.describe(), version_, t_.storage()->version());
  return t_;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }
EnableGradGuard::EnableGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { t_grad_enabled = saved_; }

bool requires_grad(const Tensor& t) {
  const AutogradMeta* m = meta(t);
  return m != nullptr && (m->requires_grad || m->grad_fn != nullptr);
}

bool is_leaf(const Tensor& t) {
  const AutogradMeta* m = meta(t);
  return m == nullptr || m->grad_fn == nullptr;
}

void set_requires_grad(Tensor& t, bool on) {
  AGF_CHECK(t.defined(), "set_requires_grad on an undefined tensor");
  AGF_CHECK(is_leaf(t), "set_requires_grad: {} is the output of an op; only leaves can be marked", t.describe());
  AGF_CHECK(!on || is_floating(t.dtype()), "set_requires_grad: {} is not floating point", t.describe());
  if (!t.impl()->autograd) t.impl()->autograd = std::make_shared<AutogradMeta>();
  t.impl()->autograd->requires_grad = on;
}

Tensor grad(const Tensor& t) {
  const AutogradMeta* m = meta(t);
  return m ? m->grad : Tensor();
}

void zero_grad(Tensor& t) {
  if (AutogradMeta* m = meta(t)) m->grad = Tensor();
}

Tensor detach(const Tensor& t) {
  return t.as_strided(t.shape(), t.strides(), t.offset());  // a fresh impl over the same storage, no meta
}

namespace autograd_detail {

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && requires_grad(*t)) return true;
  return false;
}

Tensor record(Tensor output, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->sequence = g_sequence.fetch_add(1);
  node->backward = std::move(backward);
  node->inputs.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !requires_grad(in)) continue;
    node->inputs[i].shape = in.shape();
    const auto& m = in.impl()->autograd;
    if (m->grad_fn)
      node->inputs[i].node = m->grad_fn;
    else
      node->inputs[i].leaf = m;
  }
  // The output is a new handle even when the op returned a view of an input: it gets its own history.
  Tensor out = output.impl()->autograd ? detach(output) : output;
  out.impl()->autograd = std::make_shared<AutogradMeta>();
  out.impl()->autograd->grad_fn = std::move(node);
  return out;
}

}  // namespace autograd_detail

void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  backward(Tensor(root), grad_root, retain_graph);
}

void backward(Tensor&& root, const Tensor& grad_root, bool retain_graph) {
  AGF_CHECK(root.defined(), "backward of an undefined tensor");
  AGF_CHECK(requires_grad(root), "backward: {} does not require grad (no trainable input, or made under NoGrad)",
            root.describe());
  Tensor seed = grad_root;
  if (!seed.defined()) {
    AGF_CHECK(root.numel() == 1, "backward: {} is not a scalar; pass the seed gradient", root.describe());
    seed = ones(root.shape(), root.dtype(), root.device());
  }
  AGF_CHECK(seed.shape() == root.shape(), "backward: seed {} for root {}", seed.describe(), root.describe());

  const std::shared_ptr<AutogradMeta> root_meta = root.impl()->autograd;
  AutogradMeta& rm = *root_meta;
  if (!rm.grad_fn) {
    accumulate_leaf(rm, seed);
    return;
  }
  root = Tensor();  // the graph is reached through rm.grad_fn from here on
  auto cmp = [](const Node* a, const Node* b) { return a->sequence < b->sequence; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  std::unordered_map<Node*, Tensor> pending;
  std::vector<std::shared_ptr<Node>> keep_alive;  // nodes stay alive while queued even if their owner drops them
  pending[rm.grad_fn.get()] = seed;
  ready.push(rm.grad_fn.get());
  keep_alive.push_back(rm.grad_fn);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor g = std::move(pending[node]);
    pending.erase(node);
    AGF_CHECK(node->backward != nullptr,
              "backward through {} a second time: its saved tensors were freed (use retain_graph)", node->name);
    std::vector<Tensor> grads;
    try {
      grads = node->backward(g);
    } catch (const Error& e) {
      AGF_FAIL("backward of {}: {}", node->name, e.what());
    }
    g = Tensor();
    AGF_CHECK(grads.size() == node->inputs.size(), "backward of {}: {} gradients for {} inputs", node->name,
              grads.size(), node->inputs.size());
    if (!retain_graph) node->backward = nullptr;  // frees what the op saved
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = node->inputs[i];
      if (!e.valid() || !grads[i].defined()) continue;
      AGF_CHECK(grads[i].shape() == e.shape, "backward of {}: gradient {} for input {} of shape {}", node->name,
                grads[i].describe(), i, shape_str(e.shape));
      if (e.leaf) {
        accumulate_leaf(*e.leaf, grads[i]);
        continue;
      }
      Node* next = e.node.get();
      auto it = pending.find(next);
      if (it == pending.end()) {
        pending.emplace(next, std::move(grads[i]));
        ready.push(next);
        keep_alive.push_back(e.node);
      } else {
        it->second = ops::add(it->second, grads[i]);
      }
    }
  }
}

}  // namespace agf
