#pragma once
// The training apps' command line: every key of the config table as --<key> (and --<key-with-dashes>) with its
// help and default, plus --config FILE. What the user gave explicitly is resolved by fusion::resolve_config.
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "app_main.h"
#include "fusion/train_config.h"

namespace agf::app {

class TrainOptions {
 public:
  // Adds the options to `cli`, showing `defaults` (an app's own: the teacher's learning rate, pretraining's mode).
  // The distillation keys (teacher, temperature, lead_mask) belong to agf-distill alone.
  TrainOptions(CLI::App& cli, fusion::TrainConfig defaults, bool distillation = false)
      : defaults_(std::move(defaults)), distillation_(distillation) {
    cli.add_option("--config", config_file_, "JSON config file of the keys below; command-line options override it");
    for (const auto& k : fusion::train_config_keys()) {
      if (k.distillation && !distillation_) continue;
      std::string names = std::string("--") + k.key;
      std::string dashed = k.key;
      for (char& ch : dashed)
        if (ch == '_') ch = '-';
      if (dashed != k.key) names += ",--" + dashed;
      cli.add_option(names, given_[k.key], k.help)
          ->type_name(fusion::config_type_label(k))
          ->default_str(fusion::config_value_text(defaults_, k));
    }
    cli_ = &cli;
  }

  // The config as the command line resolves it; a bad value is a usage error (exit status 2) naming the option.
  fusion::ResolvedConfig resolve() const {
    std::vector<std::pair<std::string, std::string>> overrides;
    for (const auto& k : fusion::train_config_keys())
      if (given_.count(k.key) && cli_->count(std::string("--") + k.key) > 0)
        overrides.emplace_back(k.key, given_.at(k.key));
    fusion::ResolvedConfig rc;
    as_usage_error([&] {
      rc = fusion::resolve_config(defaults_, config_file_, overrides);
      fusion::validate_config(rc.config);
      if (!distillation_) {
        const fusion::TrainConfig plain;
        AGF_CHECK(rc.config.teacher.empty() && rc.config.temperature == plain.temperature &&
                      rc.config.lead_mask == plain.lead_mask,
                  "'teacher', 'temperature' and 'lead_mask' are agf-distill's keys (this app trains without a teacher)");
      }
    });
    return rc;
  }

 private:
  fusion::TrainConfig defaults_;
  bool distillation_ = false;
  std::string config_file_;
  std::map<std::string, std::string> given_;
  CLI::App* cli_ = nullptr;
};

}  // namespace agf::app
