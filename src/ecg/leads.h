#pragma once
// The standard 12-lead order every prepared tensor uses: I, II, III, aVR, aVL, aVF, V1..V6.
#include <array>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg {

inline constexpr int kStandardLeadCount = 12;
inline constexpr std::array<std::string_view, kStandardLeadCount> kStandardLeads = {
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};

// Row of `name` in the standard order, case-insensitively ("avr" -> 3); nullopt for any other lead.
std::optional<int> standard_lead_index(std::string_view name);

// The leads a reduced-lead network reads (distillation's lead masking), as rows of the standard order, ascending:
// "all" or "" -> {} (every lead), "1lead" -> {I}, "3lead" -> {II, V1, V5} (spec/fusion.md), or a comma-separated
// list of lead names ("I,II,V2"). Anything else is an error naming what is not a lead.
std::vector<int64_t> parse_lead_mask(std::string_view spec);
// The inverse, for messages and reports: "all", or the lead names joined by commas.
std::string lead_mask_name(const std::vector<int64_t>& leads);

}  // namespace agf::ecg
