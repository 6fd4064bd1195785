// The trainer: exact resume in every mode (10 steps + resume + 10 = 20 straight, bit for bit), Ctrl-C finishing the
// step and leaving a resumable checkpoint, the run folder's files, and the refusals that must come before anything
// is written.
#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <fstream>

#include "fusion/model_io.h"
#include "fusion/trainer.h"
#include "fusion/trainer_test_util.h"
#include "io/interrupt.h"
#include "io/safetensors.h"

using namespace agf;
using namespace agf::fusion;
using namespace agf::fusion::test;

namespace {

ResolvedConfig plain(const TrainConfig& c) { return ResolvedConfig{c, {}}; }

std::vector<std::string> step_lines(const fs::path& run) {
  std::vector<std::string> out;
  std::ifstream in(run / "steps.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    // Timings differ between runs, and the ledger's peaks count whatever else the test process holds (an earlier
    // trainer); everything the computation produced must not differ.
    j.erase("seconds");
    j.erase("phases");
    j.erase("peak_bytes");
    out.push_back(j.dump());
  }
  return out;
}

// Every tensor of a checkpoint (model and optimizer), byte for byte.
bool same_checkpoint_tensors(const fs::path& a, const fs::path& b) {
  const io::SafetensorsFile fa = io::load_safetensors(a), fb = io::load_safetensors(b);
  if (fa.tensors.size() != fb.tensors.size()) return false;
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const Tensor& x = fa.tensors[i].second;
    const Tensor& y = fb.tensors[i].second;
    if (fa.tensors[i].first != fb.tensors[i].first || x.nbytes() != y.nbytes() ||
        std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0)
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("train 10 + resume + 10 equals 20 straight, bit for bit, in every mode") {
  TempDir dir("trainer_resume");
  write_learnable_dataset(dir / "d.h5");
  for (const char* mode : {"fusion", "zo", "bp", "fo_micro"}) {
    CAPTURE(mode);
    TrainConfig straight = small_run(dir / "d.h5", dir / (std::string("straight_") + mode), mode);
    straight.zo_sparsity = std::string(mode) == "fusion" ? 0.2 : 0.0;  // the mask stream resumes too
    const TrainResult a = Trainer(plain(straight)).run();
    CHECK(a.steps_done == 20);

    TrainConfig halves = straight;
    halves.out = (dir / (std::string("halves_") + mode)).string();
    halves.stop_after = 10;
    const TrainResult first = Trainer(plain(halves)).run();
    CHECK(first.paused);
    CHECK(first.steps_done == 10);
    TrainConfig resume;
    resume.resume = halves.out;
    resume.progress = false;
    const TrainResult second = Trainer(ResolvedConfig{resume, {"resume", "progress"}}).run();
    CHECK(second.steps_done == 20);
    CHECK_FALSE(second.paused);

    const auto la = step_lines(a.run_dir), lb = step_lines(second.run_dir);
    REQUIRE(la.size() == 20);
    CHECK(la == lb);
    CHECK(same_checkpoint_tensors(a.run_dir / "last.safetensors", second.run_dir / "last.safetensors"));
    CHECK(a.best_step == second.best_step);
    CHECK(a.best_val_map == second.best_val_map);
  }
}

TEST_CASE("a run resumed with gradient_checkpointing on ends as the run without it, bit for bit") {
  // Checkpointing changes what backprop keeps, not what it computes: the key may change on resume (a run that ran
  // out of memory continues with it), and the result is the straight run's.
  TempDir dir("trainer_resume_ckpt");
  write_learnable_dataset(dir / "d.h5");
  TrainConfig straight = small_run(dir / "d.h5", dir / "straight", "fusion");
  const TrainResult a = Trainer(plain(straight)).run();
  TrainConfig halves = straight;
  halves.out = (dir / "halves").string();
  halves.stop_after = 10;
  CHECK(Trainer(plain(halves)).run().paused);
  TrainConfig resume;
  resume.resume = halves.out;
  resume.progress = false;
  resume.gradient_checkpointing = true;
  const TrainResult b = Trainer(ResolvedConfig{resume, {"resume", "progress", "gradient_checkpointing"}}).run();
  CHECK(b.steps_done == 20);
  CHECK(step_lines(a.run_dir) == step_lines(b.run_dir));
  CHECK(same_checkpoint_tensors(a.run_dir / "last.safetensors", b.run_dir / "last.safetensors"));
  // Another key that changes the computation is still refused.
  TrainConfig other;
  other.resume = halves.out;
  other.zo_chunk = 2;
  CHECK_THROWS_WITH_AS(Trainer(ResolvedConfig{other, {"resume", "zo_chunk"}}).run(),
                       doctest::Contains("'zo_chunk' is 2 but the run was started with"), Error);
}

TEST_CASE("Ctrl-C finishes the step, writes a resumable checkpoint, and the resumed run continues exactly") {
  TempDir dir("trainer_interrupt");
  write_learnable_dataset(dir / "d.h5");
  const TrainConfig straight = small_run(dir / "d.h5", dir / "straight", "fusion");
  const TrainResult a = Trainer(plain(straight)).run();

  TrainConfig c = straight;
  c.out = (dir / "interrupted").string();
  io::install_interrupt_handlers();
  Trainer t(plain(c));
  std::raise(SIGINT);  // as a user's Ctrl-C: the handler only raises the flag; the step under way completes
  CHECK_THROWS_WITH_AS(t.run(), doctest::Contains("interrupted by SIGINT: the run stopped after step 1 of 20"),
                       io::Interrupted);
  io::clear_interrupt();
  CHECK(fs::exists(dir / "interrupted" / "last.safetensors"));
  CHECK(read_training_checkpoint_header(dir / "interrupted" / "last.safetensors").state.step == 1);

  TrainConfig r;
  r.resume = c.out;
  r.progress = false;
  const TrainResult b = Trainer(ResolvedConfig{r, {"resume", "progress"}}).run();
  CHECK(step_lines(a.run_dir) == step_lines(b.run_dir));
  CHECK(same_checkpoint_tensors(a.run_dir / "last.safetensors", b.run_dir / "last.safetensors"));
}

TEST_CASE("the run folder: config, logs, checkpoints, report and plots") {
  TempDir dir("trainer_folder");
  write_learnable_dataset(dir / "d.h5");
  TrainConfig c = small_run(dir / "d.h5", dir / "run", "fusion");
  c.warmup_fraction = 0.1;  // 2 of the 20 steps
  const TrainResult r = Trainer(plain(c)).run();
  for (const char* f : {"config.json", "steps.jsonl", "validation.jsonl", "last.safetensors", "best.safetensors",
                        "report.json", "report.md", "loss.png", "val_map.png"})
    CHECK_MESSAGE(fs::exists(r.run_dir / f), std::string(f));
  // No temporary left beside them.
  for (const auto& e : fs::directory_iterator(r.run_dir)) CHECK(e.path().extension() != ".tmp");
  const auto report = nlohmann::json::parse(std::ifstream(r.run_dir / "report.json"));
  CHECK(report["steps"] == 20);
  CHECK(report["test"]["macro"]["auroc"]["value"].is_number());
  CHECK(report["phases"].contains("zo/forward+"));
  CHECK(report["phases"].contains("fo/backward"));
  CHECK(report["phases"]["update"]["peak_bytes"].get<int64_t>() > 0);
  const auto lines = step_lines(r.run_dir);
  const auto first = nlohmann::json::parse(lines.front());
  for (const std::string key : {"loss", "loss_plus", "loss_minus", "p", "coef", "lr", "grad_fo_norm"})
    CHECK_MESSAGE(first.contains(key), key);
  std::string first_line;
  std::getline(std::ifstream(r.run_dir / "steps.jsonl") >> std::ws, first_line);
  const auto raw = nlohmann::json::parse(first_line);
  CHECK(raw["peak_bytes"].get<int64_t>() > 0);
  CHECK(raw["phases"]["zo/forward+"]["peak"].get<int64_t>() > 0);
  CHECK(first["coef"] == 0.99);  // two_phase: the first 20% of the steps at 0.99
  CHECK(nlohmann::json::parse(lines.back())["coef"] == 0.9);
  CHECK(first["lr"] == 0.0);  // warm-up: step s runs at s/warmup of the rate, as the reference's scheduler does
  CHECK(nlohmann::json::parse(lines[1])["lr"] == 0.0025);
  CHECK(nlohmann::json::parse(lines[2])["lr"] == 0.005);
  // The PNGs are real PNG files of the requested size (IHDR: width, height big-endian at bytes 16-23).
  std::ifstream png(r.run_dir / "loss.png", std::ios::binary);
  unsigned char head[24] = {};
  png.read(reinterpret_cast<char*>(head), 24);
  CHECK(std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0);
  CHECK(((head[16] << 24) | (head[17] << 16) | (head[18] << 8) | head[19]) == 960);
  CHECK(((head[20] << 24) | (head[21] << 16) | (head[22] << 8) | head[23]) == 600);
}

TEST_CASE("bad input is refused before the run folder exists") {
  TempDir dir("trainer_refusals");
  write_learnable_dataset(dir / "d.h5");
  const fs::path out = dir / "never";
  const TrainConfig good = small_run(dir / "d.h5", out, "fusion");
  const auto refused = [&](const TrainConfig& c, const std::string& message) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(Trainer{plain(c)}, doctest::Contains(message.c_str()), Error);
    CHECK_FALSE(fs::exists(out));
  };
  TrainConfig c = good;
  c.zo_eps = 0;
  refused(c, "'zo_eps' must be positive, got 0");
  c = good;
  c.zo_eps = -1e-3;
  refused(c, "'zo_eps' must be positive");
  c = good;
  c.bp_batch = 9;
  refused(c, "'bp_batch' must lie in 1..batch_size (8), got 9");
  c = good;
  c.data = (dir / "missing.h5").string();
  refused(c, "missing.h5 does not exist");
  // An unknown config key, with the nearest known one.
  TrainConfig scratch;
  CHECK_THROWS_WITH_AS(apply_config_json(scratch, {{"learning_rat", 0.1}}, "run.json"),
                       doctest::Contains("unknown config key 'learning_rat' (did you mean 'learning_rate'?)"), Error);
  // A backbone whose head does not fit the label set (kept, not re-initialised).
  {
    nn::EcgNet other(nn::preset_config("tinylight", 5, true), 1);
    TrainingState st;
    save_training_checkpoint(dir / "five_classes.safetensors", other, nullptr, st);
  }
  c = good;
  c.backbone = (dir / "five_classes.safetensors").string();
  c.reinit_classifier = false;
  refused(c, "classifier.1.weight");
  // A resume that contradicts the run's preset.
  TrainConfig first = good;
  first.out = (dir / "first").string();
  first.stop_after = 2;
  Trainer(plain(first)).run();
  TrainConfig r;
  r.resume = first.out;
  r.preset = "tiny";
  CHECK_THROWS_WITH_AS(Trainer(ResolvedConfig{r, {"resume", "preset"}}),
                       doctest::Contains("'preset' is \"tiny\" but the run was started with \"tinylight\""), Error);
  // A new run into a folder that holds one.
  CHECK_THROWS_WITH_AS(Trainer(plain(first)), doctest::Contains("already holds a run"), Error);
}

TEST_CASE("a backbone trained at another sampling rate is refused unless allowed") {
  TempDir dir("trainer_rate");
  write_learnable_dataset(dir / "d.h5");  // 500 Hz
  {
    nn::EcgNet teacher(nn::preset_config("tinylight", 3, true), 1);
    TrainingState st;
    st.fs = 400;
    save_training_checkpoint(dir / "teacher400.safetensors", teacher, nullptr, st);
  }
  TrainConfig c = small_run(dir / "d.h5", dir / "run", "fusion");
  c.backbone = (dir / "teacher400.safetensors").string();
  CHECK_THROWS_WITH_AS(Trainer{plain(c)}, doctest::Contains("agf-collect --target-fs 400"), Error);
  CHECK_FALSE(fs::exists(dir / "run"));
  c.allow_rate_mismatch = true;
  c.steps = 2;
  CHECK(Trainer(plain(c)).run().steps_done == 2);
}

TEST_CASE("early stopping: patience validations without a better mAP end the run, and the best network is kept") {
  TempDir dir("trainer_patience");
  write_learnable_dataset(dir / "d.h5");
  // fo_micro leaves BatchNorm's running statistics alone (no ZO pass), and at this rate the weights move by 1e-12:
  // the validation scores keep their order, so no validation beats the first.
  TrainConfig c = small_run(dir / "d.h5", dir / "run", "fo_micro");
  c.learning_rate = 1e-12;
  c.eval_every = 2;
  c.patience = 2;
  const TrainResult r = Trainer(plain(c)).run();
  CHECK(r.stopped_early);
  CHECK(r.steps_done == 6);  // validations at 2 (best), 4 and 6 (two without improvement): stop
  CHECK(r.best_step == 2);
  const auto best = read_training_checkpoint_header(r.run_dir / "best.safetensors");
  CHECK(best.state.step == 2);
  CHECK(r.report["stopped_early"] == true);
}
