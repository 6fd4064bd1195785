#pragma once
// Label spaces: the Challenge 2021 scored SNOMED CT codes (30 codes, 26 classes once the four equivalent pairs are
// merged), per-dataset class selection by record count, multi-hot encoding, and CODE-15's six labels.
// The table is the project's own data/labels/challenge2021_scored.csv (row order = class order).
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace agf::ecg {

// data/labels of the source tree, or $AGF_DATA_DIR/labels when that is set.
std::filesystem::path default_label_dir();

// The eight source datasets of the Challenge 2021 training data, in the table's count-column order.
enum class ChallengeDataset { cpsc, cpsc_extra, st_petersburg, ptb, ptb_xl, georgia, chapman_shaoxing, ningbo };
inline constexpr int kChallengeDatasetCount = 8;
std::string_view dataset_name(ChallengeDataset d);  // "georgia", "ptb_xl", ...
// Accepts the names above and common aliases ("ga", "g12ec", "WFDB_Ga", "ptbxl", "WFDB_PTBXL", "chapman",
// "WFDB_ChapmanShaoxing", "WFDB_Ningbo", "incart", ...), case-insensitively; an error lists the known names.
ChallengeDataset parse_challenge_dataset(std::string_view name);

inline constexpr std::string_view kNormalSinusRhythm = "426783006";  // NSR, the Challenge's normal class

struct ScoredCode {
  std::string code;               // SNOMED CT code
  std::string abbreviation;       // "CLBBB"
  std::string description;        // "complete left bundle branch block"
  std::string equivalence_class;  // "733534002|164909002" for a scored-as-equal pair, else the code itself
  std::array<int64_t, kChallengeDatasetCount> counts{};  // records per dataset, as the Challenge published them
};

class ScoredCodeTable {
 public:
  static ScoredCodeTable load(const std::filesystem::path& csv);
  static ScoredCodeTable load_default();  // default_label_dir() / "challenge2021_scored.csv"

  const std::vector<ScoredCode>& codes() const { return codes_; }
  const ScoredCode* find(std::string_view code) const;

 private:
  std::vector<ScoredCode> codes_;
};

// One output of a classifier: a single code, or an equivalence class of codes when merging.
struct LabelClass {
  std::string key;                 // "164889003" or "733534002|164909002" (the weights file's naming)
  std::vector<std::string> codes;  // member codes
  std::string abbreviation;        // "AF" or "CLBBB|LBBB"
};

class ClassSet {
 public:
  ClassSet() = default;
  explicit ClassSet(std::vector<LabelClass> classes);  // a code in two classes is an error

  int64_t size() const { return static_cast<int64_t>(classes_.size()); }
  const LabelClass& operator[](int64_t i) const { return classes_[static_cast<size_t>(i)]; }
  const std::vector<LabelClass>& classes() const { return classes_; }
  std::optional<int64_t> index_of_code(std::string_view code) const;
  std::vector<std::string> keys() const;
  std::vector<std::string> abbreviations() const;
  ClassSet subset(const std::vector<int64_t>& indices) const;  // in the given order

 private:
  std::vector<LabelClass> classes_;
  std::unordered_map<std::string, int64_t> by_code_;
};

// All scored codes in table order: 30 classes, or 26 with equivalent codes merged (a merged class sits where its
// first member appears in the table).
ClassSet scored_classes(const ScoredCodeTable& table, bool merge_equivalent);

// Per class: the table's published record count in `dataset` (a merged class sums its members: an upper bound
// when a record carries both codes).
std::vector<int64_t> published_counts(const ScoredCodeTable& table, const ClassSet& classes, ChallengeDataset dataset);

// Per class: how many of the records carry at least one of its codes (each record counted once per class); only
// the records `rows` names (indices into record_codes) when it is given.
std::vector<int64_t> count_records(const ClassSet& classes, const std::vector<std::vector<std::string>>& record_codes,
                                   const std::vector<size_t>* rows = nullptr);

// The classes whose count is strictly greater than `threshold`, in the original order.
ClassSet select_classes(const ClassSet& classes, const std::vector<int64_t>& counts, int64_t threshold = 200);

// The reference's label set for a dataset: scored classes (unmerged by default) with more than 200 published
// records (Georgia 18, PTB-XL 19, Ningbo 23, Chapman-Shaoxing 16).
ClassSet reference_classes(const ScoredCodeTable& table, ChallengeDataset dataset, int64_t threshold = 200,
                           bool merge_equivalent = false);

struct LabelMatrix {
  Tensor labels;              // u8 (n_kept, K), class order of the ClassSet
  std::vector<int64_t> kept;  // for each row, its index in the input records
  int64_t unlabelled = 0;     // records with no code in any class
  int64_t dropped = 0;        // of those, how many were left out (all of them when drop_unlabelled, else 0)
};

// Multi-hot encoding; codes in no class are ignored.
LabelMatrix encode_multi_hot(const ClassSet& classes, const std::vector<std::vector<std::string>>& record_codes,
                             bool drop_unlabelled = true);

// CODE-15%'s six labels, in the order of its exams.csv columns and of the pretrained teacher's outputs.
inline constexpr int kCode15LabelCount = 6;
inline constexpr std::array<std::string_view, kCode15LabelCount> kCode15Labels = {"1dAVb", "RBBB", "LBBB",
                                                                                 "SB",    "AF",   "ST"};

}  // namespace agf::ecg
