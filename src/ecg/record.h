#pragma once
// A PhysioNet/CinC Challenge 2021 record (NAME.hea + NAME.mat) or a plain WFDB format-16 record (NAME.hea +
// .dat), read, checked (init value and checksum per lead) and convertible to millivolts.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ecg/signal.h"
#include "ecg/wfdb_header.h"
#include "tensor/tensor.h"

namespace agf::ecg {

struct Record {
  std::string id;                     // the header file's stem ("JS20017"), whatever line 1 says
  std::filesystem::path header_path;
  WfdbHeader header;
  std::vector<int16_t> adc;           // raw samples, lead-major: lead l, sample s at l * n_samples + s

  int64_t n_leads() const { return header.n_leads; }
  int64_t n_samples() const { return header.n_samples; }
  double fs() const { return header.fs; }
  const std::vector<std::string>& labels() const { return header.dx; }  // SNOMED codes, empty items dropped
  int16_t sample(int64_t lead, int64_t s) const { return adc[static_cast<size_t>(lead * n_samples() + s)]; }
  // (value - baseline) / gain, in mV (units converted), computed in double.
  double mv(int64_t lead, int64_t s) const;

  Signal to_signal() const;   // double mV, lead names from the header
  Tensor signal_mv() const;   // f32 (n_leads, n_samples) mV
};

// `hea_or_stem`: "dir/JS20017", "dir/JS20017.hea" or "dir/JS20017.mat". Reads the header and every data file it
// names (MAT v4 for .mat, raw little-endian format 16 otherwise), checks dims, init values and checksums.
// Throws RecordError naming the record and the reason.
Record read_challenge_record(const std::filesystem::path& hea_or_stem);

// The check read_challenge_record applies, exposed for records assembled elsewhere: every lead's first sample equals
// its init_value and its samples sum (mod 2^16, as int16) to its checksum, where the header gives them.
void verify_record_samples(const Record& r);

// Signed 16-bit sum of samples, as WFDB computes checksums.
int16_t wfdb_checksum(const int16_t* samples, int64_t n, int64_t stride = 1);

}  // namespace agf::ecg
