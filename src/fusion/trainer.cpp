#include "fusion/trainer.h"

#include <chrono>
#include <cmath>
#include <system_error>
#include <unistd.h>

#include "dataset/cutmix.h"
#include "dataset/loader.h"
#include "ecg/leads.h"
#include "fusion/evaluation.h"
#include "fusion/model_io.h"
#include "fusion/run_report.h"
#include "io/interrupt.h"
#include "kernels/ops.h"
#include "metrics/metrics_json.h"
#include "metrics/ranking.h"
#include "tensor/device.h"
#include "tensor/ledger.h"
#include "tensor/nvtx.h"

namespace agf::fusion {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void say(const TrainConfig& c, const std::string& line) {
  if (c.progress) fmt::print(stderr, "{}\n", line);
}

std::pair<int64_t, int64_t> parse_profile_window(const std::string& s) {
  if (s.empty()) return {-1, -1};
  const auto colon = s.find(':');
  try {
    AGF_CHECK(colon != std::string::npos, "");
    const int64_t a = std::stoll(s.substr(0, colon)), b = std::stoll(s.substr(colon + 1));
    AGF_CHECK(a >= 0 && b > a, "");
    return {a, b};
  } catch (const std::exception&) {
    AGF_FAIL("profile_steps '{}' must be a:b with 0 <= a < b (steps [a, b) are profiled)", s);
  }
}

nlohmann::json step_json(int64_t step, int64_t epoch, const StepRecord& r) {
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& p : r.phases) {
    // A phase met twice in a step (several ZO queries) sums its time and keeps its highest peak.
    auto& e = phases[p.name];
    if (e.is_null()) e = {{"s", 0.0}, {"peak", int64_t{0}}};
    e["s"] = e["s"].get<double>() + p.seconds;
    e["peak"] = std::max(e["peak"].get<int64_t>(), p.peak_bytes);
  }
  nlohmann::json j = {{"step", step},       {"epoch", epoch},           {"loss", r.loss},
                      {"coef", r.coef},     {"lr", r.lr},               {"grad_fo_norm", r.grad_fo_norm},
                      {"seconds", r.seconds}, {"peak_bytes", r.peak_bytes}, {"phases", phases}};
  if (r.zo_ran) {
    j["loss_plus"] = r.loss_plus;
    j["loss_minus"] = r.loss_minus;
    j["p"] = r.p;
  }
  if (r.fo_ran) j["loss_fo"] = r.loss_fo;
  return j;
}

// The progress line: on a terminal rewritten in place every half second, in a log a line every 10 s.
class ProgressLine {
 public:
  explicit ProgressLine(bool on) : on_(on), tty_(isatty(2) != 0), start_(Clock::now()), last_(start_) {}
  void update(int64_t step, int64_t total, int64_t epoch, double loss, int64_t steps_this_run, int64_t batch,
              double val_map, bool force) {
    if (!on_) return;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!force && since < (tty_ ? 0.5 : 10.0)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(steps_this_run) / secs : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total - step) / rate : 0.0;
    const std::string line = fmt::format(
        "step {}/{} (epoch {}) loss {:.4f}{} | {:.2f} steps/s, {:.1f} records/s | ETA {}", step, total, epoch, loss,
        val_map >= 0 ? fmt::format(" val mAP {:.4f}", val_map) : std::string(), rate,
        rate * static_cast<double>(batch), eta >= 120 ? fmt::format("{:.0f} min", eta / 60) : fmt::format("{:.0f} s", eta));
    if (tty_)
      fmt::print(stderr, "\r{:<100}", line);
    else
      fmt::print(stderr, "{}\n", line);
    printed_ = true;
  }
  void end() {
    if (on_ && tty_ && printed_) fmt::print(stderr, "\n");
  }

 private:
  bool on_, tty_, printed_ = false;
  Clock::time_point start_, last_;
};

fs::path checkpoint_of(const std::string& resume) {
  std::error_code ec;
  const fs::path p = resume;
  const fs::path file = fs::is_directory(p, ec) ? p / "last.safetensors" : p;
  AGF_CHECK(fs::is_regular_file(file, ec), "--resume {}: no training checkpoint there ({} does not exist)", resume,
            file.string());
  return file;
}

}  // namespace

Trainer::Trainer(const ResolvedConfig& rc) : cfg_(rc.config) {
  LoadedTraining header;
  if (!cfg_.resume.empty()) {
    resume_from_ = checkpoint_of(cfg_.resume);
    header = read_training_checkpoint_header(resume_from_);
    cfg_ = resumed_config(header.state.run_config, rc, resume_from_.string());
    cfg_.resume = rc.config.resume;
    cfg_.out = resume_from_.parent_path().string();
  }
  validate_config(cfg_);
  device_ = resolve_device(cfg_.device);
  parse_profile_window(cfg_.profile_steps);
  data_ = inspect_dataset(cfg_);
  TrainConfig build = cfg_;
  if (!resume_from_.empty()) build.backbone.clear();  // the weights come from the checkpoint
  model_ = build_model(build, data_);
  if (!resume_from_.empty() && header.state.fs > 0) model_.trained_fs = header.state.fs;
  // Built and loaded on the CPU, then moved: the optimizer's state (made or loaded below) follows its parameters.
  model_.net->to(device_);

  nn::AdamW::Options ao;
  ao.weight_decay = cfg_.weight_decay;
  optimizer_ = std::make_unique<nn::AdamW>(model_.net->trainable_parameters(), ao);
  StepOptions so;
  so.mode = parse_mode(cfg_.mode);
  so.zo_eps = cfg_.zo_eps;
  so.bp_batch = cfg_.bp_batch;
  so.zo_queries = cfg_.zo_queries;
  so.zo_sparsity = cfg_.zo_sparsity;
  so.grad_topk = cfg_.grad_topk;
  so.zo_chunk = cfg_.zo_chunk;
  so.gradient_checkpointing = cfg_.gradient_checkpointing;
  so.head_grad = parse_head_grad(cfg_.head_grad);
  so.reference_compat = cfg_.reference_compat;
  so.aux_weight = cfg_.aux_weight;
  so.normal_class = data_.normal_class;
  if (!cfg_.teacher.empty()) {
    teacher_ = load_teacher(cfg_, data_);
    teacher_.net->to(device_);
    so.teacher = teacher_.net.get();
    so.temperature = cfg_.temperature;
  }
  step_ = std::make_unique<FusionStep>(*model_.net, *optimizer_, so);

  batches_per_epoch_ = static_cast<int64_t>(data_.train.size()) / cfg_.batch_size;
  total_steps_ = cfg_.steps > 0 ? cfg_.steps
                                : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                                           cfg_.epochs * static_cast<double>(batches_per_epoch_))));
  eval_every_ = cfg_.eval_every > 0 ? cfg_.eval_every : batches_per_epoch_;
  rng_ = PhiloxStream(nn::name_key(cfg_.seed, "run"), 0);

  if (!resume_from_.empty()) {
    const TrainingState st = load_training_checkpoint(resume_from_, *model_.net, optimizer_.get());
    const nlohmann::json& p = st.progress;
    try {
      step_count_ = st.step;
      epoch_ = p.at("epoch").get<int64_t>();
      batch_in_epoch_ = p.at("batch_in_epoch").get<int64_t>();
      best_map_ = p.at("best_val_map").get<double>();
      best_step_ = p.at("best_step").get<int64_t>();
      evals_since_best_ = p.at("evals_since_best").get<int64_t>();
      stopped_early_ = p.at("stopped_early").get<bool>();
    } catch (const nlohmann::json::exception& e) {
      AGF_FAIL("{}: not a resumable checkpoint (its progress record is incomplete: {})", resume_from_.string(),
               e.what());
    }
    rng_ = st.rng;
    AGF_CHECK(step_count_ <= total_steps_, "{}: the checkpoint is at step {} of a run of {} steps", resume_from_.string(),
              step_count_, total_steps_);
    folder_ = std::make_unique<RunFolder>(RunFolder::reopen(cfg_.out, step_count_));
  } else {
    folder_ = std::make_unique<RunFolder>(RunFolder::create(cfg_.out));
    folder_->write_json("config.json", train_config_to_json(cfg_));
  }

  // The kernels a process runs do not change between its runs (agf-experiment trains several): said once.
  static bool kernels_said = false;
  if (!kernels_said && cfg_.progress) {
    say(cfg_, fmt::format("{} | device {}", ops::cpu_backend_summary(),
                          device_.is_cpu() ? std::string("cpu") : ops::device_summary(device_)));
    kernels_said = true;
  }
  int64_t trainable = 0;
  for (auto& [n, t] : model_.net->trainable_parameters()) trainable += t->numel();
  const bool zo = so.mode == Mode::fusion || so.mode == Mode::zo;
  say(cfg_, fmt::format("{}: {} {} ({} parameters, {} trainable{}), {} classes",
                        resume_from_.empty() ? "training" : fmt::format("resuming at step {}", step_count_), cfg_.mode,
                        cfg_.preset, model_.net->num_parameters(), trainable,
                        zo ? fmt::format(": {} perturbed, {} in the heads", step_->perturbed_set().numel(),
                                         step_->head_elements())
                           : std::string(),
                        data_.classes.size()));
  say(cfg_, fmt::format("data {}: {} train / {} val / {} test records at {} Hz, batch {}, {} steps ({} per epoch)",
                        cfg_.data, data_.train.size(), data_.val.size(), data_.test.size(), data_.fs, cfg_.batch_size,
                        total_steps_, batches_per_epoch_));
  if (teacher_.net)
    say(cfg_, fmt::format("distillation: teacher {} ({}, {} parameters, frozen), T = {}, student reads leads {}",
                          cfg_.teacher, teacher_.net->config().preset, teacher_.net->num_parameters(),
                          cfg_.temperature, ecg::lead_mask_name(model_.net->config().input_leads)));
  for (const auto& n : model_.notes) say(cfg_, "note: " + n);
}

Trainer::~Trainer() = default;

nlohmann::json Trainer::progress_json() const {
  return {{"epoch", epoch_},       {"batch_in_epoch", batch_in_epoch_}, {"best_val_map", best_map_},
          {"best_step", best_step_}, {"evals_since_best", evals_since_best_}, {"stopped_early", stopped_early_}};
}

void Trainer::save_checkpoint(const fs::path& path, bool with_optimizer) {
  TrainingState st;
  st.step = step_count_;
  st.fs = model_.trained_fs;
  st.run_config = train_config_to_json(cfg_);
  st.rng = rng_;
  st.progress = progress_json();
  st.classes = classes_to_json(data_.classes);
  save_training_checkpoint(path, *model_.net, with_optimizer ? optimizer_.get() : nullptr, st);
}

void Trainer::validate(int64_t step, double seconds_so_far) {
  NvtxRange range("validation");
  const auto t0 = Clock::now();
  const Predictions val = predict(*model_.net, data_.file, data_.val, cfg_.eval_batch);
  const metrics::RankingMetrics m = metrics::ranking_metrics(val.label_view(), val.score_view());
  const double map = m.mean_average_precision.value, auroc = m.macro_auroc.value;
  const bool better = std::isfinite(map) && map > best_map_;
  if (better) {
    best_map_ = map;
    best_step_ = step;
    evals_since_best_ = 0;
    save_checkpoint(folder_->best_checkpoint(), false);
  } else {
    ++evals_since_best_;
  }
  if (cfg_.patience > 0 && evals_since_best_ >= cfg_.patience) stopped_early_ = true;
  folder_->append_validation({{"step", step},
                              {"epoch", epoch_},
                              {"val_map", metrics::json_number(map)},
                              {"val_macro_auroc", metrics::json_number(auroc)},
                              {"best", better},
                              {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()},
                              {"train_seconds", seconds_so_far}});
}

TrainResult Trainer::run() {
  dataset::LoaderOptions lo;
  lo.batch_size = cfg_.batch_size;
  lo.drop_last = true;
  lo.seed = cfg_.seed;
  dataset::BatchLoader loader(data_.file, data_.train, lo);
  const nn::LRSchedule lr(nn::LRSchedule::Kind::warmup_linear, cfg_.learning_rate, total_steps_,
                          cfg_.warmup_fraction);
  const CoefSchedule coef = CoefSchedule::from_config(cfg_, total_steps_);
  const auto [profile_a, profile_b] = parse_profile_window(cfg_.profile_steps);
  ProgressLine progress(cfg_.progress);
  TrainResult result;
  result.run_dir = folder_->dir();
  result.planned_steps = total_steps_;
  const auto t0 = Clock::now();
  int64_t steps_this_run = 0;
  double last_loss = 0.0;
  loader.start_epoch(epoch_, batch_in_epoch_);
  while (step_count_ < total_steps_ && !stopped_early_) {
    std::optional<dataset::Batch> batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch_);
      batch_in_epoch_ = 0;
      continue;
    }
    Tensor x = batch->x, y = batch->y;
    if (cfg_.cutmix) dataset::cutmix_(x, y, rng_, cfg_.cutmix_alpha);
    x = x.to(device_);  // the batch is read and mixed on the host, then sent where the step runs
    y = y.to(device_);
    if (step_count_ == profile_a) profiler_start();
    const StepRecord rec = step_->run(x, y, lr.at(step_count_), coef.at(step_count_), rng_);
    if (step_count_ + 1 == profile_b) profiler_stop();
    folder_->append_step(step_json(step_count_, epoch_, rec));
    ++step_count_;
    ++batch_in_epoch_;
    ++steps_this_run;
    last_loss = rec.loss;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const bool validate_now = step_count_ % eval_every_ == 0 || step_count_ == total_steps_;
    if (validate_now) validate(step_count_, elapsed);
    const bool pause = cfg_.stop_after > 0 && steps_this_run >= cfg_.stop_after && step_count_ < total_steps_;
    if (validate_now || pause || io::interrupt_requested() ||
        (cfg_.checkpoint_every > 0 && step_count_ % cfg_.checkpoint_every == 0))
      save_checkpoint(folder_->last_checkpoint(), true);
    progress.update(step_count_, total_steps_, epoch_, last_loss, steps_this_run, cfg_.batch_size,
                    best_step_ >= 0 ? best_map_ : -1.0, validate_now);
    if (io::interrupt_requested()) {
      progress.end();
      io::throw_if_interrupted(fmt::format("the run stopped after step {} of {}; its checkpoint is {}: continue with "
                                           "--resume {}", step_count_, total_steps_,
                                           folder_->last_checkpoint().string(), folder_->dir().string()));
    }
    if (pause) {
      progress.end();
      result.paused = true;
      say(cfg_, fmt::format("paused after step {} of {} (stop_after {}): continue with --resume {}", step_count_,
                            total_steps_, cfg_.stop_after, folder_->dir().string()));
      break;
    }
  }
  progress.end();
  result.steps_done = step_count_;
  result.stopped_early = stopped_early_;
  result.best_val_map = best_map_;
  result.best_step = best_step_;
  if (!result.paused) {
    save_checkpoint(folder_->last_checkpoint(), true);
    result.report = finish(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return result;
}

nlohmann::json Trainer::finish(double seconds) {
  RunSummary s;
  s.config = train_config_to_json(cfg_);
  s.steps_done = step_count_;
  s.planned_steps = total_steps_;
  s.stopped_early = stopped_early_;
  s.best_step = best_step_;
  s.best_val_map = best_map_;
  s.seconds_this_invocation = seconds;
  s.parameters = model_.net->num_parameters();
  for (auto& [n, t] : model_.net->trainable_parameters()) s.trainable += t->numel();
  s.perturbed = step_->perturbed_set().numel();
  s.param_bytes = ledger(device_).live(MemTag::params);
  s.class_names.reserve(data_.classes.size());
  for (const auto& c : data_.classes) s.class_names.push_back(c.abbreviation);
  s.notes = model_.notes;
  // The test figures of the best network (the last one when no validation ever improved), thresholds from val.
  std::unique_ptr<nn::EcgNet> best;
  nn::EcgNet* eval_net = model_.net.get();
  std::error_code ec;
  if (best_step_ >= 0 && fs::exists(folder_->best_checkpoint(), ec)) {
    best = build_from_checkpoint(folder_->best_checkpoint());
    best->to(device_);
    eval_net = best.get();
  }
  const Predictions val = predict(*eval_net, data_.file, data_.val, cfg_.eval_batch);
  if (!data_.test.empty()) {
    const Predictions test = predict(*eval_net, data_.file, data_.test, cfg_.eval_batch);
    s.test = evaluate_split(test, val, data_.classes, "test");
  }
  s.val = evaluate_split(val, val, data_.classes, "val");
  return write_run_report(*folder_, s);
}

}  // namespace agf::fusion
