#pragma once
// PhysioNet/CinC Challenge 2021 records: NAME.hea (WFDB header with the Challenge's #Age/#Sex/#Dx/#Rx/#Hx/#Sx
// comments) and NAME.mat (MATLAB v4, one int16 matrix "val" of 12 rows x n samples), written as the real sets
// write them (spec/data.md; compare fixtures/challenge2021/records).
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ecg/synth/generator.h"

namespace agf::synth {

inline constexpr double kChallengeGain = 1000.0;  // ADC units per mV: 1 uV resolution, as every source uses
inline constexpr int32_t kMatV4Int16Type = 30;    // MOPT = 0030: little-endian, int16, full numeric matrix

// "SY000001" for index 0: a two-letter source prefix and a 1-based number, like the real sets' JS00001, HR00001.
std::string challenge_record_name(int64_t index);

// The record as int16 ADC units, sample-interleaved (sample s, lead l at s * 12 + l), rounded to nearest and
// saturated at the int16 range.
std::vector<int16_t> quantize_interleaved(const SynthRecord& rec, double gain = kChallengeGain);

// Signed 16-bit checksum of one lead: the sum of its samples wrapped to int16, as WFDB defines it.
int16_t wfdb_checksum(std::span<const int16_t> interleaved, int lead, int n_leads);

std::string format_challenge_header(const SynthRecord& rec, const std::string& name,
                                    std::span<const int16_t> interleaved, double gain = kChallengeGain);
std::string format_mat_v4(std::span<const int16_t> interleaved, int32_t rows, int32_t cols);

struct ChallengeFiles {
  std::filesystem::path header, data;
};

// Writes dir/name.mat then dir/name.hea, each through a temporary file, so a .hea is only ever present beside its
// complete .mat. Atomic, not synced (io::Durability::rename_only): a caller writing many syncs them together.
ChallengeFiles write_challenge_record(const SynthRecord& rec, const std::filesystem::path& dir, const std::string& name);

}  // namespace agf::synth
