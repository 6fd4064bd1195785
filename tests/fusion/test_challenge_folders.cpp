// agf-eval's folder mode: Challenge output files scored against label headers as the official evaluation script
// does, on a case worked out by hand (tests/metrics has the same case through the library's record API).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "ecg/challenge_output_file.h"
#include "fusion/challenge_folders.h"

using namespace agf;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / fmt::format("agf_challenge_folders_{}_{}", getpid(), std::random_device{}());
    fs::create_directories(dir / "labels");
    fs::create_directories(dir / "outputs");
  }
  ~Scratch() { fs::remove_all(dir); }
  void write(const fs::path& rel, const std::string& text) const { std::ofstream(dir / rel) << text; }
};

std::string header(const std::string& record, const std::string& dx) {
  return fmt::format("{} 12 500 5000\n{}.mat 16+24 1000/mV 16 0 0 0 0 I\n#Age: 60\n#Sex: Male\n#Dx: {}\n#Rx: Unknown\n",
                     record, record, dx);
}

}  // namespace

TEST_CASE("Challenge output files: parsed as the official script reads them") {
  const auto f = ecg::parse_challenge_output("#A0001\n164889003, 59118001 ,426783006\n1,True,t\n0.9,nan,x\n");
  REQUIRE(f.well_formed);
  CHECK(f.codes == std::vector<std::string>{"164889003", "59118001", "426783006"});
  CHECK(f.binary == std::vector<bool>{true, true, true});
  CHECK(f.scalar[0] == 0.9);
  CHECK(std::isnan(f.scalar[1]));  // a number (the score later counts it as 0)
  CHECK(f.scalar[2] == 0.0);       // not a number: 0
  CHECK_FALSE(ecg::parse_challenge_output("#A\n1,2\n1,0\n").well_formed);         // two lines
  CHECK_FALSE(ecg::parse_challenge_output("#A\n1,2\n1,0,1\n0.5,0.5\n").well_formed);  // ragged
  const std::string written = ecg::format_challenge_output("A7", {"1", "2"}, {true, false}, {0.25, 0.125});
  CHECK(written == "#A7\n1,2\n1,0\n0.25,0.125\n");
  const auto back = ecg::parse_challenge_output(written);
  CHECK(back.scalar == std::vector<double>{0.25, 0.125});
}

TEST_CASE("agf-eval's folder scoring matches the hand-worked official score") {
  Scratch s;
  // Classes AF, CRBBB|RBBB (scored as one), NSR (normal), IAVB; row = labelled class, column = output class.
  s.write("weights.csv",
          ",164889003,713427006|59118001,426783006,10370003\n"
          "164889003,1,0.5,0,0.25\n"
          "713427006|59118001,0.5,1,0,0.5\n"
          "426783006,0,0,1,0.5\n"
          "10370003,0.25,0.5,0.5,1\n");
  // 1: labelled CRBBB, output RBBB: the same class.
  s.write("labels/R1.hea", header("R1", "713427006"));
  s.write("outputs/R1.csv", "#R1\n59118001,164889003,426783006,10370003\n1,0,0,0\n0.9,0.2,0.1,0.3\n");
  // 2: AF + the unscored 251187003 in labels and outputs (ignored); outputs AF and NSR.
  s.write("labels/R2.hea", header("R2", "164889003,251187003"));
  s.write("outputs/R2.csv", "#R2\n164889003,251187003,426783006,59118001\n1,1,1,0\n0.8,0.7,0.6,0.4\n");
  // 3: NSR, no positive output; IAVB's scalar is NaN (counts as 0).
  s.write("labels/R3.hea", header("R3", "426783006"));
  s.write("outputs/R3.csv", "#R3\n164889003,426783006,10370003\n0,0,0\n0.4,0.45,nan\n");
  // 4: AF + CRBBB; outputs AF and IAVB; CRBBB|RBBB in two columns (scalars .5 and .3: mean .4; binary any: 0).
  s.write("labels/R4.hea", header("R4", "164889003,713427006"));
  s.write("outputs/R4.csv", "#R4\n164889003,713427006,59118001,10370003\n1,0,0,1\n0.7,0.5,0.3,0.5\n");
  s.write("labels/.hidden.hea", "not a record");  // skipped, as the script skips hidden files

  const fusion::FolderEvaluation f =
      fusion::evaluate_challenge_folders(s.dir / "labels", s.dir / "outputs", s.dir / "weights.csv");
  const auto& e = f.evaluation;
  CHECK(e.records == 4);
  CHECK(f.malformed_outputs.empty());
  // observed 2.25, correct 4.5, inactive 1 (worked out in tests/metrics/test_challenge.cpp): (2.25 - 1) / 3.5.
  CHECK(std::fabs(e.score.normalized - 5.0 / 14.0) <= 1e-15);
  CHECK(e.accuracy == 0.25);
  CHECK(std::fabs(e.f_measure.macro.value - 5.0 / 12.0) <= 1e-15);
  CHECK(std::fabs(e.auc.macro_auroc.value - 61.0 / 72.0) <= 1e-15);
  CHECK(std::fabs(e.auc.macro_auprc.value - 7.0 / 9.0) <= 1e-15);
  CHECK(std::isnan(e.auc.auroc[3]));  // IAVB: no positive label

  // A malformed output file reads as all negative, as the script reads it: record 1 then has no output, so its
  // CRBBB label earns nothing: observed 2.25 - 1 = 1.25, score (1.25 - 1) / 3.5 = 1/14.
  s.write("outputs/R1.csv", "#R1\n59118001,164889003\n1,0\n");
  const fusion::FolderEvaluation g =
      fusion::evaluate_challenge_folders(s.dir / "labels", s.dir / "outputs", s.dir / "weights.csv");
  CHECK(g.malformed_outputs == std::vector<std::string>{"R1"});
  CHECK(std::fabs(g.evaluation.score.normalized - 1.0 / 14.0) <= 1e-15);

  // A label file without its output file is an error naming both, as in the official script.
  fs::remove(s.dir / "outputs/R4.csv");
  CHECK_THROWS_WITH_AS(fusion::evaluate_challenge_folders(s.dir / "labels", s.dir / "outputs", s.dir / "weights.csv"),
                       doctest::Contains("R4.csv not found for label file"), Error);
}
