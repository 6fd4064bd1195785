// libFuzzer target for a whole Challenge record read (src/ecg/record.*): header and data files together, since the
// reader cross-checks them (dims, byte offset, file sizes, init values, checksums), then what agf-collect does with
// a record it accepted (millivolts, the default preprocessing). The MAT v4 parser (src/ecg/mat_v4.*) also gets
// every data file directly, so its own checks are reached whatever the header says.
//
// Input layout: the .hea text, then for each data file the separator line below and the file's bytes:
//   <header text>\n--agf-data-file--\n<bytes of the 1st file the header names>\n--agf-data-file--\n<2nd> ...
// Data files are given, in order, the distinct names the header's lead lines use (a name that is no plain file
// name is not written, and the reader has to refuse it); the header itself is written as r.hea.
//
// A RecordError is the expected answer to a bad record (agf-collect skips and counts it); a crash, a sanitizer
// report, a leak, a timeout, any other exception (a plain agf::Error included: it would end a collect run), or an
// accepted record whose samples do not match its header is a bug.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ecg/mat_v4.h"
#include "ecg/preprocess.h"
#include "ecg/record.h"
#include "ecg/wfdb_header.h"
#include "fuzz_expect.h"
#include "fuzz_scratch.h"

namespace {

constexpr std::string_view kSeparator = "\n--agf-data-file--\n";
constexpr const char* kHeaderName = "r.hea";
constexpr const char* kTarget = "fuzz_record";

void require(bool ok, const char* what) { agf::fuzz::require(ok, kTarget, what); }

std::vector<std::string_view> split_input(std::string_view in) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t at = in.find(kSeparator);
    parts.push_back(in.substr(0, at));
    if (at == std::string_view::npos) return parts;
    in.remove_prefix(at + kSeparator.size());
  }
}

// Names the harness may create in its scratch folder; anything else is left for the reader to refuse.
bool writable_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && name != "." && name != ".." && name != kHeaderName &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

void check_mat(const agf::ecg::MatV4Int16& m, size_t file_bytes) {
  require(m.rows >= 1 && m.cols >= 1, "MAT v4 dims positive");
  require(m.col_major.size() == static_cast<size_t>(m.rows * m.cols), "MAT v4 holds rows x cols samples");
  require(static_cast<size_t>(m.data_offset) + 2 * m.col_major.size() == file_bytes,
          "MAT v4 header + data is the whole file");
  require(m.name == "val", "MAT v4 variable named val");
}

void check_record(const agf::ecg::Record& r) {
  require(r.adc.size() == static_cast<size_t>(r.n_leads() * r.n_samples()), "n_leads x n_samples samples");
  require(r.id == "r", "the record id is the header file's stem");
  try {
    agf::ecg::verify_record_samples(r);  // the reader ran it already: it must agree
  } catch (const agf::Error& e) {
    agf::fuzz::finding(kTarget, "an accepted record fails its own sample check:", e.what());
  }
  const agf::ecg::Signal sig = r.to_signal();
  require(sig.mv.size() == r.adc.size() && sig.n_leads() == r.n_leads(), "signal shape follows the record");
  const agf::Tensor t = r.signal_mv();
  require(t.numel() == static_cast<int64_t>(r.adc.size()), "tensor shape follows the record");
  // What agf-collect does next, with its defaults (native rate, 6144 samples): the header's fs, gains and lead
  // names now drive the filter design and the lead arrangement.
  const agf::ecg::PreprocessConfig cfg;
  std::vector<float> out(static_cast<size_t>(12 * cfg.length));
  agf::fuzz::expect_record_error(kTarget, [&] { agf::ecg::preprocess_into(sig, cfg, out.data()); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = split_input({reinterpret_cast<const char*>(data), size});
  const agf::fuzz::ScratchDir& dir = agf::fuzz::scratch();

  for (size_t i = 1; i < parts.size(); ++i)
    agf::fuzz::expect_record_error(kTarget, [&] {
      check_mat(agf::ecg::parse_mat_v4_int16(parts[i], "fuzz", "fuzz.mat"), parts[i].size());
    });

  // The data files' names come from the header; one that does not parse still leaves the reader its own refusal.
  std::vector<std::string> names;
  agf::fuzz::expect_record_error(kTarget, [&] {
    const agf::ecg::WfdbHeader h = agf::ecg::parse_wfdb_header(parts[0], "r");
    for (const agf::ecg::WfdbLead& l : h.leads)
      if (std::find(names.begin(), names.end(), l.file) == names.end()) names.push_back(l.file);
  });
  dir.write(kHeaderName, parts[0]);
  for (size_t i = 0; i < names.size() && i + 1 < parts.size(); ++i)
    if (writable_name(names[i])) dir.write(names[i], parts[i + 1]);

  agf::fuzz::expect_record_error(kTarget, [&] { check_record(agf::ecg::read_challenge_record(dir / kHeaderName)); });
  dir.clear();
  return 0;
}
