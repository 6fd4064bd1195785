#include "ecg/leads.h"

#include <fmt/core.h>

#include <algorithm>

#include "ecg/text_util.h"
#include "tensor/error.h"

namespace agf::ecg {

std::optional<int> standard_lead_index(std::string_view name) {
  name = text::trim(name);
  for (int i = 0; i < kStandardLeadCount; ++i)
    if (text::iequals(name, kStandardLeads[static_cast<size_t>(i)])) return i;
  return std::nullopt;
}

std::vector<int64_t> parse_lead_mask(std::string_view spec) {
  spec = text::trim(spec);
  if (spec.empty() || text::iequals(spec, "all")) return {};
  if (text::iequals(spec, "1lead")) return {0};
  if (text::iequals(spec, "3lead")) return {1, 6, 10};
  std::vector<int64_t> rows;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string_view name = text::trim(spec.substr(start, comma - start));
    const std::optional<int> row = standard_lead_index(name);
    if (!row)
      AGF_FAIL("lead mask '{}': '{}' is not a lead (all, 1lead = I, 3lead = II,V1,V5, or a comma-separated list of "
               "I, II, III, aVR, aVL, aVF, V1..V6)", spec, name);
    if (std::find(rows.begin(), rows.end(), *row) == rows.end()) rows.push_back(*row);
    start = comma + 1;
  }
  std::sort(rows.begin(), rows.end());
  if (rows.size() == static_cast<size_t>(kStandardLeadCount)) return {};
  return rows;
}

std::string lead_mask_name(const std::vector<int64_t>& leads) {
  if (leads.empty()) return "all";
  std::string s;
  for (int64_t r : leads) {
    if (!s.empty()) s += ",";
    s += r >= 0 && r < kStandardLeadCount ? std::string(kStandardLeads[static_cast<size_t>(r)]) : "?";
  }
  return s;
}

}  // namespace agf::ecg
