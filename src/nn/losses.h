#pragma once
// The training losses of spec/fusion.md, built from differentiable ops.
#include "autograd/functions.h"

namespace agf::nn {

// a(y): 1 when the record has any non-normal class, i.e. max over the classes other than `normal_class` of y.
// y (B, K) -> (B, 1). With normal_class < 0 (no normal class in the label set) every labelled record is abnormal.
Tensor abnormal_target(const Tensor& y, int64_t normal_class);

struct FusionLossParts {
  Tensor total;  // main + aux_weight * aux (0-dim)
  Tensor main;   // BCE(main_logits, y)
  Tensor aux;    // BCE(aux_logit, a(y)); undefined without the auxiliary head
};
// loss(x, y) = BCEWithLogits(main, y) + aux_weight * BCEWithLogits(aux, a(y)), mean reduction.
FusionLossParts fusion_loss(const Tensor& aux_logit, const Tensor& main_logits, const Tensor& y, double aux_weight,
                            int64_t normal_class, const Tensor& pos_weight = {});

// The same with the auxiliary head's target given (e.g. all ones: the PyTorch reference's target, for
// reference_compat); aux_target (B, 1).
FusionLossParts fusion_loss_with_aux_target(const Tensor& aux_logit, const Tensor& main_logits, const Tensor& y,
                                            const Tensor& aux_target, double aux_weight, const Tensor& pos_weight = {});

// Student distillation: BCE(s_main, sigmoid(t_main / T)) + BCE(s_main, y) + aux_weight * BCE(s_aux, a(y)).
// The teacher's logits carry no gradient.
Tensor distillation_loss(const Tensor& student_aux, const Tensor& student_main, const Tensor& teacher_main,
                         const Tensor& y, double temperature, double aux_weight, int64_t normal_class);

// The per-sample gradient gate: main_logits' gradient kept for samples with sigmoid(aux) > threshold.
Tensor gate_main_logits(const Tensor& main_logits, const Tensor& aux_logit, double positive_threshold);

}  // namespace agf::nn
