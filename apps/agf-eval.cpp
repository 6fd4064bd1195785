// agf-eval: the metrics of a trained network on a dataset split, or the official Challenge 2021 evaluation of a
// folder of output files.
//   agf-eval --checkpoint runs/ga/best.safetensors --data prepared/WFDB_Ga.h5 [--split test] [--json m.json]
//            [--write-outputs outputs/]      (Challenge-format output files of the split, thresholds from val)
//   agf-eval --labels /data/WFDB_Ga --outputs outputs/ [--weights weights.csv] [--json m.json]
#include <fmt/core.h>

#include <filesystem>
#include <system_error>

#include "app_main.h"
#include "dataset/dataset_reader.h"
#include "ecg/challenge_output_file.h"
#include "ecg/leads.h"
#include "fusion/challenge_folders.h"
#include "fusion/evaluation.h"
#include "fusion/model_io.h"
#include "fusion/training_setup.h"
#include "io/atomic_file.h"
#include "metrics/class_table.h"
#include "metrics/metrics_json.h"
#include "tensor/allocator.h"

using namespace agf;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string checkpoint, data, split = "test", threshold_split = "val", json, write_outputs;
  int64_t batch = 64;
  std::string labels, outputs, weights;
  std::string device = "auto";
};

void write_json(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  io::write_file_atomically(path, j.dump(2) + "\n");
  fmt::print("metrics written to {}\n", path);
}

void evaluate_network(const Options& o) {
  const auto part = dataset::parse_split_part(o.split), threshold_part = dataset::parse_split_part(o.threshold_split);
  const dataset::DatasetReader reader(o.data);
  // A run's checkpoint runs as it was trained (adapters unmerged); a backbone export (a merged teacher, a student) as
  // it was written.
  fusion::FrozenNetwork f = fusion::load_frozen_network(o.checkpoint, /*merge_lora=*/false);
  nn::EcgNet* net = f.net.get();
  net->to(fusion::resolve_device(o.device));
  AGF_CHECK(net->config().n_classes == reader.num_classes(),
            "{} has a head of {} classes but {} has {}: evaluate it on the dataset it was trained for", o.checkpoint,
            net->config().n_classes, o.data, reader.num_classes());
  AGF_CHECK(f.classes.empty() || f.classes == reader.classes(),
            "{} predicts another label set than {} (same count, other classes or order): evaluate it on the dataset "
            "it was trained for", o.checkpoint, o.data);
  AGF_CHECK(f.fs <= 0 || std::abs(f.fs - reader.fs()) < 1e-6,
            "{} was trained on {} Hz records but {} holds {} Hz ones", o.checkpoint, f.fs, o.data, reader.fs());
  if (!net->config().input_leads.empty())
    fmt::print("{} reads leads {} (the others are zeroed)\n", o.checkpoint,
               ecg::lead_mask_name(net->config().input_leads));
  const auto& rows = reader.split(part);
  AGF_CHECK(!rows.empty(), "{}: the {} split is empty", o.data, o.split);
  const fusion::Predictions eval = fusion::predict(*net, o.data, rows, o.batch);
  const fusion::Predictions thr = fusion::predict(*net, o.data, reader.split(threshold_part), o.batch);
  const fusion::SplitReport r = fusion::evaluate_split(eval, thr, reader.classes(), o.split);
  fmt::print("{} on {} ({} split, {} records; thresholds chosen on {} to maximise F2):\n{}", o.checkpoint, o.data,
             o.split, rows.size(), o.threshold_split, metrics::format_class_table(r.report));
  if (r.challenge && r.challenge->value("computed", false))
    fmt::print("Challenge 2021 score (on the dataset's classes): {:.4f}\n",
               (*r.challenge)["challenge_score"].get<double>());
  write_json(o.json, r.to_json());
  if (!o.write_outputs.empty()) {
    std::error_code ec;
    fs::create_directories(o.write_outputs, ec);
    AGF_CHECK(!ec, "cannot create {}: {}", o.write_outputs, ec.message());
    std::vector<std::string> codes;
    for (const auto& c : reader.classes()) codes.push_back(c.code);
    for (int64_t i = 0; i < eval.rows; ++i) {
      std::vector<bool> binary;
      std::vector<double> scalar;
      for (int64_t k = 0; k < eval.classes; ++k) {
        const double s = eval.scores[static_cast<size_t>(i * eval.classes + k)];
        scalar.push_back(s);
        binary.push_back(s >= r.report.at_thresholds.thresholds[static_cast<size_t>(k)]);
      }
      const std::string record = reader.record_ids()[static_cast<size_t>(rows[static_cast<size_t>(i)])];
      AGF_CHECK(io::plain_file_name_problem(record + ".csv").empty(), "record id '{}' cannot name an output file",
                record);
      io::write_file_atomically(fs::path(o.write_outputs) / (record + ".csv"),
                                ecg::format_challenge_output(record, codes, binary, scalar));
    }
    fmt::print("{} Challenge output files written to {}\n", eval.rows, o.write_outputs);
  }
}

void evaluate_folders(const Options& o) {
  const fusion::FolderEvaluation f = fusion::evaluate_challenge_folders(o.labels, o.outputs, o.weights);
  const auto& e = f.evaluation;
  const auto num = [](double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : std::string("nan"); };
  fmt::print("{} records of {} scored against {}\n", e.records, o.outputs, o.labels);
  for (const auto& m : f.malformed_outputs)
    fmt::print("  {}.csv has formatting errors: every output counted negative (as the official script does)\n", m);
  fmt::print("AUROC {}\nAUPRC {}\nAccuracy {}\nF-measure {}\nChallenge Metric {}\n", num(e.auc.macro_auroc.value),
             num(e.auc.macro_auprc.value), num(e.accuracy), num(e.f_measure.macro.value), num(e.score.normalized));
  nlohmann::json j = metrics::to_json(e);
  j["malformed_outputs"] = f.malformed_outputs;
  write_json(o.json, j);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_host_memory_mapped();
  CLI::App cli{"agf-eval: the metrics of a trained network on a dataset split (per class and macro AUROC, AP, F1, F2, "
               "G2, Hamming loss, subset accuracy, ranking loss, coverage, the Challenge score), or the official "
               "Challenge 2021 evaluation of a folder of output files",
               "agf-eval"};
  app::configure(cli);
  Options o;
  cli.add_option("--checkpoint", o.checkpoint, "a trained network (best.safetensors or last.safetensors of a run)");
  cli.add_option("--data", o.data, "the prepared dataset (.h5) to evaluate it on");
  cli.add_option("--split", o.split, "split to evaluate: train, val or test");
  cli.add_option("--threshold-split", o.threshold_split, "split on which per-class thresholds maximise F2");
  cli.add_option("--batch", o.batch, "batch of the forwards")->check(app::integer_in(1, 1 << 16));
  cli.add_option("--write-outputs", o.write_outputs,
                 "also write the split's Challenge-format output files (<record>.csv) into this folder");
  cli.add_option("--labels", o.labels, "folder of label headers (.hea with #Dx), for the official evaluation");
  cli.add_option("--outputs", o.outputs, "folder of Challenge output files (<record>.csv)");
  cli.add_option("--weights", o.weights, "the Challenge's weights.csv (default: the project's copy)");
  cli.add_option("--json", o.json, "write every metric as JSON to this file");
  cli.add_option("--device", o.device, "auto, cpu or cuda:N (the forwards)");
  return app::run_app(cli, argc, argv, [&] {
    const bool network = !o.checkpoint.empty() || !o.data.empty();
    const bool folders = !o.labels.empty() || !o.outputs.empty();
    app::usage_check(network != folders, "give either --checkpoint and --data, or --labels and --outputs");
    if (network) {
      app::usage_check(!o.checkpoint.empty() && !o.data.empty(), "--checkpoint and --data go together");
      fusion::check_device(o.device);  // before any file is read: a bad --device is a usage error
      evaluate_network(o);
    } else {
      app::usage_check(!o.labels.empty() && !o.outputs.empty(), "--labels and --outputs go together");
      evaluate_folders(o);
    }
  });
}
