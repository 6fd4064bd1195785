// agf-synth: writes synthetic 12-lead ECG data sets in the formats of the real ones, for tests, demos and
// pipeline checks without the real data.
//   agf-synth challenge --out DIR --n 20000 --seed 1 [--fs 500 --seconds 10 --mix SPEC --noise 1 --threads N]
//   agf-synth code15    --out DIR --n 2000 --parts 2 --seed 1 [--mix SPEC --noise 1 --threads N]
//   agf-synth classes   (the classes, their SNOMED CT codes and the default mix)
// Exit status and messages: apps/app_main.h. Every record file is written atomically; Ctrl-C stops the run before
// the next record (the files on disk are whole records) and says how far it got.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app_main.h"
#include "ecg/synth/synth_set.h"
#include "tensor/allocator.h"

namespace {

using namespace agf::synth;

// One progress line on stderr: rewritten in place on a terminal, every ~10% otherwise (logs, CI).
class ProgressLine {
 public:
  explicit ProgressLine(bool quiet) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {}
  void operator()(const SetProgress& p) {
    if (quiet_ || finished_) return;
    finished_ = p.done == p.total;
    const std::string line = fmt::format("agf-synth: {}/{} records ({:.0f}%), {:.0f} records/s, ETA {:.1f} s", p.done,
                                         p.total, 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total),
                                         p.records_per_s(), p.eta_s());
    if (tty_) {
      fmt::print(stderr, "\r{:<90}", line);
      if (p.done == p.total) fmt::print(stderr, "\n");
    } else if (p.done * 10 / p.total > last_decile_ || p.done == p.total) {
      last_decile_ = p.done * 10 / p.total;
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }

 private:
  bool quiet_, tty_;
  bool finished_ = false;
  int64_t last_decile_ = 0;
};

void print_classes() {
  const ClassMix mix = ClassMix::defaults();
  fmt::print("class   SNOMED       default  description\n");
  for (const auto& c : synth_classes())
    fmt::print("{:<7} {:<12} {:<8} {}{}\n", c.abbreviation, c.snomed, mix[c.cls], c.description,
               is_rhythm(c.cls) ? " (rhythm: relative weight)" : " (finding: probability)");
}

}  // namespace

int main(int argc, char** argv) {
  agf::keep_freed_host_memory_mapped();
  using namespace agf::app;
  auto log = spdlog::stderr_color_mt("agf-synth");
  log->set_pattern("agf-synth: %^%l%$: %v");
  CLI::App app{"Synthetic 12-lead ECG data sets (Challenge 2021 records, CODE-15% parts)", "agf-synth"};
  configure(app);
  app.require_subcommand(1);

  std::string out, mix_spec = "default";
  int64_t n = 100;
  uint64_t seed = 1;
  double fs = 500.0, seconds = 10.0, noise = 1.0;
  int threads = 0, parts = 1;
  bool quiet = false;

  CLI::App* challenge = app.add_subcommand("challenge", "NAME.hea + NAME.mat records (PhysioNet/CinC 2021 format)");
  CLI::App* code15 = app.add_subcommand("code15", "exams_partN.hdf5 + exams.csv (CODE-15% format, 400 Hz)");
  CLI::App* classes = app.add_subcommand("classes", "list the classes, SNOMED CT codes and the default mix");
  for (CLI::App* sub : {challenge, code15}) {
    sub->add_option("--out", out, "output folder (created if missing)")->required();
    sub->add_option("--n", n, "number of records")->required()->check(integer_in(1, 99'999'999))->default_str("");
    sub->add_option("--seed", seed, "record i is a pure function of (seed, i)")->check(unsigned_integer());
    sub->add_option("--mix", mix_spec,
                    "class mix, e.g. NSR=0.5,AF=0.3,SB=0.2,IAVB=0.1 (rhythms: weights; findings: probabilities; "
                    "unnamed classes 0) or 'default' (see: agf-synth classes)");
    sub->add_option("--noise", noise, "artefact scale: 1 typical, 0 none")->check(real_in(0, 10));
    sub->add_option("--threads", threads, "worker threads (0: all cores)")->check(integer_in(0, 1024));
    sub->add_flag("--quiet", quiet, "no progress line");
  }
  challenge->add_option("--fs", fs, "sampling rate, Hz")->check(real_in(100, 5000));
  challenge->add_option("--seconds", seconds, "record length, s")->check(real_in(2, 600));
  code15->add_option("--parts", parts, "number of exams_partN.hdf5 files (at most --n)")
      ->check(integer_in(1, 99'999'999));

  return run_app(app, argc, argv, [&] {
    if (classes->parsed()) return print_classes();
    ProgressLine progress(quiet);
    SetSummary summary;
    if (challenge->parsed()) {
      ChallengeSetOptions o;
      o.out_dir = out;
      o.n = n;
      o.seed = seed;
      o.config.fs = fs;
      o.config.seconds = seconds;
      o.threads = threads;
      // The options' own checks (the mix, fs x seconds) are command-line errors too.
      as_usage_error([&] {
        o.config.mix = ClassMix::parse(mix_spec);
        o.config.noise_scale = noise;
        o.validate();
      });
      log->info("{} Challenge records, {} Hz x {} s, seed {}, {} threads, mix {}", n, fs, seconds, seed,
                resolve_threads(threads), o.config.mix.describe());
      summary = write_challenge_set(o, std::ref(progress));
    } else {
      Code15SetOptions o;
      o.out_dir = out;
      o.n = n;
      o.parts = parts;
      o.seed = seed;
      o.noise_scale = noise;
      o.threads = threads;
      as_usage_error([&] {
        o.mix = ClassMix::parse(mix_spec);
        o.validate();
      });
      log->info("{} CODE-15 exams in {} part(s), seed {}, {} threads, mix {}", n, parts, seed, resolve_threads(threads),
                o.mix.describe());
      summary = write_code15_set(o, std::ref(progress));
    }
    fmt::print("{}", summary.format());
    fmt::print("wrote {} in {:.2f} s ({:.0f} records/s)\n", out, summary.elapsed_s,
               static_cast<double>(summary.records) / std::max(summary.elapsed_s, 1e-9));
  });
}
