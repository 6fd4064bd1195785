#pragma once
// A multi-lead ECG in millivolts as double, the common currency between the readers (Challenge records, CODE-15
// exams) and the preprocessing: filters run in double so that they match scipy to rounding.
#include <cstdint>
#include <string>
#include <vector>

namespace agf::ecg {

struct Signal {
  std::string id;                       // record / exam id, for messages
  double fs = 0.0;                      // Hz
  int64_t n_samples = 0;
  std::vector<std::string> lead_names;  // one per row
  std::vector<double> mv;               // lead-major: lead l, sample s at l * n_samples + s

  int64_t n_leads() const { return static_cast<int64_t>(lead_names.size()); }
  const double* lead(int64_t l) const { return mv.data() + l * n_samples; }
  double* lead(int64_t l) { return mv.data() + l * n_samples; }
};

}  // namespace agf::ecg
