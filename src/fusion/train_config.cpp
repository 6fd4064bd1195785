#include "fusion/train_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "ecg/leads.h"
#include "tensor/error.h"

namespace agf::fusion {

const std::vector<ConfigKey>& train_config_keys() {
  using C = TrainConfig;
  static const std::vector<ConfigKey> keys = {
      {"data", &C::data, "prepared dataset file (.h5, from agf-collect); its train/val/test splits are used"},
      {"backbone", &C::backbone, "pretrained backbone to start from (.pt/.pth/.pkl/.safetensors); empty: random init"},
      {"preset", &C::preset, "EcgNet preset: tinylight, tiny, light, base, mediumv2, medium, large"},
      {"out", &C::out, "run folder (config, steps.jsonl, checkpoints, report, plots)"},
      {"resume", &C::resume, "continue the run saved in this folder (or training checkpoint), bit for bit"},
      {"mode", &C::mode, "fusion (ZO on the batch + FO on bp_batch), zo (MeZO), bp (backprop), fo_micro (FO only)"},
      {"learning_rate", &C::learning_rate, "AdamW peak learning rate (teacher 0.0025, student 0.002)"},
      {"zo_eps", &C::zo_eps, "SPSA perturbation size eps (typically 1e-3 .. 1e-4)"},
      {"bp_batch", &C::bp_batch, "first-order micro-batch b: the first b records of each batch (2, 4, 8)"},
      {"coef", &C::coef, "fusion coefficient of the constant schedule: g = coef g_fo + (1 - coef) matched g_zo"},
      {"coef_schedule", &C::coef_schedule,
       "two_phase (coef_start for the first coef_switch of the steps, then coef_end), constant (coef), linear "
       "(coef_start -> coef_end)"},
      {"coef_start", &C::coef_start, "first coefficient of the two_phase and linear schedules"},
      {"coef_end", &C::coef_end, "last coefficient of the two_phase and linear schedules"},
      {"coef_switch", &C::coef_switch, "two_phase: fraction of the planned steps run at coef_start"},
      {"r", &C::r, "LoRA rank (4, 8, 16); 0: no adapters"},
      {"lora_alpha", &C::lora_alpha, "LoRA alpha (scaling alpha / r); 0: alpha = r"},
      {"aux_weight", &C::aux_weight, "weight of the auxiliary abnormal/normal head's loss"},
      {"batch_size", &C::batch_size, "batch B of the ZO passes (and of bp)"},
      {"seed", &C::seed, "run seed: initialisation, data order, CutMix, perturbations"},
      {"head_grad", &C::head_grad, "micro (heads learn from the micro-batch) or full (from the whole batch)"},
      {"zo_queries", &C::zo_queries, "SPSA directions averaged per step (MeZO's n)"},
      {"zo_sparsity", &C::zo_sparsity, "fraction of P_zo left unperturbed each step (a Philox mask, never stored)"},
      {"grad_topk", &C::grad_topk, "fraction of each tensor's fused gradient kept (largest |g|); 0: all"},
      {"zo_chunk", &C::zo_chunk,
       "ZO passes stream the batch in chunks of this many records (BatchNorm then sees per-chunk statistics, as in "
       "gradient accumulation); 0: whole batch"},
      {"gradient_checkpointing", &C::gradient_checkpointing,
       "backprop keeps only each residual block's and transformer layer's input and recomputes the block in the "
       "backward pass: the FO pass (and bp) hold one block's activations, for one more forward; same gradients"},
      {"reference_compat", &C::reference_compat,
       "reproduce the PyTorch reference's step: L- without the auxiliary term, auxiliary target 1, two_phase coef"},
      {"weight_decay", &C::weight_decay, "AdamW decoupled weight decay"},
      {"warmup_fraction", &C::warmup_fraction, "linear LR warm-up over this fraction of the steps, then linear decay"},
      {"steps", &C::steps, "planned optimizer steps; 0: epochs x batches per epoch"},
      {"epochs", &C::epochs, "epochs over the train split, when steps is 0"},
      {"eval_every", &C::eval_every, "steps between validations (val split: macro AUROC, mAP); 0: once per epoch"},
      {"patience", &C::patience, "validations without a better val mAP before stopping early; 0: never"},
      {"eval_batch", &C::eval_batch, "batch of the validation forwards"},
      {"cutmix", &C::cutmix, "CutMix on training batches (Beta(cutmix_alpha, cutmix_alpha) boxes over leads x time)"},
      {"cutmix_alpha", &C::cutmix_alpha, "CutMix's Beta parameter"},
      {"gradient_gate", &C::gradient_gate,
       "main-head gradients only for records the auxiliary head calls abnormal (threshold: mean class prevalence)"},
      {"trainable", &C::trainable, "name patterns of the trainable parameters (comma-separated); empty: by mode and r"},
      {"reinit_classifier", &C::reinit_classifier, "the backbone's last head layer starts fresh (a new label set)"},
      {"allow_rate_mismatch", &C::allow_rate_mismatch,
       "accept a dataset prepared at another sampling rate than the backbone was trained at"},
      {"device", &C::device, "auto, cpu or cuda:N"},
      {"checkpoint_every", &C::checkpoint_every, "steps between resumable checkpoints; 0: at each validation"},
      {"profile_steps", &C::profile_steps, "a:b brackets steps [a, b) with cudaProfilerStart/Stop for nsys"},
      {"progress", &C::progress, "a progress line on stderr (loss, steps/s, ETA)"},
      {"stop_after", &C::stop_after,
       "stop, resumably, after this many steps of this invocation (continue with resume); 0: run to the end"},
      {"teacher", &C::teacher,
       "the fine-tuned teacher (a run's best.safetensors, LoRA merged on load, or a merged backbone); its label set "
       "must be the dataset's", true},
      {"temperature", &C::temperature, "distillation temperature T: soft targets sigmoid(teacher logits / T)", true},
      {"lead_mask", &C::lead_mask,
       "leads the student reads (others zeroed, in training and at inference): all, 1lead (I), 3lead (II, V1, V5), "
       "or a comma-separated list of lead names", true},
  };
  return keys;
}

nlohmann::json config_value(const TrainConfig& c, const ConfigKey& k) {
  return std::visit([&](auto member) { return nlohmann::json(c.*member); }, k.field);
}

std::string config_value_text(const TrainConfig& c, const ConfigKey& k) {
  const nlohmann::json v = config_value(c, k);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ",") + e.get<std::string>();
    return s;
  }
  return v.dump();
}

const char* config_type_label(const ConfigKey& k) {
  return std::visit(
      [](auto member) -> const char* {
        using T = std::remove_reference_t<decltype(std::declval<TrainConfig>().*member)>;
        if constexpr (std::is_same_v<T, std::string>) return "TEXT";
        if constexpr (std::is_same_v<T, double>) return "FLOAT";
        if constexpr (std::is_same_v<T, int64_t>) return "INT";
        if constexpr (std::is_same_v<T, uint64_t>) return "UINT";
        if constexpr (std::is_same_v<T, bool>) return "BOOL";
        return "LIST";
      },
      k.field);
}

namespace {

std::string type_name(const ConfigKey& k) {
  return std::visit(
      [](auto member) -> std::string {
        using T = std::remove_reference_t<decltype(std::declval<TrainConfig>().*member)>;
        if constexpr (std::is_same_v<T, std::string>) return "a string";
        if constexpr (std::is_same_v<T, double>) return "a number";
        if constexpr (std::is_same_v<T, int64_t>) return "an integer";
        if constexpr (std::is_same_v<T, uint64_t>) return "a non-negative integer";
        if constexpr (std::is_same_v<T, bool>) return "true or false";
        return "a list of strings";
      },
      k.field);
}

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

const ConfigKey* find_key(const std::string& name) {
  for (const auto& k : train_config_keys())
    if (name == k.key) return &k;
  return nullptr;
}

}  // namespace

void set_config_value(TrainConfig& c, const ConfigKey& k, const nlohmann::json& v, const std::string& source) {
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(c.*member)>;
        bool ok = false;
        if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
        if constexpr (std::is_same_v<T, double>) ok = v.is_number() && std::isfinite(v.get<double>());
        if constexpr (std::is_same_v<T, int64_t>) ok = v.is_number_integer();
        if constexpr (std::is_same_v<T, uint64_t>) ok = v.is_number_unsigned();
        if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_string(); });
        }
        AGF_CHECK(ok, "{}: '{}' must be {}, got {}", source, k.key, type_name(k), v.dump().substr(0, 60));
        c.*member = v.get<T>();
      },
      k.field);
}

void set_config_text(TrainConfig& c, const ConfigKey& k, const std::string& text) {
  const std::string source = fmt::format("--{}", k.key);
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*member = text;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::vector<std::string> items;
          std::stringstream ss(text);
          for (std::string item; std::getline(ss, item, ',');)
            if (!item.empty()) items.push_back(item);
          c.*member = items;
        } else {
          nlohmann::json v;
          try {
            v = nlohmann::json::parse(text);
          } catch (const nlohmann::json::exception&) {
            AGF_FAIL("{}: '{}' is not {}", source, text, type_name(k));
          }
          set_config_value(c, k, v, source);
        }
      },
      k.field);
}

void apply_config_json(TrainConfig& c, const nlohmann::json& j, const std::string& source) {
  AGF_CHECK(j.is_object(), "{}: a config must be a JSON object of keys, got {}", source, j.dump().substr(0, 60));
  for (const auto& [name, value] : j.items()) {
    const ConfigKey* k = find_key(name);
    if (!k) {
      const ConfigKey* nearest = nullptr;
      size_t best = SIZE_MAX;
      for (const auto& cand : train_config_keys())
        if (const size_t d = edit_distance(name, cand.key); d < best) best = d, nearest = &cand;
      AGF_FAIL("{}: unknown config key '{}'{}", source, name,
               nearest && best <= 3 ? fmt::format(" (did you mean '{}'?)", nearest->key) : std::string());
    }
    set_config_value(c, *k, value, source);
  }
}

nlohmann::json train_config_to_json(const TrainConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& k : train_config_keys()) j[k.key] = config_value(c, k);
  return j;
}

void validate_config(const TrainConfig& c) {
  const auto one_of = [](const std::string& key, const std::string& v, std::initializer_list<const char*> choices) {
    for (const char* ch : choices)
      if (v == ch) return;
    AGF_FAIL("'{}' is '{}'; it must be one of: {}", key, v, fmt::join(choices, ", "));
  };
  one_of("mode", c.mode, {"fusion", "zo", "bp", "fo_micro"});
  one_of("coef_schedule", c.coef_schedule, {"two_phase", "constant", "linear"});
  one_of("head_grad", c.head_grad, {"micro", "full"});
  AGF_CHECK(c.learning_rate > 0, "'learning_rate' must be positive, got {}", c.learning_rate);
  AGF_CHECK(c.zo_eps > 0, "'zo_eps' must be positive, got {} (the SPSA perturbation size)", c.zo_eps);
  AGF_CHECK(c.batch_size >= 1, "'batch_size' must be >= 1, got {}", c.batch_size);
  AGF_CHECK(c.bp_batch >= 1 && c.bp_batch <= c.batch_size,
            "'bp_batch' must lie in 1..batch_size ({}), got {} (the micro-batch is the first bp_batch records of each "
            "batch)", c.batch_size, c.bp_batch);
  for (const auto& [key, v] : {std::pair<const char*, double>{"coef", c.coef}, {"coef_start", c.coef_start},
                               {"coef_end", c.coef_end}, {"coef_switch", c.coef_switch}})
    AGF_CHECK(v >= 0 && v <= 1, "'{}' must lie in [0, 1], got {}", key, v);
  AGF_CHECK(c.r >= 0 && c.r <= 4096, "'r' (LoRA rank) must lie in 0..4096, got {}", c.r);
  AGF_CHECK(c.lora_alpha >= 0, "'lora_alpha' must be >= 0, got {}", c.lora_alpha);
  AGF_CHECK(c.aux_weight >= 0, "'aux_weight' must be >= 0, got {}", c.aux_weight);
  AGF_CHECK(c.zo_queries >= 1 && c.zo_queries <= 1024, "'zo_queries' must lie in 1..1024, got {}", c.zo_queries);
  AGF_CHECK(c.zo_sparsity >= 0 && c.zo_sparsity < 1, "'zo_sparsity' must lie in [0, 1), got {}", c.zo_sparsity);
  AGF_CHECK(c.grad_topk >= 0 && c.grad_topk <= 1, "'grad_topk' must lie in [0, 1], got {}", c.grad_topk);
  AGF_CHECK(c.zo_chunk >= 0, "'zo_chunk' must be >= 0, got {}", c.zo_chunk);
  AGF_CHECK(c.weight_decay >= 0, "'weight_decay' must be >= 0, got {}", c.weight_decay);
  AGF_CHECK(c.warmup_fraction >= 0 && c.warmup_fraction < 1, "'warmup_fraction' must lie in [0, 1), got {}",
            c.warmup_fraction);
  AGF_CHECK(c.steps >= 0, "'steps' must be >= 0, got {}", c.steps);
  AGF_CHECK(c.steps > 0 || c.epochs > 0, "'epochs' must be positive when 'steps' is 0, got {}", c.epochs);
  AGF_CHECK(c.eval_every >= 0 && c.patience >= 0 && c.checkpoint_every >= 0,
            "'eval_every', 'patience' and 'checkpoint_every' must be >= 0");
  AGF_CHECK(c.eval_batch >= 1, "'eval_batch' must be >= 1, got {}", c.eval_batch);
  AGF_CHECK(c.cutmix_alpha > 0, "'cutmix_alpha' must be positive, got {}", c.cutmix_alpha);
  AGF_CHECK(!c.out.empty(), "'out' (the run folder) must not be empty");
  AGF_CHECK(c.temperature > 0, "'temperature' must be positive, got {}", c.temperature);
  ecg::parse_lead_mask(c.lead_mask);  // an unknown lead name fails here, naming it
}

}  // namespace agf::fusion

namespace agf::fusion {

namespace {
const ConfigKey& key_named(const std::string& name) {
  const ConfigKey* k = find_key(name);
  AGF_CHECK(k != nullptr, "unknown config key '{}'", name);
  return *k;
}
bool changeable_on_resume(const std::string& key) {
  // What changes where and how a run computes, not what: gradient_checkpointing gives the same gradients bit for bit
  // (a run that ran out of memory continues with it on).
  for (const char* k : {"resume", "out", "device", "progress", "profile_steps", "stop_after", "gradient_checkpointing"})
    if (key == k) return true;
  return false;
}
}  // namespace

ResolvedConfig resolve_config(TrainConfig defaults, const std::string& config_file,
                              const std::vector<std::pair<std::string, std::string>>& overrides) {
  ResolvedConfig r{std::move(defaults), {}};
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    AGF_CHECK(in.good(), "config file {} cannot be opened", config_file);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/true);
    } catch (const nlohmann::json::exception& e) {
      AGF_FAIL("config file {} is not valid JSON: {}", config_file, e.what());
    }
    apply_config_json(r.config, j, config_file);
    for (const auto& [name, v] : j.items()) r.explicit_keys.push_back(name);
  }
  for (const auto& [name, text] : overrides) {
    set_config_text(r.config, key_named(name), text);
    r.explicit_keys.push_back(name);
  }
  return r;
}

TrainConfig resumed_config(const nlohmann::json& stored, const ResolvedConfig& invocation, const std::string& source) {
  TrainConfig c;
  apply_config_json(c, stored, source + " (its stored config)");
  for (const std::string& name : invocation.explicit_keys) {
    const ConfigKey& k = key_named(name);
    if (changeable_on_resume(name)) {
      set_config_value(c, k, config_value(invocation.config, k), "--" + name);
      continue;
    }
    AGF_CHECK(config_value(c, k) == config_value(invocation.config, k),
              "{}: '{}' is {} but the run was started with {}; a resumed run keeps its config (start a new run to "
              "change it)", source, name, config_value(invocation.config, k).dump(), config_value(c, k).dump());
  }
  return c;
}

}  // namespace agf::fusion
