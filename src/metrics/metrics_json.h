#pragma once
// JSON forms of every result of this library. An undefined value (NaN) is written as null.
#include <nlohmann/json.hpp>

#include <vector>

#include "metrics/challenge_evaluation.h"
#include "metrics/ranking.h"
#include "metrics/report.h"
#include "metrics/threshold_metrics.h"
#include "metrics/threshold_search.h"

namespace agf::metrics {

nlohmann::json json_number(double v);  // null for NaN (JSON has no NaN)

nlohmann::json to_json(const MacroMean& m);  // {"value", "classes_used", "classes_left_out"}
nlohmann::json to_json(const Confusion& c);
nlohmann::json to_json(const RankingMetrics& m);
nlohmann::json to_json(const ThresholdMetrics& m);
nlohmann::json to_json(const std::vector<ThresholdChoice>& choices);
nlohmann::json to_json(const MetricsReport& r);  // per class objects (by name) + macro means + record metrics
nlohmann::json to_json(const ChallengeScore& s);
nlohmann::json to_json(const ChallengeEvaluation& e);

}  // namespace agf::metrics
