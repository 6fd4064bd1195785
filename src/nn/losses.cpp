#include "nn/losses.h"

namespace agf::nn {

Tensor abnormal_target(const Tensor& y, int64_t normal_class) {
  AGF_CHECK(y.dim() == 2, "abnormal_target: labels {} must be (B, K)", y.describe());
  const int64_t K = y.size(1);
  AGF_CHECK(normal_class < K, "abnormal_target: normal class {} out of range for {} classes", normal_class, K);
  NoGradGuard no_grad;
  if (normal_class < 0) return ops::reduce(ops::ReduceOp::max, y, {1}, true);
  // Max over the other classes: mask the normal column to 0 (labels are in [0, 1]).
  Tensor masked = y.contiguous().clone();
  masked.narrow(1, normal_class, 1).zero_();
  if (K == 1) return masked;
  return ops::reduce(ops::ReduceOp::max, masked, {1}, true);
}

FusionLossParts fusion_loss(const Tensor& aux_logit, const Tensor& main_logits, const Tensor& y, double aux_weight,
                            int64_t normal_class, const Tensor& pos_weight) {
  const bool aux = aux_logit.defined() && aux_weight != 0.0;
  return fusion_loss_with_aux_target(aux_logit, main_logits, y, aux ? abnormal_target(y, normal_class) : Tensor(),
                                     aux_weight, pos_weight);
}

FusionLossParts fusion_loss_with_aux_target(const Tensor& aux_logit, const Tensor& main_logits, const Tensor& y,
                                            const Tensor& aux_target, double aux_weight, const Tensor& pos_weight) {
  AGF_CHECK(main_logits.shape() == y.shape(), "fusion loss: logits {} and labels {} differ", main_logits.describe(),
            y.describe());
  FusionLossParts p;
  p.main = ag::bce_with_logits(main_logits, y, pos_weight);
  p.total = p.main;
  if (aux_logit.defined() && aux_weight != 0.0) {
    p.aux = ag::bce_with_logits(aux_logit, aux_target);
    p.total = ag::add(p.main, ag::scale(p.aux, aux_weight));
  }
  return p;
}

Tensor distillation_loss(const Tensor& student_aux, const Tensor& student_main, const Tensor& teacher_main,
                         const Tensor& y, double temperature, double aux_weight, int64_t normal_class) {
  AGF_CHECK(temperature > 0, "distillation: temperature must be positive, got {}", temperature);
  Tensor soft;
  {
    NoGradGuard no_grad;
    soft = ops::sigmoid(ops::scale(detach(teacher_main), 1.0 / temperature));
  }
  Tensor loss = ag::add(ag::bce_with_logits(student_main, soft), ag::bce_with_logits(student_main, y));
  if (student_aux.defined() && aux_weight != 0.0)
    loss = ag::add(loss, ag::scale(ag::bce_with_logits(student_aux, abnormal_target(y, normal_class)), aux_weight));
  return loss;
}

Tensor gate_main_logits(const Tensor& main_logits, const Tensor& aux_logit, double positive_threshold) {
  Tensor mask;
  {
    NoGradGuard no_grad;
    mask = ops::greater_than(ops::sigmoid(detach(aux_logit)), positive_threshold).reshape({aux_logit.size(0)});
  }
  return ag::gradient_gate(main_logits, mask);
}

}  // namespace agf::nn
