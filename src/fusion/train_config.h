#pragma once
// The configuration of a training run, under the PyTorch reference's hyper-parameter names (spec/fusion.md), so that
// its users feel at home. One table of keys is the single source of: the JSON config file (an unknown key is an error
// that suggests the nearest known one), the command-line overrides (--<key> VALUE), the --help text with each default,
// and the resolved config written to the run folder.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace agf::fusion {

struct TrainConfig {
  // ---- data and model
  std::string data;             // prepared dataset file (.h5, from agf-collect)
  std::string backbone;         // published backbone (.pt/.pth/.pkl/.safetensors); empty: fresh initialisation
  std::string preset = "tinylight";
  std::string out = "runs/finetune";  // the run folder
  std::string resume;           // a run folder or training checkpoint to continue from
  // ---- AdaGrad-Fusion (the reference's names)
  std::string mode = "fusion";  // fusion | zo | bp | fo_micro
  double learning_rate = 0.0025;
  double zo_eps = 1e-3;
  int64_t bp_batch = 8;
  double coef = 0.9;
  std::string coef_schedule = "two_phase";  // two_phase | constant | linear
  double coef_start = 0.99, coef_end = 0.9;  // linear (and the two phases of two_phase)
  double coef_switch = 0.2;     // two_phase: the fraction of planned steps at coef_start
  int64_t r = 16;               // LoRA rank; 0: no LoRA (every parameter of `trainable` trains)
  double lora_alpha = 0.0;      // 0: alpha = r (scaling 1)
  double aux_weight = 1.0;
  int64_t batch_size = 128;
  uint64_t seed = 18;
  std::string head_grad = "micro";  // micro | full
  int64_t zo_queries = 1;
  double zo_sparsity = 0.0;
  double grad_topk = 0.0;       // fraction of each tensor's gradient kept; 0: all
  int64_t zo_chunk = 0;         // 0: the ZO passes take the batch at once
  bool gradient_checkpointing = false;  // backward passes recompute each block instead of keeping its activations
  bool reference_compat = false;
  // ---- optimizer and schedule
  double weight_decay = 0.01;
  double warmup_fraction = 0.01;
  // ---- the loop
  int64_t steps = 0;            // planned steps; 0: epochs * batches per epoch
  double epochs = 10.0;
  int64_t eval_every = 0;       // steps between validations; 0: once per epoch
  int64_t patience = 0;         // validations without a better mAP before stopping; 0: never stop early
  int64_t eval_batch = 64;
  bool cutmix = true;
  double cutmix_alpha = 0.75;
  bool gradient_gate = true;
  std::vector<std::string> trainable;  // name patterns; empty: LoRA + biases + heads (r > 0), or everything (r = 0)
  bool reinit_classifier = true;       // the backbone's last head layer starts fresh (a new label set)
  bool allow_rate_mismatch = false;
  std::string device = "auto";         // auto | cpu | cuda:N
  int64_t checkpoint_every = 0;        // steps between resumable checkpoints; 0: at validations and at the end
  std::string profile_steps;           // "a:b": cudaProfilerStart/Stop around steps [a, b)
  bool progress = true;                // the progress line on stderr
  int64_t stop_after = 0;              // stop (resumably) after this many steps of this invocation; 0: run to the end
  // ---- distillation (agf-distill): a frozen teacher's soft targets join the loss
  std::string teacher;                 // a fine-tuned teacher (a run's best.safetensors or a merged backbone); empty: none
  double temperature = 1.0;            // T of the soft targets sigmoid(t / T)
  std::string lead_mask = "all";       // the leads the student reads: all, 1lead (I), 3lead (II, V1, V5), or names
};

// One key of the table: its name, where it lives in TrainConfig, and what --help says of it.
struct ConfigKey {
  const char* key;
  std::variant<std::string TrainConfig::*, double TrainConfig::*, int64_t TrainConfig::*, uint64_t TrainConfig::*,
               bool TrainConfig::*, std::vector<std::string> TrainConfig::*>
      field;
  const char* help;
  bool distillation = false;  // a key of agf-distill only (the other apps neither show nor take it)
};
const std::vector<ConfigKey>& train_config_keys();

// A key's current value as JSON, and as the text --help shows as its default.
nlohmann::json config_value(const TrainConfig& c, const ConfigKey& k);
std::string config_value_text(const TrainConfig& c, const ConfigKey& k);
// What --help shows as the key's type: TEXT, FLOAT, INT, UINT, BOOL or LIST (comma-separated).
const char* config_type_label(const ConfigKey& k);
// Sets a key from JSON (a config file) or from text (a command-line override); the message names the key and the
// value when the type is wrong.
void set_config_value(TrainConfig& c, const ConfigKey& k, const nlohmann::json& value, const std::string& source);
void set_config_text(TrainConfig& c, const ConfigKey& k, const std::string& text);

// Every key of a JSON object applied in turn: an unknown key is an error naming it (and the nearest known key).
void apply_config_json(TrainConfig& c, const nlohmann::json& j, const std::string& source);
nlohmann::json train_config_to_json(const TrainConfig& c);  // every key

// The checks that need no file: ranges, choices, bp_batch <= batch_size, ... (an error names the key).
void validate_config(const TrainConfig& c);

// A config as a run resolves it: defaults, then a JSON config file, then command-line overrides, remembering which
// keys were given explicitly (a resumed run takes its config from its checkpoint, and refuses an explicit key that
// contradicts it, except those that may change between invocations: resume, out, device, progress, profile_steps,
// stop_after).
struct ResolvedConfig {
  TrainConfig config;
  std::vector<std::string> explicit_keys;
};
ResolvedConfig resolve_config(TrainConfig defaults, const std::string& config_file,
                              const std::vector<std::pair<std::string, std::string>>& overrides);
// The config of a resumed run: `stored` (from its checkpoint) with the invocation's changeable keys applied; an
// error names the first explicit key that contradicts it.
TrainConfig resumed_config(const nlohmann::json& stored, const ResolvedConfig& invocation, const std::string& source);

}  // namespace agf::fusion
