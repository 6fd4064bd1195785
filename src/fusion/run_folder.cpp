#include "fusion/run_folder.h"

#include <system_error>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace agf::fusion {

namespace fs = std::filesystem;

namespace {
constexpr const char* kSteps = "steps.jsonl";
constexpr const char* kValidation = "validation.jsonl";

// Keeps the lines of a JSON-lines log whose "step" is below `step` (a line cut short by a crash is dropped too).
void cut_log(const fs::path& path, int64_t step) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    if (j["step"].get<int64_t>() < step) kept += line + "\n";
  }
  io::write_file_atomically(path, kept);
}
}  // namespace

RunFolder RunFolder::create(const fs::path& dir) {
  std::error_code ec;
  AGF_CHECK(!fs::exists(dir / "config.json", ec),
            "run folder {} already holds a run: choose another 'out', or continue it with --resume {}", dir.string(),
            dir.string());
  fs::create_directories(dir, ec);
  AGF_CHECK(!ec, "cannot create the run folder {}: {}", dir.string(), ec.message());
  RunFolder r(dir);
  r.open_logs(false);
  return r;
}

RunFolder RunFolder::reopen(const fs::path& dir, int64_t step) {
  std::error_code ec;
  AGF_CHECK(fs::is_directory(dir, ec), "run folder {} does not exist", dir.string());
  cut_log(dir / kSteps, step);
  cut_log(dir / kValidation, step + 1);  // a validation at the checkpoint's own step belongs to it
  RunFolder r(dir);
  r.open_logs(true);
  return r;
}

void RunFolder::open_logs(bool append) {
  const auto mode = append ? std::ios::app : std::ios::trunc;
  steps_.open(dir_ / kSteps, std::ios::out | mode);
  validation_.open(dir_ / kValidation, std::ios::out | mode);
  AGF_CHECK(steps_.good() && validation_.good(), "cannot write the logs in {}", dir_.string());
}

void RunFolder::write_json(const std::string& name, const nlohmann::json& j) const {
  io::write_file_atomically(dir_ / name, j.dump(2) + "\n");
}

void RunFolder::write_text(const std::string& name, const std::string& text) const {
  io::write_file_atomically(dir_ / name, text);
}

void RunFolder::append_step(const nlohmann::json& line) {
  steps_ << line.dump() << '\n';
  steps_.flush();
  AGF_CHECK(steps_.good(), "cannot append to {}", (dir_ / kSteps).string());
}

void RunFolder::append_validation(const nlohmann::json& line) {
  validation_ << line.dump() << '\n';
  validation_.flush();
  AGF_CHECK(validation_.good(), "cannot append to {}", (dir_ / kValidation).string());
}

std::vector<nlohmann::json> RunFolder::read_log(const std::string& name) const {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir_ / name);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace agf::fusion
