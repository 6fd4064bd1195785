#include "ecg/record.h"

#include <algorithm>
#include <fstream>

#include "ecg/mat_v4.h"
#include "ecg/record_error.h"
#include "ecg/text_util.h"

namespace agf::ecg {

namespace fs = std::filesystem;

double Record::mv(int64_t lead, int64_t s) const {
  const WfdbLead& l = header.leads[static_cast<size_t>(lead)];
  return (static_cast<double>(sample(lead, s)) - static_cast<double>(l.baseline)) / l.gain * l.units_to_mv;
}

Signal Record::to_signal() const {
  Signal sig;
  sig.id = id;
  sig.fs = fs();
  sig.n_samples = n_samples();
  for (const auto& l : header.leads) sig.lead_names.push_back(l.name);
  sig.mv.resize(adc.size());
  for (int64_t l = 0; l < n_leads(); ++l)
    for (int64_t s = 0; s < n_samples(); ++s) sig.mv[static_cast<size_t>(l * n_samples() + s)] = mv(l, s);
  return sig;
}

Tensor Record::signal_mv() const {
  Tensor t = empty({n_leads(), n_samples()}, DType::f32);
  float* out = t.data<float>();
  for (int64_t l = 0; l < n_leads(); ++l)
    for (int64_t s = 0; s < n_samples(); ++s) out[l * n_samples() + s] = static_cast<float>(mv(l, s));
  return t;
}

int16_t wfdb_checksum(const int16_t* samples, int64_t n, int64_t stride) {
  uint16_t sum = 0;  // unsigned wrap-around is the mod-2^16 sum
  for (int64_t i = 0; i < n; ++i) sum = static_cast<uint16_t>(sum + static_cast<uint16_t>(samples[i * stride]));
  return static_cast<int16_t>(sum);
}

void verify_record_samples(const Record& r) {
  for (int64_t l = 0; l < r.n_leads(); ++l) {
    const WfdbLead& lead = r.header.leads[static_cast<size_t>(l)];
    const int16_t* x = r.adc.data() + l * r.n_samples();
    if (lead.init_value && *lead.init_value != x[0])
      fail_record(RecordProblem::init_mismatch, r.id,
                  fmt::format("lead {} ({}): first sample {} but the header's init value is {}", l, lead.name, x[0],
                              *lead.init_value));
    if (lead.checksum) {
      int16_t sum = wfdb_checksum(x, r.n_samples());
      // A header may write the checksum as an unsigned 16-bit value; compare modulo 2^16.
      if (static_cast<uint16_t>(sum) != static_cast<uint16_t>(*lead.checksum))
        fail_record(RecordProblem::checksum_mismatch, r.id,
                    fmt::format("lead {} ({}): samples sum to {} (int16) but the header's checksum is {}", l,
                                lead.name, sum, *lead.checksum));
    }
  }
}

namespace {

fs::path header_path_of(const fs::path& p) {
  std::string ext = text::to_lower(p.extension().string());
  if (ext == ".hea") return p;
  if (ext == ".mat" || ext == ".dat") return fs::path(p).replace_extension(".hea");
  return fs::path(p.string() + ".hea");  // a stem; keeps dots inside record names
}

// Leads stored in one data file, in header order (that order is their interleaving order).
struct DataFileGroup {
  std::string file;
  std::vector<int64_t> leads;
};

std::vector<DataFileGroup> group_by_file(const WfdbHeader& h, const std::string& record) {
  std::vector<DataFileGroup> groups;
  for (int64_t l = 0; l < h.n_leads; ++l) {
    const WfdbLead& lead = h.leads[static_cast<size_t>(l)];
    if (lead.format != 16)
      fail_record(RecordProblem::unsupported, record,
                  fmt::format("lead {} ({}) uses WFDB format {}; only format 16 is read", l, lead.name, lead.format));
    if (fs::path(lead.file).has_parent_path() || lead.file.empty())
      fail_record(RecordProblem::unsupported, record,
                  fmt::format("data file '{}' is not a plain file name beside the header", lead.file));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.file == lead.file; });
    if (it == groups.end()) {
      groups.push_back({lead.file, {l}});
    } else {
      const WfdbLead& first = h.leads[static_cast<size_t>(it->leads.front())];
      if (first.byte_offset != lead.byte_offset)
        fail_record(RecordProblem::bad_header, record,
                    fmt::format("leads of {} disagree on the byte offset ({} vs {})", lead.file, first.byte_offset,
                                lead.byte_offset));
      it->leads.push_back(l);
    }
  }
  return groups;
}

// The MAT v4 file of a group, checked against the header (dims, byte offset).
MatV4Int16 parse_mat_group(const Record& r, const DataFileGroup& g, const fs::path& path) {
  MatV4Int16 m = read_mat_v4_int16(path, r.id);
  const int64_t k = static_cast<int64_t>(g.leads.size());
  const int64_t offset = r.header.leads[static_cast<size_t>(g.leads.front())].byte_offset;
  if (m.rows != k || m.cols != r.n_samples())
    fail_record(RecordProblem::dims_mismatch, r.id,
                fmt::format("{} holds {} x {} (leads x samples) but the header says {} x {}", path.string(), m.rows,
                            m.cols, k, r.n_samples()));
  if (offset != m.data_offset)
    fail_record(RecordProblem::bad_header, r.id,
                fmt::format("header says samples start at byte {} of {}, the MAT v4 data starts at byte {}", offset,
                            path.string(), m.data_offset));
  return m;
}

// The data file's size, or a RecordError(missing_file) naming the record.
uint64_t data_file_size(const Record& r, const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    fail_record(RecordProblem::missing_file, r.id, fmt::format("data file {} does not exist", path.string()));
  const uint64_t size = fs::file_size(path, ec);
  if (ec) fail_record(RecordProblem::missing_file, r.id, fmt::format("cannot stat {}: {}", path.string(), ec.message()));
  return size;
}

// Checks from the file's size that the data file can hold what the .hea promises, before the samples are allocated:
// a header is a few hundred bytes of text that may claim up to 2^31 samples per lead, so trusting it would let a tiny
// record allocate gigabytes (or throw a std::bad_alloc that names no file). After this, what the reader allocates is
// bounded by the bytes really on disk.
void check_data_file_size(const Record& r, const DataFileGroup& g, const fs::path& path, bool mat) {
  const uint64_t size = data_file_size(r, path);
  const uint64_t k = g.leads.size();
  const uint64_t offset = static_cast<uint64_t>(r.header.leads[static_cast<size_t>(g.leads.front())].byte_offset);
  // n_leads <= 64 and n_samples <= 2^31 (the header parser's bounds): 2 * k * n fits in 64 bits.
  const uint64_t data_bytes = 2 * k * static_cast<uint64_t>(r.n_samples());
  if (mat) {
    if (offset <= size && data_bytes <= size - offset) return;  // enough bytes: the MAT v4 parser checks the rest
    // Too small for the header's promise. The MAT v4 parser names the disagreement (its own dims against the
    // header's, a truncated matrix, a bad layout) while allocating no more than the file's real size.
    parse_mat_group(r, g, path);
    fail_record(RecordProblem::truncated, r.id,
                fmt::format("{} is {} bytes, but the header's {} leads x {} samples of int16 after byte {} need {}",
                            path.string(), size, k, r.n_samples(), offset, offset + data_bytes));
  }
  if (offset > size || size - offset < data_bytes)
    fail_record(RecordProblem::truncated, r.id,
                fmt::format("{} is {} bytes, but {} leads x {} samples of format 16 after byte {} need {}",
                            path.string(), size, k, r.n_samples(), offset, offset + data_bytes));
  if (size - offset > data_bytes)
    fail_record(RecordProblem::dims_mismatch, r.id,
                fmt::format("{} is {} bytes, {} more than {} leads x {} samples need", path.string(), size,
                            size - offset - data_bytes, k, r.n_samples()));
}

bool is_mat_file(const fs::path& path) { return text::to_lower(path.extension().string()) == ".mat"; }

void read_mat_group(Record& r, const DataFileGroup& g, const fs::path& path) {
  const MatV4Int16 m = parse_mat_group(r, g, path);
  const auto k = static_cast<int64_t>(g.leads.size());
  for (int64_t j = 0; j < k; ++j) {
    int16_t* dst = r.adc.data() + g.leads[static_cast<size_t>(j)] * r.n_samples();
    for (int64_t s = 0; s < r.n_samples(); ++s) dst[s] = m.at(j, s);
  }
}

// The file's size was checked against the header by check_data_file_size.
void read_format16_group(Record& r, const DataFileGroup& g, const fs::path& path) {
  const uint64_t k = g.leads.size();
  const uint64_t offset = static_cast<uint64_t>(r.header.leads[static_cast<size_t>(g.leads.front())].byte_offset);
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<unsigned char> buf(static_cast<size_t>(2 * k * static_cast<uint64_t>(r.n_samples())));
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  if (!in) fail_record(RecordProblem::truncated, r.id, fmt::format("short read of {}", path.string()));
  for (int64_t s = 0; s < r.n_samples(); ++s)
    for (uint64_t j = 0; j < k; ++j) {
      size_t at = 2 * (static_cast<size_t>(s) * k + j);
      r.adc[static_cast<size_t>(g.leads[j] * r.n_samples() + s)] =
          static_cast<int16_t>(static_cast<uint16_t>(buf[at] | (buf[at + 1] << 8)));
    }
}

}  // namespace

Record read_challenge_record(const fs::path& hea_or_stem) {
  Record r;
  r.header_path = header_path_of(hea_or_stem);
  r.id = r.header_path.stem().string();
  r.header = read_wfdb_header(r.header_path);
  const fs::path dir = r.header_path.parent_path();
  const std::vector<DataFileGroup> groups = group_by_file(r.header, r.id);
  // Every data file holds what the header promises before the samples are allocated (see check_data_file_size).
  for (const DataFileGroup& g : groups) check_data_file_size(r, g, dir / g.file, is_mat_file(dir / g.file));
  r.adc.assign(static_cast<size_t>(r.n_leads() * r.n_samples()), 0);
  for (const DataFileGroup& g : groups) {
    const fs::path path = dir / g.file;
    if (is_mat_file(path))
      read_mat_group(r, g, path);
    else
      read_format16_group(r, g, path);
  }
  verify_record_samples(r);
  return r;
}

}  // namespace agf::ecg
