// Classes, codes and the class mix.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include "common/test_util.h"
#include "ecg/synth/classes.h"
#include "synth/synth_test_util.h"
#include "tensor/error.h"

using namespace agf::synth;

TEST_CASE("synth labels: SNOMED codes and abbreviations are those of the Challenge 2021 scored table" *
          doctest::skip(agf::synth::test::missing_fixture(agf::test::fixtures_dir() / "challenge2021" /
                                                          "dx_mapping_scored.csv"))) {
  const auto csv = agf::test::fixtures_dir() / "challenge2021" / "dx_mapping_scored.csv";
  std::ifstream f(csv);
  std::map<std::string, std::string> abbreviation_of;
  std::string line;
  std::getline(f, line);
  while (std::getline(f, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    abbreviation_of[line.substr(a + 1, b - a - 1)] = line.substr(b + 1, c - b - 1);
  }
  for (const auto& cls : synth_classes()) {
    CAPTURE(cls.abbreviation);
    REQUIRE(abbreviation_of.count(std::string(cls.snomed)) == 1);
    CHECK(abbreviation_of[std::string(cls.snomed)] == cls.abbreviation);
  }
}

TEST_CASE("synth labels: mix parsing and its errors") {
  const ClassMix m = ClassMix::parse(" nsr=0.5, AF = 0.5 ,164890007=0.25,IAVB=0.3 ");
  CHECK(m[SynthClass::NSR] == 0.5);
  CHECK(m[SynthClass::AF] == 0.5);
  CHECK(m[SynthClass::AFL] == 0.25);
  CHECK(m[SynthClass::IAVB] == 0.3);
  CHECK(m[SynthClass::SB] == 0.0);
  CHECK(ClassMix::parse(m.describe()).value == m.value);
  CHECK(ClassMix::parse("default").value == ClassMix::defaults().value);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR=1,XYZ=0.2"), doctest::Contains("unknown class 'XYZ'"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR=abc"), doctest::Contains("'abc' of class NSR"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR=1,PVC=1.5"), doctest::Contains("PVC=1.5"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("IAVB=0.5"), doctest::Contains("no rhythm"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR=1,RBBB=0.6,LBBB=0.6"), doctest::Contains("RBBB=0.6 + LBBB=0.6"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR=1,NSR=2"), doctest::Contains("twice"), agf::Error);
  CHECK_THROWS_WITH_AS(ClassMix::parse("NSR"), doctest::Contains("CLASS=VALUE"), agf::Error);
}

TEST_CASE("synth labels: drawn prevalences follow the mix and the compatibility rules") {
  const ClassMix mix = ClassMix::defaults();
  agf::PhiloxStream rng(42);
  constexpr int kDraws = 40000;
  std::map<SynthClass, int> count;
  int sinus = 0;
  for (int i = 0; i < kDraws; ++i) {
    const LabelSet l = draw_labels(mix, rng);
    int rhythms = 0;
    for (int r = 0; r < kRhythmCount; ++r) rhythms += l.has(static_cast<SynthClass>(r)) ? 1 : 0;
    REQUIRE(rhythms == 1);
    for (const auto& c : synth_classes()) count[c.cls] += l.has(c.cls) ? 1 : 0;
    sinus += l.sinus() ? 1 : 0;
    if (!l.sinus()) {
      CHECK_FALSE(l.has(SynthClass::IAVB));
      CHECK_FALSE(l.has(SynthClass::PAC));
    }
    CHECK_FALSE((l.has(SynthClass::RBBB) && l.has(SynthClass::LBBB)));
    CHECK_FALSE((l.has(SynthClass::LAD) && l.has(SynthClass::RAD)));
    CHECK_FALSE((l.has(SynthClass::LBBB) && l.has(SynthClass::TInv)));
  }
  double rhythm_total = 0.0;
  for (int r = 0; r < kRhythmCount; ++r) rhythm_total += mix.value[static_cast<size_t>(r)];
  // Expected prevalence of each class; the binomial standard error at 40000 draws is <= 0.25%: allow 1%.
  const double sinus_share = sinus / double(kDraws);
  std::map<SynthClass, double> expected;
  for (int r = 0; r < kRhythmCount; ++r)
    expected[static_cast<SynthClass>(r)] = mix.value[static_cast<size_t>(r)] / rhythm_total;
  for (SynthClass c : {SynthClass::RBBB, SynthClass::LBBB, SynthClass::LAD, SynthClass::RAD, SynthClass::PVC,
                       SynthClass::LQRSV})
    expected[c] = mix[c];
  expected[SynthClass::IAVB] = mix[SynthClass::IAVB] * sinus_share;
  expected[SynthClass::PAC] = mix[SynthClass::PAC] * sinus_share;
  expected[SynthClass::TInv] = mix[SynthClass::TInv] * (1.0 - mix[SynthClass::LBBB]);
  CHECK(sinus_share == doctest::Approx(0.72).epsilon(0.02));
  for (const auto& [c, p] : expected) {
    const double seen = count[c] / double(kDraws);
    CAPTURE(class_info(c).abbreviation);
    CAPTURE(seen);
    CAPTURE(p);
    CHECK(std::abs(seen - p) < 0.01);
  }
}

TEST_CASE("synth labels: label sets print as codes and abbreviations") {
  LabelSet l;
  l.add(SynthClass::IAVB);
  l.add(SynthClass::SB);
  CHECK(l.rhythm() == SynthClass::SB);
  CHECK(l.snomed_codes() == "426177001,270492004");
  CHECK(l.abbreviations() == "SB+IAVB");
  const auto c15 = code15_labels(l);
  CHECK(c15 == std::array<bool, 6>{true, false, false, true, false, false});
}
