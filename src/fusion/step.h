#pragma once
// One training step of every mode of spec/fusion.md, on a batch the caller hands over:
//   fusion   ZO estimate over the batch (perturb +eps, L+, perturb -2eps, L-, restore) -> p; FO backprop on the first
//            bp_batch records -> g_fo; the norm-matched fused update of P_zo and the head update, in one pass each
//   zo       the ZO estimate only: P_zo gets g = p z, the heads their gradient on the whole batch (MeZO)
//   bp       backprop on the whole batch (the memory baseline: full or LoRA fine-tuning, pretraining)
//   fo_micro the FO micro-batch only (the ablation: what the fusion adds to it)
// With a teacher (distillation), every mode's loss gains the teacher's soft targets; agf-distill runs bp.
// This file is wiring: the math lives in the kernels (ops::spsa_perturb_, spsa_sqnorms, fused_adamw_) and the
// perturbed set. Each phase is timed, bracketed by an NVTX range and measured by the memory ledger.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fusion/perturbed_set.h"
#include "nn/ecgnet.h"
#include "nn/losses.h"
#include "nn/optim.h"
#include "tensor/ledger.h"
#include "tensor/random.h"

namespace agf::fusion {

enum class Mode { fusion, zo, bp, fo_micro };
Mode parse_mode(const std::string& name);
const char* mode_name(Mode m);
enum class HeadGrad { micro, full };
HeadGrad parse_head_grad(const std::string& name);

struct StepOptions {
  Mode mode = Mode::fusion;
  double zo_eps = 1e-3;
  int64_t bp_batch = 8;
  int64_t zo_queries = 1;
  double zo_sparsity = 0.0;
  double grad_topk = 0.0;  // fraction of each tensor's fused gradient kept (largest |g|); 0 or 1: all
  int64_t zo_chunk = 0;    // ZO passes stream the batch in chunks of this many records; 0: the whole batch at once
  bool gradient_checkpointing = false;  // the FO pass (and bp) recompute each block in the backward (autograd/checkpoint.h)
  HeadGrad head_grad = HeadGrad::micro;
  bool reference_compat = false;  // L- without the auxiliary term, auxiliary target 1 (the PyTorch reference)
  double aux_weight = 1.0;
  int64_t normal_class = -1;      // index of NSR in the label set; -1: none (every labelled record is abnormal)
  // Distillation (spec/fusion.md): a frozen teacher run under NoGrad on each step's batch (all 12 leads, before the
  // student's lead mask); its logits join the loss as soft targets sigmoid(t / temperature). Not owned.
  nn::EcgNet* teacher = nullptr;
  double temperature = 1.0;
};

struct PhaseStats {
  std::string name;   // zo/perturb+, zo/forward+, zo/forward-, zo/restore, fo/forward, fo/backward, head/full, update
  double seconds = 0.0;
  int64_t peak_bytes = 0;   // the ledger's peak (all tags) during the phase
  int64_t start_bytes = 0;  // live bytes when it began: peak - start is what the phase itself added at most
  std::array<int64_t, kNumMemTags> tag_peak_bytes{};  // the ledger's peak of each tag (MemTag order) in the phase
};

struct StepRecord {
  double lr = 0.0, coef = 0.0;
  double loss = 0.0;             // the batch loss: (L+ + L-) / 2 in the ZO modes, the backprop loss otherwise
  double loss_plus = 0.0, loss_minus = 0.0;  // first query's, ZO modes only
  double loss_fo = 0.0;          // the FO pass's loss (micro-batch; whole batch in bp)
  std::vector<double> p;         // projected gradient of each query: (L+ - L-) / (2 eps)
  double grad_fo_norm = 0.0;     // ||g_fo|| over every trainable tensor
  bool zo_ran = false, fo_ran = false;
  std::vector<PhaseStats> phases;
  int64_t peak_bytes = 0;        // max over the phases
  double seconds = 0.0;
};

class FusionStep {
 public:
  // The optimizer's parameters are the trainable set; those outside the heads (classifier.*, auxiliary_classifier.*)
  // form P_zo. The network and optimizer must outlive the step.
  FusionStep(nn::EcgNet& net, nn::AdamW& optimizer, const StepOptions& options);

  // One step on x (B, leads, T), y (B, K) at learning rate lr and fusion coefficient coef (fusion mode; the ZO passes
  // are skipped when coef is 1, where their weight in the update is 0). Step seeds come from `rng`, one per query.
  StepRecord run(const Tensor& x, const Tensor& y, double lr, double coef, PhiloxStream& rng);

  // The two-sided ZO estimate alone (step 2 of spec/fusion.md): per query j a step seed from `rng`, p_j and the
  // losses; theta is restored (to within a few ulp) when it returns. keep_features keeps the last L- pass's (B, C)
  // features for a full-batch head gradient.
  struct ZoEstimate {
    std::vector<uint64_t> seeds;
    std::vector<double> p;
    Tensor features_minus;
  };
  ZoEstimate zo_estimate(const Tensor& x, const Tensor& y, PhiloxStream& rng, bool keep_features, StepRecord& rec);

  const PerturbedSet& perturbed_set() const { return zo_set_; }
  const StepOptions& options() const { return opt_; }
  int64_t head_elements() const;

 private:
  double zo_loss(const Tensor& x, const Tensor& y, bool minus_pass, std::vector<Tensor>* features);
  void fo_pass(const Tensor& x, const Tensor& y, bool whole_batch_training, StepRecord& rec);
  void full_head_gradient(const Tensor& features, const Tensor& y, StepRecord& rec);
  void update(const ZoEstimate* zo, double coef, double lr, StepRecord& rec);
  // The loss of rows [first_row, first_row + y.size(0)) of the step's batch.
  nn::FusionLossParts loss_of(const nn::EcgNetOutput& out, const Tensor& y, bool minus_pass, int64_t first_row) const;

  nn::EcgNet& net_;
  nn::AdamW& opt_adamw_;
  StepOptions opt_;
  PerturbedSet zo_set_;
  std::vector<size_t> zo_index_;    // optimizer index of each perturbed-set entry
  std::vector<size_t> head_index_;  // optimizer indices of the head tensors
  Device device_;
  Tensor teacher_main_;  // the teacher's (B, K) logits of the step under way (distillation only)
};

}  // namespace agf::fusion
