#pragma once
// Helpers of the collect suite: small prepared datasets written straight through DatasetWriter, file bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dataset/dataset_writer.h"
#include "ecg/leads.h"
#include "ecg/ecg_test_util.h"
#include "tensor/random.h"

namespace agf::dataset::test {

// The ECG suite's helpers (ScratchDir, the fs alias, record writers) serve this suite too.
using namespace agf::ecg::test;

// Record r's signal value at (lead, sample): distinct per record and position, exactly representable.
inline float sample_value(int64_t r, int64_t lead, int64_t s) {
  return static_cast<float>(r) * 100.0f + static_cast<float>(lead) + static_cast<float>(s % 1000) * 0.0625f;
}

inline DatasetInfo small_info(int64_t length, int64_t deflate) {
  DatasetInfo info;
  info.fs = 500;
  info.length = length;
  info.filter = "none (test)";
  info.resampling = "none (native rate)";
  info.normalisation = "none (test)";
  info.source = "test";
  info.label_selection = "test labels";
  info.created_by = "test_collect";
  info.deflate_level = deflate;
  return info;
}

inline std::vector<DatasetClass> small_classes() { return {{"164889003", "AF"}, {"733534002|164909002", "CLBBB|LBBB"},
                                                           {"426783006", "NSR"}}; }

// Row r carries class j when (r + j) % 3 == 0.
inline uint8_t small_label(int64_t r, int64_t j) { return (r + j) % 3 == 0 ? 1 : 0; }

// n records of (12, length) with sample_value, labels small_label, ids "rec<r>", a fixed split.
inline void write_small_dataset(const fs::path& path, int64_t n, int64_t length, int64_t deflate = 1) {
  DatasetWriter w(path, small_info(length, deflate), small_classes());
  std::vector<float> sig(static_cast<size_t>(ecg::kStandardLeadCount * length));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t l = 0; l < ecg::kStandardLeadCount; ++l)
      for (int64_t s = 0; s < length; ++s) sig[static_cast<size_t>(l * length + s)] = sample_value(r, l, s);
    uint8_t labels[3] = {small_label(r, 0), small_label(r, 1), small_label(r, 2)};
    w.append(sig.data(), labels, "rec" + std::to_string(r));
  }
  DatasetSplits splits;
  for (int64_t r = 0; r < n; ++r) (r % 5 == 0 ? splits.val : r % 5 == 1 ? splits.test : splits.train).push_back(r);
  splits.config.seed = 7;
  w.finish(splits);
}

inline const std::vector<std::string> kTwelveLeads = {"I",  "II", "III", "aVR", "aVL", "aVF",
                                                      "V1", "V2", "V3", "V4",  "V5",  "V6"};

// 12 leads of 3000 samples at 500 Hz: ramps of a few hundred ADC units, varied by `seed`.
inline std::vector<std::vector<int16_t>> seeded_leads(int seed) {
  auto leads = ramp_leads(12, 3000);
  for (auto& lead : leads)
    for (size_t s = 0; s < lead.size(); ++s) lead[s] = static_cast<int16_t>(lead[s] + (seed * 13 + s * 7) % 50);
  return leads;
}

// A 12-lead 500 Hz Challenge record of these samples, every lead with `gain` ("1000/mV"); `corrupt` changes a
// sample after the checksum was computed.
inline void write_challenge_record(const fs::path& dir, const std::string& name, const std::string& dx,
                                   std::vector<std::vector<int16_t>> leads, const std::string& gain = "1000/mV",
                                   bool corrupt = false) {
  fs::create_directories(dir);
  write_bytes(dir / (name + ".hea"), challenge_header(name, leads, kTwelveLeads, 500, gain, "\n", dx));
  if (corrupt) leads[3][100] = static_cast<int16_t>(leads[3][100] + 1);
  write_bytes(dir / (name + ".mat"), mat_v4_bytes(leads));
}

inline std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace agf::dataset::test
