// libFuzzer target for the WFDB header parser (src/ecg/wfdb_header.*): each input is the text of a .hea file.
// A RecordError is the expected answer to a bad header; a crash, a sanitizer report, a leak, a timeout, any other
// exception, or a header accepted with fields outside the bounds the record reader relies on is a bug.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "ecg/wfdb_header.h"
#include "fuzz_expect.h"

namespace {

constexpr const char* kTarget = "fuzz_wfdb_header";

void require(bool ok, const char* what) { agf::fuzz::require(ok, kTarget, what); }

void check_accepted(const agf::ecg::WfdbHeader& h) {
  require(h.n_leads >= 1 && h.n_leads <= agf::ecg::kMaxLeads, "n_leads within 1..kMaxLeads");
  require(static_cast<int64_t>(h.leads.size()) == h.n_leads, "one lead line per announced lead");
  require(std::isfinite(h.fs) && h.fs > 0, "fs positive and finite");
  require(h.n_samples >= 1 && h.n_samples <= agf::ecg::kMaxSamples, "n_samples within 1..kMaxSamples");
  require(!h.age || std::isfinite(*h.age), "age finite when present");
  for (const agf::ecg::WfdbLead& l : h.leads) {
    require(std::isfinite(l.gain) && l.gain != 0.0, "gain finite and non-zero (it divides every sample)");
    require(std::isfinite(l.units_to_mv) && l.units_to_mv > 0, "a known voltage unit");
    require(l.byte_offset >= 0, "byte offset not negative");
    require(l.adc_resolution >= 0 && l.adc_resolution <= 64, "ADC resolution within 0..64");
    require(!l.file.empty(), "a data file name");
  }
  for (const std::string& code : h.dx) {
    require(!code.empty(), "no empty #Dx item");
    for (char c : code) require(c >= '0' && c <= '9', "#Dx items are digits");
  }
  require(!agf::ecg::sex_name(h.sex).empty(), "a name for every sex value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  agf::fuzz::expect_record_error(kTarget, [&] { check_accepted(agf::ecg::parse_wfdb_header(text, "fuzz")); });
  return 0;
}
