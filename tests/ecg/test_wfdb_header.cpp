// WFDB header parsing: every quirk of the Challenge 2021 headers, each from a header string written here.
#include <doctest/doctest.h>

#include "ecg/record_error.h"
#include "ecg/wfdb_header.h"

using namespace agf::ecg;

namespace {

RecordProblem problem_of(const std::string& text) {
  try {
    parse_wfdb_header(text, "T1");
  } catch (const RecordError& e) {
    return e.problem();
  }
  FAIL("header parsed although it should not: " << text);
  return RecordProblem::bad_header;
}

const char* kTwoLeads =
    "A0001 2 500 7500 05-May-2020 09:49:17\n"
    "A0001.mat 16+24 1000/mV 16 0 -34 -215 0 I\n"
    "A0001.mat 16+24 1000/mV 16 0 12 4871 0 II\n"
    "#Age: 74\n#Sex: Male\n#Dx: 426783006,164865005\n#Rx: Unknown\n#Hx: Unknown\n#Sx: Unknown\n";

}  // namespace

TEST_CASE("wfdb header: the spec's example lines, field by field") {
  WfdbHeader h = parse_wfdb_header(kTwoLeads, "A0001");
  CHECK(h.record_name == "A0001");
  CHECK(h.n_leads == 2);
  CHECK(h.fs == 500.0);
  CHECK(h.n_samples == 7500);
  CHECK(h.date_time == "05-May-2020 09:49:17");
  REQUIRE(h.leads.size() == 2);
  const WfdbLead& l = h.leads[0];
  CHECK(l.file == "A0001.mat");
  CHECK(l.format == 16);
  CHECK(l.byte_offset == 24);
  CHECK(l.gain == 1000.0);
  CHECK(l.units == "mV");
  CHECK(l.units_to_mv == 1.0);
  CHECK(l.adc_resolution == 16);
  CHECK(l.adc_zero == 0);
  CHECK(l.baseline == 0);
  CHECK(l.init_value == -34);
  CHECK(l.checksum == -215);
  CHECK(l.block_size == 0);
  CHECK(l.name == "I");
  CHECK(h.leads[1].name == "II");
  CHECK(h.age == 74.0);
  CHECK(h.sex == Sex::male);
  CHECK(h.dx == std::vector<std::string>{"426783006", "164865005"});
  CHECK(h.rx == "Unknown");
  CHECK(h.sx == "Unknown");
  CHECK(h.comments.size() == 6);
}

TEST_CASE("wfdb header quirk: CRLF line ends") {
  std::string crlf;
  for (char c : std::string(kTwoLeads)) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  WfdbHeader h = parse_wfdb_header(crlf, "A0001");
  CHECK(h.leads[1].name == "II");  // no trailing '\r' in the last field of a line
  CHECK(h.sx == "Unknown");
  CHECK(h.dx.back() == "164865005");
  CHECK(h.date_time == "05-May-2020 09:49:17");
}

TEST_CASE("wfdb header quirk: gains in exponent notation, baseline in parentheses, units mv/uV") {
  WfdbHeader h = parse_wfdb_header(
      "S0001 3 1000 38400\n"
      "S0001.mat 16+24 1.052e+04/mV 16 0 -10 1 0 i\n"
      "S0001.mat 16+24 2000(-12)/mv 16 5 -10 1 0 ii\n"
      "S0001.mat 16+24 500(3)/uV 12 7 -10 1 0 v6\n",
      "S0001");
  CHECK(h.fs == 1000.0);
  CHECK(h.date_time.empty());
  CHECK(h.leads[0].gain == 10520.0);
  CHECK(h.leads[0].baseline == 0);  // defaults to adc_zero
  CHECK(h.leads[1].gain == 2000.0);
  CHECK(h.leads[1].baseline == -12);  // the parenthesised baseline wins over adc_zero 5
  CHECK(h.leads[1].adc_zero == 5);
  CHECK(h.leads[1].units == "mv");
  CHECK(h.leads[1].units_to_mv == 1.0);
  CHECK(h.leads[2].baseline == 3);
  CHECK(h.leads[2].units_to_mv == 1e-3);
  CHECK(h.leads[2].adc_resolution == 12);
}

TEST_CASE("wfdb header quirk: Georgia's record name with .mat, no #Sx; missing age") {
  WfdbHeader h = parse_wfdb_header(
      "E00001.mat 1 500 5000 05-May-2020 09:49:17\n"
      "E00001.mat 16+24 1000/mV 16 0 -68 1250 0 I\n"
      "#Age: NaN\n#Sex: Female\n#Dx: 59118001\n#Rx: Unknown\n#Hx: Unknown\n",
      "E00001");
  CHECK(h.record_name == "E00001.mat");
  CHECK(h.sx.empty());
  CHECK_FALSE(h.age.has_value());
  CHECK(h.sex == Sex::female);
}

TEST_CASE("wfdb header quirk: an empty #Dx item and an unmapped code") {
  WfdbHeader h = parse_wfdb_header(
      "N1 1 500 5000\nN1.mat 16+24 1000/mV 16 0 0 0 0 I\n#Dx: 284470004,89792004,,427172004, \n", "N1");
  CHECK(h.dx == std::vector<std::string>{"284470004", "89792004", "427172004"});
  CHECK(problem_of("N1 1 500 5000\nN1.mat 16+24 1000/mV 16 0 0 0 0 I\n#Dx: 284470004,AF\n") ==
        RecordProblem::bad_header);
}

TEST_CASE("wfdb header quirk: lead subsets 12/6/4/3/2 and rates 257/500/1000") {
  const char* names[] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
  for (int n : {12, 6, 4, 3, 2}) {
    for (double fs : {257.0, 500.0, 1000.0}) {
      std::string text = fmt::format("R {} {} 4000\n", n, fs);
      for (int l = 0; l < n; ++l) text += fmt::format("R.mat 16+24 1000/mV 16 0 0 0 0 {}\n", names[l]);
      WfdbHeader h = parse_wfdb_header(text, "R");
      CHECK(h.n_leads == n);
      CHECK(h.fs == fs);
      CHECK(h.leads.back().name == names[n - 1]);
    }
  }
}

TEST_CASE("wfdb header: a date and time on line 1 are kept, absent fields are optional") {
  WfdbHeader h = parse_wfdb_header("I0001 1 257 462600 12:00:00 01/01/2000\nI0001.dat 16 1000\n", "I0001");
  CHECK(h.date_time == "12:00:00 01/01/2000");
  CHECK(h.leads[0].byte_offset == 0);
  CHECK(h.leads[0].units == "mV");
  CHECK_FALSE(h.leads[0].init_value.has_value());
  CHECK_FALSE(h.leads[0].checksum.has_value());
  CHECK(h.leads[0].name.empty());
  // A lead description may hold spaces.
  WfdbHeader d = parse_wfdb_header("P 1 1000 100\nP.dat 16 2000 16 0 0 0 0 ECG lead I\n", "P");
  CHECK(d.leads[0].name == "ECG lead I");
  // WFDB's zero gain means the default 200.
  WfdbHeader z = parse_wfdb_header("Z 1 500 100\nZ.dat 16 0/mV 16 0 0 0 0 I\n", "Z");
  CHECK(z.leads[0].gain == 200.0);
}

TEST_CASE("wfdb header: garbage numbers and inconsistent structure are clear errors") {
  const std::string lead = "X.mat 16+24 1000/mV 16 0 0 0 0 I\n";
  CHECK(problem_of("X 1 5OO 5000\n" + lead) == RecordProblem::bad_header);   // letter O in the rate
  CHECK(problem_of("X 1 500 5e3x\n" + lead) == RecordProblem::bad_header);
  CHECK(problem_of("X one 500 5000\n" + lead) == RecordProblem::bad_header);
  CHECK(problem_of("X 1 500 5000\nX.mat 16+24 1k/mV 16 0 0 0 0 I\n") == RecordProblem::bad_header);
  CHECK(problem_of("X 1 500 5000\nX.mat 16+24 1000/mV 16 0 7.5 0 0 I\n") == RecordProblem::bad_header);
  CHECK(problem_of("X 1 500 5000\nX.mat 16+2x 1000/mV 16 0 0 0 0 I\n") == RecordProblem::bad_header);
  CHECK(problem_of("X 1 500 5000\nX.mat 16+24 1000(3/mV 16 0 0 0 0 I\n") == RecordProblem::bad_header);
  CHECK(problem_of("X 1 500 5000\nX.mat 16+24 nan/mV 16 0 0 0 0 I\n") == RecordProblem::bad_header);
  CHECK(problem_of("X 2 500 5000\n" + lead) == RecordProblem::bad_header);           // one lead line short
  CHECK(problem_of("X 1 500 5000\n" + lead + lead) == RecordProblem::bad_header);    // one too many
  CHECK(problem_of("X 1 500\n" + lead) == RecordProblem::bad_header);                // no sample count
  CHECK(problem_of("X 1 500 0\n" + lead) == RecordProblem::bad_header);
  CHECK(problem_of("X 1 -500 5000\n" + lead) == RecordProblem::bad_header);
  CHECK(problem_of("X 0 500 5000\n") == RecordProblem::bad_header);
  CHECK(problem_of("#Age: 50\n") == RecordProblem::bad_header);                      // no record line
  CHECK(problem_of("X 1 500 5000\nX.mat 16+24 1000/furlong 16 0 0 0 0 I\n") == RecordProblem::unsupported);
  CHECK(problem_of("X/2 1 500 5000\n" + lead) == RecordProblem::unsupported);        // multi-segment
  // The message names the record and the line.
  CHECK_THROWS_WITH_AS(parse_wfdb_header("X 1 500 5000\nX.mat 16+24 1k/mV 16 0 0 0 0 I\n", "X"),
                       doctest::Contains("record X: header line 2: gain '1k' is not a finite number"), RecordError);
}
