#include "fusion/evaluation.h"

#include <cmath>

#include "dataset/loader.h"
#include "ecg/scoring_weights.h"
#include "kernels/ops.h"
#include "metrics/challenge_evaluation.h"
#include "metrics/metrics_json.h"
#include "metrics/threshold_metrics.h"

namespace agf::fusion {

Predictions predict(nn::EcgNet& net, const std::filesystem::path& data, const std::vector<int64_t>& rows,
                    int64_t batch) {
  dataset::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = false;
  dataset::BatchLoader loader(data, rows, lo);
  Predictions p;
  p.rows = static_cast<int64_t>(rows.size());
  p.classes = loader.num_classes();
  p.scores.reserve(static_cast<size_t>(p.rows * p.classes));
  p.labels.reserve(p.scores.capacity());
  const bool was_training = net.training();
  net.eval();
  NoGradGuard no_grad;
  MemScope scope(MemTag::activations);
  const auto params = net.named_parameters();
  const Device device = params.empty() ? Device::cpu() : params.front().second->device();  // where the net runs
  loader.start_epoch(0);
  while (auto b = loader.next()) {
    const Tensor prob =
        ops::sigmoid(net.forward(b->x.to(device)).main_logits).to(Device::cpu()).to(DType::f64).contiguous();
    const double* s = prob.data<double>();
    p.scores.insert(p.scores.end(), s, s + prob.numel());
    for (float v : b->y.to_vector<float>()) p.labels.push_back(v > 0.5f ? 1 : 0);
  }
  net.train(was_training);
  AGF_CHECK(static_cast<int64_t>(p.scores.size()) == p.rows * p.classes, "predict: {} scores for {} rows of {} classes",
            p.scores.size(), p.rows, p.classes);
  return p;
}

namespace {

// The official score needs the classes among the weights' and the normal class (NSR) among them: the score of an
// always-NSR classifier is its zero point.
std::optional<nlohmann::json> challenge_evaluation(const Predictions& eval, const std::vector<double>& thresholds,
                                                   const std::vector<dataset::DatasetClass>& classes) {
  const ecg::ScoringWeights weights = ecg::ScoringWeights::load_default();
  std::vector<int64_t> index;
  std::vector<std::string> keys;
  for (const auto& c : classes) {
    const auto i = weights.index_of(c.code);
    if (!i) return nlohmann::json{{"computed", false}, {"why", "class " + c.code + " has no Challenge scoring weight"}};
    index.push_back(*i);
    keys.push_back(weights.class_keys()[static_cast<size_t>(*i)]);
  }
  bool has_normal = false;
  for (const auto& k : keys) has_normal = has_normal || k == metrics::kChallengeNormalClass;
  if (!has_normal)
    return nlohmann::json{{"computed", false}, {"why", "NSR (426783006) is not among the classes: no inactive score"}};
  std::vector<double> w;
  for (int64_t r : index)
    for (int64_t c : index) w.push_back(weights.at(r, c));
  const metrics::ChallengeClasses cc(keys, w);
  const metrics::HostMatrix<uint8_t> binary = metrics::binarize(eval.score_view(), thresholds);
  nlohmann::json j = metrics::to_json(metrics::evaluate_challenge(cc, eval.label_view(), binary.view(),
                                                                  eval.score_view()));
  j["computed"] = true;
  j["restricted_to"] = "the dataset's classes (labels outside them were not kept)";
  return j;
}

}  // namespace

SplitReport evaluate_split(const Predictions& eval, const Predictions& threshold_source,
                           const std::vector<dataset::DatasetClass>& classes, const std::string& split_name) {
  AGF_CHECK(eval.classes == threshold_source.classes && eval.classes == static_cast<int64_t>(classes.size()),
            "evaluation: {} classes scored, {} in the threshold split, {} in the dataset", eval.classes,
            threshold_source.classes, classes.size());
  SplitReport r;
  r.split = split_name;
  r.thresholds = metrics::choose_thresholds(threshold_source.label_view(), threshold_source.score_view(), 2.0);
  const std::vector<double> t = metrics::thresholds_of(r.thresholds);
  std::vector<std::string> names;
  for (const auto& c : classes) names.push_back(c.abbreviation);
  r.report = metrics::evaluate(eval.label_view(), eval.score_view(), t, names);
  r.challenge = challenge_evaluation(eval, t, classes);
  return r;
}

nlohmann::json SplitReport::to_json() const {
  nlohmann::json j = metrics::to_json(report);
  j["split"] = split;
  j["thresholds"] = metrics::to_json(thresholds);
  if (challenge) j["challenge"] = *challenge;
  return j;
}

}  // namespace agf::fusion
