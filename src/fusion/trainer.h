#pragma once
// The one training loop of the project (agf-finetune, agf-pretrain, agf-bench train use it): batches from the
// prepared dataset's train split (CutMix optional), one FusionStep per batch at the scheduled learning rate (linear
// warm-up, then linear decay) and coefficient, validation every N steps with early stopping on the validation mAP,
// the best network kept, resumable checkpoints, a run folder with its logs and report, a progress line.
//
// A run resumes bit for bit: the checkpoint holds the model, the optimizer, the run's Philox stream (step seeds and
// CutMix draws), the step, the data position (epoch, batch) and the early-stopping state. SIGINT/SIGTERM finish the
// step under way, write the checkpoint and end the run with io::Interrupted.
#include <memory>
#include <string>

#include "fusion/coef_schedule.h"
#include "fusion/run_folder.h"
#include "fusion/step.h"
#include "fusion/train_config.h"
#include "fusion/training_setup.h"
#include "nn/optim.h"
#include "tensor/random.h"

namespace agf::fusion {

struct TrainResult {
  int64_t steps_done = 0;     // steps of the whole run (a resumed run counts its earlier steps)
  int64_t planned_steps = 0;
  bool stopped_early = false;
  bool paused = false;        // stop_after reached: resume to continue
  double best_val_map = 0.0;
  int64_t best_step = -1;
  std::filesystem::path run_dir;
  nlohmann::json report;      // report.json (empty when paused)
};

class Trainer {
 public:
  // Resolves the config (a resumed run takes its checkpoint's), checks the dataset and the backbone, builds the
  // network, the optimizer and the step. Nothing is written before every check has passed.
  explicit Trainer(const ResolvedConfig& config);
  ~Trainer();
  TrainResult run();

  const TrainConfig& config() const { return cfg_; }
  nn::EcgNet& net() { return *model_.net; }
  int64_t planned_steps() const { return total_steps_; }

 private:
  void validate(int64_t step, double seconds_so_far);
  void save_checkpoint(const std::filesystem::path& path, bool with_optimizer);
  nlohmann::json progress_json() const;
  nlohmann::json finish(double seconds);

  TrainConfig cfg_;
  DatasetSummary data_;
  Device device_;         // where the model, the optimizer state and the step run (batches are moved there)
  BuiltModel model_;
  FrozenNetwork teacher_;  // distillation only
  std::unique_ptr<nn::AdamW> optimizer_;
  std::unique_ptr<FusionStep> step_;
  PhiloxStream rng_;
  int64_t total_steps_ = 0, batches_per_epoch_ = 0, eval_every_ = 0;
  // The loop's position and early-stopping state (saved in checkpoints).
  int64_t step_count_ = 0, epoch_ = 0, batch_in_epoch_ = 0;
  double best_map_ = -1.0;
  int64_t best_step_ = -1, evals_since_best_ = 0;
  bool stopped_early_ = false;
  std::unique_ptr<RunFolder> folder_;
  std::filesystem::path resume_from_;
};

}  // namespace agf::fusion
