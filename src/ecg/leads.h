#pragma once
// The standard 12-lead order every prepared tensor uses: I, II, III, aVR, aVL, aVF, V1..V6.
#include <array>
#include <optional>
#include <string_view>

namespace agf::ecg {

inline constexpr int kStandardLeadCount = 12;
inline constexpr std::array<std::string_view, kStandardLeadCount> kStandardLeads = {
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};

// Row of `name` in the standard order, case-insensitively ("avr" -> 3); nullopt for any other lead.
std::optional<int> standard_lead_index(std::string_view name);

}  // namespace agf::ecg
