#include "ecg/synth/classes.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "tensor/error.h"

namespace agf::synth {

namespace {

// Default mix: rhythms roughly in the proportions of the Challenge 2021 training data (NSR the largest class,
// then SB, AF, STach, AFL), findings frequent enough that every class has several hundred records in 20000.
constexpr std::array<SynthClassInfo, kSynthClassCount> kClasses = {{
    {SynthClass::NSR, "NSR", "426783006", "sinus rhythm", 0.40},
    {SynthClass::SB, "SB", "426177001", "sinus bradycardia", 0.17},
    {SynthClass::STach, "STach", "427084000", "sinus tachycardia", 0.15},
    {SynthClass::AF, "AF", "164889003", "atrial fibrillation", 0.18},
    {SynthClass::AFL, "AFL", "164890007", "atrial flutter", 0.10},
    {SynthClass::IAVB, "IAVB", "270492004", "1st degree av block", 0.14},
    {SynthClass::RBBB, "RBBB", "59118001", "right bundle branch block", 0.10},
    {SynthClass::LBBB, "LBBB", "164909002", "left bundle branch block", 0.07},
    {SynthClass::LAD, "LAD", "39732003", "left axis deviation", 0.12},
    {SynthClass::RAD, "RAD", "47665007", "right axis deviation", 0.06},
    {SynthClass::PAC, "PAC", "284470004", "premature atrial contraction", 0.10},
    {SynthClass::PVC, "PVC", "427172004", "premature ventricular contractions", 0.10},
    {SynthClass::LQRSV, "LQRSV", "251146004", "low qrs voltages", 0.06},
    {SynthClass::TInv, "TInv", "59931005", "t wave inversion", 0.10},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string known_names() {
  std::string out;
  for (const auto& c : kClasses) out += fmt::format("{}{}", out.empty() ? "" : ", ", c.abbreviation);
  return out;
}

}  // namespace

const std::array<SynthClassInfo, kSynthClassCount>& synth_classes() { return kClasses; }
const SynthClassInfo& class_info(SynthClass c) { return kClasses[static_cast<size_t>(c)]; }

std::optional<SynthClass> find_class(std::string_view name) {
  name = trim(name);
  for (const auto& c : kClasses)
    if (iequals(name, c.abbreviation) || name == c.snomed) return c.cls;
  return std::nullopt;
}

SynthClass LabelSet::rhythm() const {
  for (int r = 0; r < kRhythmCount; ++r)
    if (has(static_cast<SynthClass>(r))) return static_cast<SynthClass>(r);
  return SynthClass::NSR;
}

std::string LabelSet::snomed_codes() const {
  std::string out;
  for (const auto& c : kClasses)
    if (has(c.cls)) out += fmt::format("{}{}", out.empty() ? "" : ",", c.snomed);
  return out;
}

std::string LabelSet::abbreviations(char sep) const {
  std::string out;
  for (const auto& c : kClasses)
    if (has(c.cls)) {
      if (!out.empty()) out += sep;
      out += c.abbreviation;
    }
  return out;
}

ClassMix ClassMix::defaults() {
  ClassMix m;
  for (const auto& c : kClasses) m.value[static_cast<size_t>(c.cls)] = c.default_value;
  return m;
}

ClassMix ClassMix::parse(std::string_view spec) {
  spec = trim(spec);
  if (spec.empty() || iequals(spec, "default")) return defaults();
  ClassMix m;
  std::array<bool, kSynthClassCount> seen{};
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    AGF_CHECK(eq != std::string_view::npos, "--mix: item '{}' is not CLASS=VALUE (e.g. AF=0.2)", item);
    const auto cls = find_class(item.substr(0, eq));
    AGF_CHECK(cls.has_value(), "--mix: unknown class '{}' (known: {})", trim(item.substr(0, eq)), known_names());
    const std::string number(trim(item.substr(eq + 1)));
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    AGF_CHECK(!number.empty() && end == number.c_str() + number.size() && std::isfinite(v),
              "--mix: value '{}' of class {} is not a number", number, class_info(*cls).abbreviation);
    AGF_CHECK(!seen[static_cast<size_t>(*cls)], "--mix: class {} is given twice", class_info(*cls).abbreviation);
    seen[static_cast<size_t>(*cls)] = true;
    m.value[static_cast<size_t>(*cls)] = v;
  }
  m.validate();
  return m;
}

void ClassMix::validate() const {
  double rhythm_sum = 0.0;
  for (const auto& c : kClasses) {
    const double v = (*this)[c.cls];
    AGF_CHECK(std::isfinite(v) && v >= 0.0, "--mix: {}={} is negative or not finite", c.abbreviation, v);
    if (is_rhythm(c.cls)) {
      rhythm_sum += v;
    } else {
      AGF_CHECK(v <= 1.0, "--mix: {}={} is a probability and must lie in [0, 1]", c.abbreviation, v);
    }
  }
  AGF_CHECK(rhythm_sum > 0.0, "--mix: no rhythm has a positive weight (give at least one of NSR, SB, STach, AF, AFL)");
  AGF_CHECK((*this)[SynthClass::RBBB] + (*this)[SynthClass::LBBB] <= 1.0 + 1e-12,
            "--mix: RBBB={} + LBBB={} exceed 1 (they exclude each other)", (*this)[SynthClass::RBBB],
            (*this)[SynthClass::LBBB]);
  AGF_CHECK((*this)[SynthClass::LAD] + (*this)[SynthClass::RAD] <= 1.0 + 1e-12,
            "--mix: LAD={} + RAD={} exceed 1 (they exclude each other)", (*this)[SynthClass::LAD],
            (*this)[SynthClass::RAD]);
}

std::string ClassMix::describe() const {
  std::string out;
  for (const auto& c : kClasses)
    if ((*this)[c.cls] > 0.0) out += fmt::format("{}{}={:g}", out.empty() ? "" : ",", c.abbreviation, (*this)[c.cls]);
  return out;
}

LabelSet draw_labels(const ClassMix& mix, PhiloxStream& rng) {
  LabelSet labels;
  // Every draw below is made whether or not it is used, so that one class's probability never shifts the random
  // numbers (and hence the records) of another.
  double total = 0.0;
  for (int r = 0; r < kRhythmCount; ++r) total += mix.value[static_cast<size_t>(r)];
  const double u_rhythm = rng.next_uniform() * total;
  SynthClass rhythm = SynthClass::NSR;
  for (int r = 0; r < kRhythmCount; ++r)  // the fallback when rounding leaves u a hair above the last sum
    if (mix.value[static_cast<size_t>(r)] > 0.0) rhythm = static_cast<SynthClass>(r);
  double acc = 0.0;
  for (int r = 0; r < kRhythmCount; ++r) {
    const double w = mix.value[static_cast<size_t>(r)];
    acc += w;
    if (w > 0.0 && u_rhythm <= acc) {
      rhythm = static_cast<SynthClass>(r);
      break;
    }
  }
  labels.add(rhythm);
  const bool sinus = is_sinus(rhythm);

  const auto bernoulli = [&](SynthClass c) { return rng.next_uniform() <= mix[c] && mix[c] > 0.0; };
  const double u_bbb = rng.next_uniform(), u_axis = rng.next_uniform();
  const bool iavb = bernoulli(SynthClass::IAVB), pac = bernoulli(SynthClass::PAC), pvc = bernoulli(SynthClass::PVC);
  const bool lqrsv = bernoulli(SynthClass::LQRSV), tinv = bernoulli(SynthClass::TInv);

  if (iavb && sinus) labels.add(SynthClass::IAVB);
  if (u_bbb <= mix[SynthClass::RBBB] && mix[SynthClass::RBBB] > 0.0)
    labels.add(SynthClass::RBBB);
  else if (u_bbb <= mix[SynthClass::RBBB] + mix[SynthClass::LBBB] && mix[SynthClass::LBBB] > 0.0)
    labels.add(SynthClass::LBBB);
  if (u_axis <= mix[SynthClass::LAD] && mix[SynthClass::LAD] > 0.0)
    labels.add(SynthClass::LAD);
  else if (u_axis <= mix[SynthClass::LAD] + mix[SynthClass::RAD] && mix[SynthClass::RAD] > 0.0)
    labels.add(SynthClass::RAD);
  if (pac && sinus) labels.add(SynthClass::PAC);
  if (pvc) labels.add(SynthClass::PVC);
  if (lqrsv) labels.add(SynthClass::LQRSV);
  if (tinv && !labels.has(SynthClass::LBBB)) labels.add(SynthClass::TInv);
  return labels;
}

std::array<bool, 6> code15_labels(const LabelSet& labels) {
  return {labels.has(SynthClass::IAVB), labels.has(SynthClass::RBBB), labels.has(SynthClass::LBBB),
          labels.has(SynthClass::SB),   labels.has(SynthClass::AF),   labels.has(SynthClass::STach)};
}

}  // namespace agf::synth
