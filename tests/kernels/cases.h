#pragma once
// Each file cases_<group>.cpp adds the cases of its ops; the harness calls these in this order.
#include <vector>

#include "kernels/harness.h"

namespace agf::kt {
void add_elementwise_cases(std::vector<Case>& cases);
void add_reduce_cases(std::vector<Case>& cases);
void add_linalg_cases(std::vector<Case>& cases);     // matmul, conv1d, pooling
void add_norm_cases(std::vector<Case>& cases);       // batch norm, layer norm, softmax, cat
void add_loss_optim_cases(std::vector<Case>& cases);  // BCE with logits, AdamW, SPSA perturbation
void add_spsa_cases(std::vector<Case>& cases);        // the perturbed set and the fused AdamW update
}  // namespace agf::kt
