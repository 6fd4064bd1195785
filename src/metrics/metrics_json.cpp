#include "metrics/metrics_json.h"

#include <cmath>

namespace agf::metrics {

using nlohmann::json;

namespace {

json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(json_number(x));
  return a;
}

}  // namespace

json json_number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

json to_json(const MacroMean& m) {
  return json{{"value", json_number(m.value)}, {"classes_used", m.classes_used},
              {"classes_left_out", m.classes_left_out}};
}

json to_json(const Confusion& c) { return json{{"tp", c.tp}, {"fp", c.fp}, {"fn", c.fn}, {"tn", c.tn}}; }

json to_json(const RankingMetrics& m) {
  return json{{"n_positive", m.n_positive},
              {"n_negative", m.n_negative},
              {"auroc", numbers(m.auroc)},
              {"average_precision", numbers(m.average_precision)},
              {"macro_auroc", to_json(m.macro_auroc)},
              {"map", to_json(m.mean_average_precision)}};
}

json to_json(const ThresholdMetrics& m) {
  json confusions = json::array();
  for (const Confusion& c : m.confusion) confusions.push_back(to_json(c));
  return json{{"thresholds", numbers(m.thresholds)},
              {"confusion", confusions},
              {"f1", numbers(m.f1)},
              {"f2", numbers(m.f2)},
              {"g2", numbers(m.g2)},
              {"macro_f1", to_json(m.macro_f1)},
              {"macro_f2", to_json(m.macro_f2)},
              {"macro_g2", to_json(m.macro_g2)},
              {"hamming_loss", m.hamming_loss},
              {"subset_accuracy", m.subset_accuracy}};
}

json to_json(const std::vector<ThresholdChoice>& choices) {
  json a = json::array();
  for (const ThresholdChoice& c : choices)
    a.push_back(json{{"threshold", c.threshold}, {"f_beta", json_number(c.f_beta)}, {"fallback", c.fallback}});
  return a;
}

json to_json(const MetricsReport& r) {
  json per_class = json::array();
  for (size_t k = 0; k < r.classes.size(); ++k) {
    const ThresholdMetrics& t = r.at_thresholds;
    json c = {{"class", r.classes[k]},
              {"n_positive", r.ranking.n_positive[k]},
              {"n_negative", r.ranking.n_negative[k]},
              {"auroc", json_number(r.ranking.auroc[k])},
              {"average_precision", json_number(r.ranking.average_precision[k])},
              {"threshold", json_number(t.thresholds[k])},
              {"f1", json_number(t.f1[k])},
              {"f2", json_number(t.f2[k])},
              {"g2", json_number(t.g2[k])}};
    c.update(to_json(t.confusion[k]));
    per_class.push_back(std::move(c));
  }
  return json{{"classes", per_class},
              {"macro",
               {{"auroc", to_json(r.ranking.macro_auroc)},
                {"map", to_json(r.ranking.mean_average_precision)},
                {"f1", to_json(r.at_thresholds.macro_f1)},
                {"f2", to_json(r.at_thresholds.macro_f2)},
                {"g2", to_json(r.at_thresholds.macro_g2)}}},
              {"hamming_loss", r.at_thresholds.hamming_loss},
              {"subset_accuracy", r.at_thresholds.subset_accuracy},
              {"label_ranking_loss", r.label_ranking_loss},
              {"coverage_error", r.coverage_error}};
}

json to_json(const ChallengeScore& s) {
  return json{{"challenge_score", s.normalized},
              {"observed", s.observed},
              {"correct", s.correct},
              {"inactive", s.inactive}};
}

json to_json(const ChallengeEvaluation& e) {
  json j = to_json(e.score);
  j["classes"] = e.classes;
  j["records"] = e.records;
  j["auroc"] = to_json(e.auc.macro_auroc);
  j["auprc"] = to_json(e.auc.macro_auprc);
  j["accuracy"] = e.accuracy;
  j["f_measure"] = to_json(e.f_measure.macro);
  j["per_class"] = {{"auroc", numbers(e.auc.auroc)},
                    {"auprc", numbers(e.auc.auprc)},
                    {"f_measure", numbers(e.f_measure.per_class)}};
  return j;
}

}  // namespace agf::metrics
