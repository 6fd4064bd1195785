#include "ecg/wfdb_header.h"

#include <cctype>
#include <cmath>

#include "ecg/record_error.h"
#include "ecg/text_util.h"

namespace agf::ecg {

namespace {

constexpr size_t kMaxHeaderBytes = 1 << 20;

struct HeaderParser {
  const std::string& record;
  int line_no = 0;  // 1-based line in the file, for messages

  [[noreturn]] void fail(RecordProblem p, const std::string& what) const {
    fail_record(p, record, fmt::format("header line {}: {}", line_no, what));
  }

  int64_t int_field(std::string_view tok, const char* field) const {
    auto v = text::parse_int(tok);
    if (!v) fail(RecordProblem::bad_header, fmt::format("{} '{}' is not an integer", field, tok));
    return *v;
  }

  double double_field(std::string_view tok, const char* field) const {
    auto v = text::parse_double(tok);
    if (!v) fail(RecordProblem::bad_header, fmt::format("{} '{}' is not a finite number", field, tok));
    return *v;
  }

  // "<record>[/segments] <n_sig> <fs>[/counter[(base)]] <n_samples> [time/date...]"
  void record_line(std::string_view line, WfdbHeader& h) const {
    auto tok = text::split_ws(line);
    if (tok.size() < 4)
      fail(RecordProblem::bad_header,
           fmt::format("expected '<record> <n_leads> <fs> <n_samples>', got '{}'", line));
    h.record_name = std::string(tok[0]);
    if (h.record_name.find('/') != std::string::npos)
      fail(RecordProblem::unsupported, fmt::format("multi-segment record '{}' is not supported", h.record_name));
    int64_t n_leads = int_field(tok[1], "number of leads");
    if (n_leads < 1 || n_leads > kMaxLeads)
      fail(RecordProblem::bad_header, fmt::format("number of leads {} outside 1..{}", n_leads, kMaxLeads));
    h.n_leads = static_cast<int>(n_leads);
    std::string_view fs_tok = tok[2].substr(0, tok[2].find('/'));
    h.fs = double_field(fs_tok, "sampling frequency");
    if (!(h.fs > 0)) fail(RecordProblem::bad_header, fmt::format("sampling frequency {} is not positive", h.fs));
    h.n_samples = int_field(tok[3], "number of samples");
    if (h.n_samples < 1 || h.n_samples > kMaxSamples)
      fail(RecordProblem::bad_header, fmt::format("number of samples {} outside 1..{}", h.n_samples, kMaxSamples));
    if (tok.size() > 4) {
      size_t at = static_cast<size_t>(tok[4].data() - line.data());
      h.date_time = std::string(text::trim(line.substr(at)));
    }
  }

  // "<format>[x<frames>][:<skew>][+<offset>]"
  void format_field(std::string_view tok, WfdbLead& lead) const {
    size_t i = 0;
    while (i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i]))) ++i;
    const int64_t format = int_field(tok.substr(0, i), "storage format");
    if (format < 0 || format > 1000)
      fail(RecordProblem::bad_header, fmt::format("storage format {} is not a WFDB format", format));
    lead.format = static_cast<int>(format);
    std::string_view rest = tok.substr(i);
    if (rest.empty()) return;
    if (rest.front() == 'x' || rest.front() == ':')
      fail(RecordProblem::unsupported, fmt::format("format '{}' (samples per frame or skew) is not supported", tok));
    if (rest.front() != '+') fail(RecordProblem::bad_header, fmt::format("storage format '{}' does not parse", tok));
    lead.byte_offset = int_field(rest.substr(1), "byte offset");
    if (lead.byte_offset < 0) fail(RecordProblem::bad_header, fmt::format("negative byte offset in '{}'", tok));
  }

  // "<gain>[(<baseline>)][/<units>]"
  void gain_field(std::string_view tok, WfdbLead& lead, bool& has_baseline) const {
    size_t slash = tok.find('/');
    std::string_view gain_part = tok.substr(0, slash);
    if (slash != std::string_view::npos) {
      lead.units = std::string(tok.substr(slash + 1));
      if (lead.units.empty()) fail(RecordProblem::bad_header, fmt::format("empty units in gain '{}'", tok));
    }
    size_t paren = gain_part.find('(');
    if (paren != std::string_view::npos) {
      if (gain_part.back() != ')') fail(RecordProblem::bad_header, fmt::format("unclosed baseline in '{}'", tok));
      lead.baseline = int_field(gain_part.substr(paren + 1, gain_part.size() - paren - 2), "baseline");
      has_baseline = true;
      gain_part = gain_part.substr(0, paren);
    }
    lead.gain = double_field(gain_part, "gain");
    if (lead.gain == 0.0) lead.gain = 200.0;  // WFDB: a zero gain means the default
    if (text::iequals(lead.units, "mV")) {
      lead.units_to_mv = 1.0;
    } else if (text::iequals(lead.units, "uV") || lead.units == "µV") {
      lead.units_to_mv = 1e-3;
    } else if (lead.units == "V") {
      lead.units_to_mv = 1e3;
    } else {
      fail(RecordProblem::unsupported, fmt::format("units '{}' are not a voltage this reader converts to mV",
                                                   lead.units));
    }
  }

  // "<file> <format> <gain> <adc_res> <adc_zero> <init> <checksum> <block> <description...>"; trailing fields optional.
  WfdbLead lead_line(std::string_view line) const {
    auto tok = text::split_ws(line);
    if (tok.size() < 2) fail(RecordProblem::bad_header, fmt::format("lead line '{}' has no storage format", line));
    WfdbLead lead;
    lead.file = std::string(tok[0]);
    if (lead.file == "~" || lead.file == "-")
      fail(RecordProblem::unsupported, fmt::format("data file '{}' (null or standard input) is not supported", lead.file));
    format_field(tok[1], lead);
    bool has_baseline = false;
    if (tok.size() > 2) gain_field(tok[2], lead, has_baseline);
    if (tok.size() > 3) {
      const int64_t bits = int_field(tok[3], "ADC resolution");
      if (bits < 0 || bits > 64) fail(RecordProblem::bad_header, fmt::format("ADC resolution {} outside 0..64", bits));
      lead.adc_resolution = static_cast<int>(bits);
    }
    if (tok.size() > 4) lead.adc_zero = int_field(tok[4], "ADC zero");
    if (!has_baseline) lead.baseline = lead.adc_zero;
    if (tok.size() > 5) lead.init_value = int_field(tok[5], "initial value");
    if (tok.size() > 6) lead.checksum = int_field(tok[6], "checksum");
    if (tok.size() > 7) lead.block_size = int_field(tok[7], "block size");
    if (tok.size() > 8) {
      size_t at = static_cast<size_t>(tok[8].data() - line.data());
      lead.name = std::string(text::trim(line.substr(at)));
    }
    return lead;
  }
};

bool is_unknown_text(std::string_view v) {
  return v.empty() || text::iequals(v, "nan") || text::iequals(v, "unknown") || text::iequals(v, "none");
}

void comment_line(std::string_view body, WfdbHeader& h, const std::string& record, int line_no) {
  h.comments.emplace_back(body);
  size_t colon = body.find(':');
  if (colon == std::string_view::npos) return;
  std::string key = text::to_lower(text::trim(body.substr(0, colon)));
  std::string_view value = text::trim(body.substr(colon + 1));
  if (key == "age") {
    // Metadata only: an unreadable age is recorded as unknown rather than costing the record.
    if (!is_unknown_text(value)) h.age = text::parse_double(value);
  } else if (key == "sex") {
    if (text::iequals(value, "male") || text::iequals(value, "m")) h.sex = Sex::male;
    else if (text::iequals(value, "female") || text::iequals(value, "f")) h.sex = Sex::female;
  } else if (key == "dx") {
    for (std::string_view item : text::split_char(value, ',')) {
      item = text::trim(item);
      if (item.empty()) continue;  // "a,,b": the Challenge files hold such empty items
      bool digits = true;
      for (char c : item) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (!digits)
        fail_record(RecordProblem::bad_header, record,
                    fmt::format("header line {}: #Dx item '{}' is not a SNOMED CT code", line_no, item));
      h.dx.emplace_back(item);
    }
  } else if (key == "rx") {
    h.rx = std::string(value);
  } else if (key == "hx") {
    h.hx = std::string(value);
  } else if (key == "sx") {
    h.sx = std::string(value);
  }
}

}  // namespace

WfdbHeader parse_wfdb_header(std::string_view text, const std::string& record) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  WfdbHeader h;
  HeaderParser p{record};
  bool have_record_line = false;
  for (std::string_view raw : text::split_lines(text)) {
    ++p.line_no;
    std::string_view line = text::trim(raw);
    if (line.empty()) continue;
    if (line.front() == '#') {
      comment_line(text::trim(line.substr(1)), h, record, p.line_no);
      continue;
    }
    if (!have_record_line) {
      p.record_line(line, h);
      have_record_line = true;
    } else if (static_cast<int>(h.leads.size()) < h.n_leads) {
      h.leads.push_back(p.lead_line(line));
    } else {
      p.fail(RecordProblem::bad_header,
             fmt::format("unexpected line '{}' after the {} lead lines line 1 announces", line, h.n_leads));
    }
  }
  if (!have_record_line) fail_record(RecordProblem::bad_header, record, "header has no record line");
  if (static_cast<int>(h.leads.size()) != h.n_leads)
    fail_record(RecordProblem::bad_header, record,
                fmt::format("header announces {} leads but has {} lead lines", h.n_leads, h.leads.size()));
  return h;
}

WfdbHeader read_wfdb_header(const std::filesystem::path& path) {
  std::string record = path.stem().string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail_record(RecordProblem::missing_file, record, fmt::format("header {} does not exist", path.string()));
  std::string text;
  try {
    text = text::read_file(path, kMaxHeaderBytes);
  } catch (const Error& e) {
    fail_record(RecordProblem::bad_header, record, e.what());
  }
  return parse_wfdb_header(text, record);
}

}  // namespace agf::ecg
