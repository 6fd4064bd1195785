#pragma once
// The diagnoses the synthetic generator draws, with their SNOMED CT codes as the PhysioNet/CinC Challenge 2021
// scored table (dx_mapping_scored.csv) spells them, and the class mix that sets how often each appears.
//
// A record has exactly one rhythm (NSR, SB, STach, AF, AFL) and any compatible set of findings on top of it
// (IAVB, RBBB, LBBB, LAD, RAD, PAC, PVC, LQRSV, TInv). The mix gives rhythms a relative weight and findings a
// probability; a finding is only drawn where it is physiologically compatible with what was drawn before it
// (first-degree AV block and atrial premature beats need a sinus rhythm; LBBB excludes a separate TInv label
// because its T inversion is secondary), so its realised prevalence can be below the configured probability.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/random.h"

namespace agf::synth {

enum class SynthClass : uint8_t { NSR, SB, STach, AF, AFL, IAVB, RBBB, LBBB, LAD, RAD, PAC, PVC, LQRSV, TInv };
inline constexpr int kSynthClassCount = 14;
inline constexpr int kRhythmCount = 5;  // the first five classes are rhythms

struct SynthClassInfo {
  SynthClass cls;
  std::string_view abbreviation;  // as in dx_mapping_scored.csv
  std::string_view snomed;        // SNOMED CT code written to #Dx
  std::string_view description;
  double default_value;           // default mix: relative weight of a rhythm, probability of a finding
};

const std::array<SynthClassInfo, kSynthClassCount>& synth_classes();
const SynthClassInfo& class_info(SynthClass c);
inline bool is_rhythm(SynthClass c) { return static_cast<int>(c) < kRhythmCount; }
inline bool is_sinus(SynthClass rhythm) {
  return rhythm == SynthClass::NSR || rhythm == SynthClass::SB || rhythm == SynthClass::STach;
}
// Abbreviation (case-insensitive) or SNOMED code -> class; nullopt when unknown.
std::optional<SynthClass> find_class(std::string_view name);

// A record's diagnoses: one rhythm plus findings, as a bit set over SynthClass.
class LabelSet {
 public:
  LabelSet() = default;
  bool has(SynthClass c) const { return (bits_ >> static_cast<int>(c)) & 1u; }
  void add(SynthClass c) { bits_ |= 1u << static_cast<int>(c); }
  uint32_t bits() const { return bits_; }
  SynthClass rhythm() const;  // the rhythm class (NSR when none was set)
  bool sinus() const { return is_sinus(rhythm()); }
  // SNOMED codes joined by ',' in class order (rhythm first), as the #Dx line carries them.
  std::string snomed_codes() const;
  std::string abbreviations(char sep = '+') const;  // "SB+IAVB"
  bool operator==(const LabelSet&) const = default;

 private:
  uint32_t bits_ = 0;
};

// Per-class value: for a rhythm its relative weight (normalised over the rhythms), for a finding its probability
// given a compatible rhythm. Exclusive pairs (RBBB/LBBB, LAD/RAD) are drawn from one uniform, so each pair's
// probabilities must sum to at most 1.
struct ClassMix {
  std::array<double, kSynthClassCount> value{};

  static ClassMix defaults();
  // "NSR=0.4,AF=0.2,IAVB=0.1" (abbreviations or SNOMED codes, case-insensitive) or "default". A spec lists the
  // whole mix: a class it does not name gets 0. At least one rhythm needs a positive weight.
  static ClassMix parse(std::string_view spec);
  void validate() const;  // throws agf::Error naming the offending class and value
  double operator[](SynthClass c) const { return value[static_cast<size_t>(c)]; }
  std::string describe() const;  // "NSR=0.4,..." of the non-zero entries, parseable by parse()
};

LabelSet draw_labels(const ClassMix& mix, PhiloxStream& rng);

// CODE-15%'s six labels in its column order: 1dAVb, RBBB, LBBB, SB, AF, ST.
inline constexpr std::array<std::string_view, 6> kCode15Columns = {"1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"};
std::array<bool, 6> code15_labels(const LabelSet& labels);

}  // namespace agf::synth
