#pragma once
// The project's prepared-dataset file (HDF5), one per dataset; docs/dataset_format.md describes the layout:
//   /signals        f32 (N, 12, T), one record per chunk, shuffle + deflate when compressed
//   /labels         u8 (N, K) multi-hot
//   /record_ids     (N) fixed-length strings
//   /classes        (K) compound {code, abbreviation}
//   /splits/{train,val,test}  int64 row indices, with the split's seed and ratios as attributes
// and the preprocessing and label settings as root attributes. No object times are recorded, so the same input
// always gives a byte-identical file.
#include <cstdint>
#include <string>
#include <string_view>

namespace agf::dataset {

inline constexpr std::string_view kDatasetFormatName = "agf-ecg-dataset";
inline constexpr int64_t kDatasetFormatVersion = 1;
// Bumped whenever the preprocessing changes what a record's signal is, so stale files can be told apart.
inline constexpr std::string_view kPreprocessingVersion = "1";

struct DatasetClass {
  std::string code;          // SNOMED CT code, or an equivalence class "733534002|164909002"
  std::string abbreviation;  // "AF", "CLBBB|LBBB", CODE-15's "1dAVb"
  bool operator==(const DatasetClass&) const = default;
};

// Everything the root attributes record. Strings are free text for people; the numbers are what code reads.
struct DatasetInfo {
  double fs = 500.0;               // sampling rate of the stored signals
  int64_t length = 6144;           // T
  std::string filter;              // "Butterworth order 3 band-pass 1-47 Hz, zero phase (filtfilt, odd padding)"
  std::string resampling;          // "none (native rate)" or "polyphase to 400 Hz"
  std::string normalisation;       // "per-lead z-score; flat lead -> zeros"
  std::string source;              // "challenge2021:/data/WFDB_Ga" or "code15:exams_part0.hdf5,..."
  std::string preprocessing_version = std::string(kPreprocessingVersion);
  std::string label_selection;     // how the classes were chosen, in words
  int64_t label_min_count = 200;   // a class is kept when more than this many records carry it (-1: not applied)
  int64_t merge_equivalent = 0;    // 1 when the Challenge's equivalent codes share one class
  int64_t drop_unlabelled = 1;     // 1 when records with no kept label were left out
  std::string created_by;          // "agf-collect 0.1.0": no time stamp, so re-runs are byte-identical
  int64_t deflate_level = 0;       // 0: no filters; 1-9: shuffle + deflate at that level
  bool operator==(const DatasetInfo&) const = default;
};

}  // namespace agf::dataset
