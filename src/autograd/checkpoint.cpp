#include "autograd/checkpoint.h"

namespace agf {

namespace {
thread_local int t_recomputing = 0;

class RecomputeScope {
 public:
  RecomputeScope() { ++t_recomputing; }
  ~RecomputeScope() { --t_recomputing; }
  RecomputeScope(const RecomputeScope&) = delete;
  RecomputeScope& operator=(const RecomputeScope&) = delete;
};
}  // namespace

bool recomputing() { return t_recomputing > 0; }

Tensor checkpoint(const char* name, const std::function<Tensor(const Tensor&)>& segment, const Tensor& x,
                  const std::vector<const Tensor*>& parameters) {
  bool wanted = autograd_detail::should_record({&x});
  for (const Tensor* p : parameters) wanted = wanted || autograd_detail::should_record({p});
  if (!wanted) return segment(x);

  // Saved before the segment runs, with the parameters' versions: an in-place write to any of them before the
  // backward (the segment's own, an optimizer step, a perturbation) is an error, as it is for an op's saved tensors.
  SavedTensor saved(x);
  std::vector<SavedTensor> saved_params;
  for (const Tensor* p : parameters) saved_params.emplace_back(*p);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = segment(x);
  }
  const bool x_wants_grad = requires_grad(x);
  // The node's one edge is x's (none when x is data); the parameters' gradients reach their leaves through the
  // recomputed graph's own backward.
  return autograd_detail::record(
      y, name, {x},
      [segment, saved = std::move(saved), saved_params = std::move(saved_params), x_wants_grad,
       name](const Tensor& grad_y) -> std::vector<Tensor> {
        for (const SavedTensor& p : saved_params) (void)p.get();  // throws if written since the forward
        Tensor input = detach(saved.get());  // a fresh leaf over the saved storage
        if (x_wants_grad) {
          set_requires_grad(input, true);
          input.impl()->autograd->borrow_grad = true;  // handed on at once: no private copy of it
        }
        Tensor again;
        {
          EnableGradGuard grad_on;
          RecomputeScope scope;
          again = segment(input);
        }
        AGF_CHECK(again.shape() == grad_y.shape(), "checkpoint {}: the recomputed output {} differs in shape from the "
                  "gradient {}", name, again.describe(), grad_y.describe());
        if (requires_grad(again)) backward(std::move(again), grad_y);  // its memory back before the pass
        return {x_wants_grad ? grad(input) : Tensor()};
      });
}

}  // namespace agf
