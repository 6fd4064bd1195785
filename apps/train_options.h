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
  TrainOptions(CLI::App& cli, fusion::TrainConfig defaults) : defaults_(std::move(defaults)) {
    cli.add_option("--config", config_file_, "JSON config file of the keys below; command-line options override it");
    for (const auto& k : fusion::train_config_keys()) {
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
      if (cli_->count(std::string("--") + k.key) > 0) overrides.emplace_back(k.key, given_.at(k.key));
    fusion::ResolvedConfig rc;
    as_usage_error([&] {
      rc = fusion::resolve_config(defaults_, config_file_, overrides);
      fusion::validate_config(rc.config);
    });
    return rc;
  }

 private:
  fusion::TrainConfig defaults_;
  std::string config_file_;
  std::map<std::string, std::string> given_;
  CLI::App* cli_ = nullptr;
};

}  // namespace agf::app
