#include "ecg/labels.h"

#include <algorithm>
#include <cstdlib>

#include "ecg/csv_table.h"
#include "ecg/text_util.h"
#include "tensor/error.h"

#ifndef AGF_SOURCE_DATA_DIR
#define AGF_SOURCE_DATA_DIR "data"
#endif

namespace agf::ecg {

std::filesystem::path default_label_dir() {
  if (const char* env = std::getenv("AGF_DATA_DIR"); env && *env) return std::filesystem::path(env) / "labels";
  return std::filesystem::path(AGF_SOURCE_DATA_DIR) / "labels";
}

namespace {

constexpr std::array<std::string_view, kChallengeDatasetCount> kDatasetNames = {
    "cpsc", "cpsc_extra", "st_petersburg", "ptb", "ptb_xl", "georgia", "chapman_shaoxing", "ningbo"};

struct DatasetAlias {
  std::string_view alias;
  ChallengeDataset dataset;
};
// Folder names of the data as distributed: the Challenge's WFDB_* archives and the v1.0.3 training folders
// (training/cpsc_2018, cpsc_2018_extra, st_petersburg_incart, ptb, ptb-xl, georgia, chapman_shaoxing, ningbo).
constexpr DatasetAlias kAliases[] = {
    {"cpsc_2018", ChallengeDataset::cpsc},          {"cpsc_2018_extra", ChallengeDataset::cpsc_extra},
    {"st_petersburg_incart", ChallengeDataset::st_petersburg},
    {"cpsc2018", ChallengeDataset::cpsc},           {"wfdb_cpsc2018", ChallengeDataset::cpsc},
    {"cpsc2018_2", ChallengeDataset::cpsc_extra},   {"wfdb_cpsc2018_2", ChallengeDataset::cpsc_extra},
    {"stpetersburg", ChallengeDataset::st_petersburg}, {"incart", ChallengeDataset::st_petersburg},
    {"wfdb_stpetersburg", ChallengeDataset::st_petersburg}, {"wfdb_ptb", ChallengeDataset::ptb},
    {"ptbxl", ChallengeDataset::ptb_xl},            {"ptb-xl", ChallengeDataset::ptb_xl},
    {"wfdb_ptbxl", ChallengeDataset::ptb_xl},       {"ga", ChallengeDataset::georgia},
    {"g12ec", ChallengeDataset::georgia},           {"wfdb_ga", ChallengeDataset::georgia},
    {"chapman", ChallengeDataset::chapman_shaoxing}, {"chapmanshaoxing", ChallengeDataset::chapman_shaoxing},
    {"wfdb_chapmanshaoxing", ChallengeDataset::chapman_shaoxing}, {"wfdb_ningbo", ChallengeDataset::ningbo},
};

}  // namespace

std::string_view dataset_name(ChallengeDataset d) { return kDatasetNames[static_cast<size_t>(d)]; }

ChallengeDataset parse_challenge_dataset(std::string_view name) {
  name = text::trim(name);
  for (size_t i = 0; i < kDatasetNames.size(); ++i)
    if (text::iequals(name, kDatasetNames[i])) return static_cast<ChallengeDataset>(i);
  for (const auto& a : kAliases)
    if (text::iequals(name, a.alias)) return a.dataset;
  AGF_FAIL("unknown Challenge 2021 dataset '{}' (known: {})", name, fmt::join(kDatasetNames, ", "));
}

ScoredCodeTable ScoredCodeTable::load(const std::filesystem::path& csv) {
  CsvTable t = CsvTable::read(csv, 1 << 20);
  const int64_t c_code = t.column("code"), c_abbr = t.column("abbreviation"), c_desc = t.column("description"),
                c_eq = t.column("equivalence_class");
  std::array<int64_t, kChallengeDatasetCount> c_counts;
  for (size_t d = 0; d < kDatasetNames.size(); ++d) c_counts[d] = t.column(fmt::format("count_{}", kDatasetNames[d]));
  ScoredCodeTable table;
  for (int64_t r = 0; r < t.rows(); ++r) {
    ScoredCode s;
    s.code = t.cell(r, c_code);
    s.abbreviation = t.cell(r, c_abbr);
    s.description = t.cell(r, c_desc);
    s.equivalence_class = t.cell(r, c_eq);
    AGF_CHECK(text::parse_int(s.code).has_value(), "{} data row {}: code '{}' is not a SNOMED CT code", csv.string(),
              r + 1, s.code);
    AGF_CHECK(table.find(s.code) == nullptr, "{}: code {} listed twice", csv.string(), s.code);
    bool member = false;
    for (std::string_view m : text::split_char(s.equivalence_class, '|')) member = member || m == s.code;
    AGF_CHECK(member, "{} data row {}: code {} is not a member of its equivalence class '{}'", csv.string(), r + 1,
              s.code, s.equivalence_class);
    for (size_t d = 0; d < kDatasetNames.size(); ++d) {
      s.counts[d] = t.int_cell(r, c_counts[d]);
      AGF_CHECK(s.counts[d] >= 0, "{} data row {}: negative count", csv.string(), r + 1);
    }
    table.codes_.push_back(std::move(s));
  }
  AGF_CHECK(!table.codes_.empty(), "{}: no scored codes", csv.string());
  return table;
}

ScoredCodeTable ScoredCodeTable::load_default() { return load(default_label_dir() / "challenge2021_scored.csv"); }

const ScoredCode* ScoredCodeTable::find(std::string_view code) const {
  for (const auto& c : codes_)
    if (c.code == code) return &c;
  return nullptr;
}

ClassSet::ClassSet(std::vector<LabelClass> classes) : classes_(std::move(classes)) {
  for (size_t i = 0; i < classes_.size(); ++i)
    for (const std::string& code : classes_[i].codes) {
      auto [it, fresh] = by_code_.emplace(code, static_cast<int64_t>(i));
      AGF_CHECK(fresh, "code {} belongs to two classes ({} and {})", code, classes_[static_cast<size_t>(it->second)].key,
                classes_[i].key);
    }
}

std::optional<int64_t> ClassSet::index_of_code(std::string_view code) const {
  auto it = by_code_.find(std::string(code));
  if (it == by_code_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ClassSet::keys() const {
  std::vector<std::string> out;
  for (const auto& c : classes_) out.push_back(c.key);
  return out;
}

std::vector<std::string> ClassSet::abbreviations() const {
  std::vector<std::string> out;
  for (const auto& c : classes_) out.push_back(c.abbreviation);
  return out;
}

ClassSet ClassSet::subset(const std::vector<int64_t>& indices) const {
  std::vector<LabelClass> out;
  for (int64_t i : indices) {
    AGF_CHECK(i >= 0 && i < size(), "class index {} outside 0..{}", i, size() - 1);
    out.push_back(classes_[static_cast<size_t>(i)]);
  }
  return ClassSet(std::move(out));
}

ClassSet scored_classes(const ScoredCodeTable& table, bool merge_equivalent) {
  std::vector<LabelClass> classes;
  for (const ScoredCode& c : table.codes()) {
    if (!merge_equivalent) {
      classes.push_back({c.code, {c.code}, c.abbreviation});
      continue;
    }
    auto it = std::find_if(classes.begin(), classes.end(), [&](const auto& k) { return k.key == c.equivalence_class; });
    if (it == classes.end()) {
      classes.push_back({c.equivalence_class, {c.code}, c.abbreviation});
    } else {
      it->codes.push_back(c.code);
      it->abbreviation += "|" + c.abbreviation;
    }
  }
  // The abbreviation follows the key's member order ("CLBBB|LBBB" for "733534002|164909002").
  for (LabelClass& k : classes) {
    if (k.codes.size() < 2) continue;
    std::vector<std::string> abbrs;
    for (std::string_view code : text::split_char(k.key, '|')) {
      const ScoredCode* s = table.find(code);
      AGF_CHECK(s != nullptr, "equivalence class {} names code {}, which is not in the table", k.key, code);
      abbrs.push_back(s->abbreviation);
    }
    k.abbreviation = fmt::format("{}", fmt::join(abbrs, "|"));
    k.codes.clear();
    for (std::string_view code : text::split_char(k.key, '|')) k.codes.emplace_back(code);
  }
  return ClassSet(std::move(classes));
}

std::vector<int64_t> published_counts(const ScoredCodeTable& table, const ClassSet& classes, ChallengeDataset dataset) {
  std::vector<int64_t> counts(static_cast<size_t>(classes.size()), 0);
  for (int64_t i = 0; i < classes.size(); ++i)
    for (const std::string& code : classes[i].codes) {
      const ScoredCode* s = table.find(code);
      AGF_CHECK(s != nullptr, "class {} has code {}, which is not in the scored table", classes[i].key, code);
      counts[static_cast<size_t>(i)] += s->counts[static_cast<size_t>(dataset)];
    }
  return counts;
}

std::vector<int64_t> count_records(const ClassSet& classes, const std::vector<std::vector<std::string>>& record_codes,
                                   const std::vector<size_t>* rows) {
  std::vector<int64_t> counts(static_cast<size_t>(classes.size()), 0);
  std::vector<char> seen(static_cast<size_t>(classes.size()));
  auto count = [&](const std::vector<std::string>& codes) {
    std::fill(seen.begin(), seen.end(), 0);
    for (const std::string& code : codes)
      if (auto k = classes.index_of_code(code); k && !seen[static_cast<size_t>(*k)]) {
        seen[static_cast<size_t>(*k)] = 1;
        ++counts[static_cast<size_t>(*k)];
      }
  };
  if (rows == nullptr) {
    for (const auto& codes : record_codes) count(codes);
  } else {
    for (size_t r : *rows) count(record_codes.at(r));
  }
  return counts;
}

ClassSet select_classes(const ClassSet& classes, const std::vector<int64_t>& counts, int64_t threshold) {
  AGF_CHECK(static_cast<int64_t>(counts.size()) == classes.size(), "{} counts for {} classes", counts.size(),
            classes.size());
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < classes.size(); ++i)
    if (counts[static_cast<size_t>(i)] > threshold) keep.push_back(i);
  return classes.subset(keep);
}

ClassSet reference_classes(const ScoredCodeTable& table, ChallengeDataset dataset, int64_t threshold,
                           bool merge_equivalent) {
  ClassSet all = scored_classes(table, merge_equivalent);
  return select_classes(all, published_counts(table, all, dataset), threshold);
}

LabelMatrix encode_multi_hot(const ClassSet& classes, const std::vector<std::vector<std::string>>& record_codes,
                             bool drop_unlabelled) {
  const int64_t k = classes.size();
  std::vector<uint8_t> rows;
  LabelMatrix m;
  std::vector<uint8_t> row(static_cast<size_t>(k));
  for (size_t r = 0; r < record_codes.size(); ++r) {
    std::fill(row.begin(), row.end(), 0);
    bool any = false;
    for (const std::string& code : record_codes[r])
      if (auto c = classes.index_of_code(code)) {
        row[static_cast<size_t>(*c)] = 1;
        any = true;
      }
    if (!any) {
      ++m.unlabelled;
      if (drop_unlabelled) {
        ++m.dropped;
        continue;
      }
    }
    rows.insert(rows.end(), row.begin(), row.end());
    m.kept.push_back(static_cast<int64_t>(r));
  }
  const int64_t n = static_cast<int64_t>(m.kept.size());
  m.labels = empty({n, k}, DType::u8);
  if (!rows.empty()) std::copy(rows.begin(), rows.end(), m.labels.data<uint8_t>());
  return m;
}

}  // namespace agf::ecg
