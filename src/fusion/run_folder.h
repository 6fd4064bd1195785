#pragma once
// A training run's folder:
//   config.json         the resolved config (every key)
//   steps.jsonl         one line per step: loss, L+, L-, p, coef, lr, ||g_fo||, seconds and ledger peak per phase
//   validation.jsonl    one line per validation: macro AUROC, mAP, per-class AP
//   last.safetensors    the resumable training checkpoint (model, optimizer, RNG, data position)
//   best.safetensors    the network at the best validation mAP
//   report.json, report.md, loss.png, val_map.png   written when the run ends
// Whole files are written atomically (io::AtomicFile); the two logs are appended line by line and, on resume, cut
// back to the checkpoint's step so that a resumed run's logs read as if it had never stopped.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace agf::fusion {

class RunFolder {
 public:
  // A new run: `dir` is created; a folder that already holds a run (a config.json) is refused, naming --resume.
  static RunFolder create(const std::filesystem::path& dir);
  // A resumed run at `step`: the logs keep only their entries of steps before it.
  static RunFolder reopen(const std::filesystem::path& dir, int64_t step);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path last_checkpoint() const { return dir_ / "last.safetensors"; }
  std::filesystem::path best_checkpoint() const { return dir_ / "best.safetensors"; }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }

  void write_json(const std::string& name, const nlohmann::json& j) const;  // atomic
  void write_text(const std::string& name, const std::string& text) const;  // atomic
  void append_step(const nlohmann::json& line);
  void append_validation(const nlohmann::json& line);

  // The logs as written so far (a resumed run's earlier lines included), for the report and its plots.
  std::vector<nlohmann::json> read_log(const std::string& name) const;

 private:
  explicit RunFolder(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void open_logs(bool append);
  std::filesystem::path dir_;
  std::ofstream steps_, validation_;
};

}  // namespace agf::fusion
