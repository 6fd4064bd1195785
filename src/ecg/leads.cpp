#include "ecg/leads.h"

#include "ecg/text_util.h"

namespace agf::ecg {

std::optional<int> standard_lead_index(std::string_view name) {
  name = text::trim(name);
  for (int i = 0; i < kStandardLeadCount; ++i)
    if (text::iequals(name, kStandardLeads[static_cast<size_t>(i)])) return i;
  return std::nullopt;
}

}  // namespace agf::ecg
