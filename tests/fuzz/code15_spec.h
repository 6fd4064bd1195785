#pragma once
// The structure-aware input of fuzz_code15: a few lines that describe an exams_partN.hdf5 (which datasets exist,
// their dtype, shape, storage layout, values, exam ids; extra groups and links), then a line "---" and the text of
// exams.csv. The harness builds a valid HDF5 file from the description, so the fuzzer explores what our reader
// does with odd but valid files (shapes, dtypes, missing or misplaced datasets, exam_id mismatches with the CSV)
// instead of spending its time in the HDF5 library's own parsing. Example (tests/fuzz/corpus/code15/):
//
//   tracings f32 3 16 12 chunked values ramp
//   exam_id i64 3 ids 1001 1002 0
//   ---
//   exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,trace_file
//   1001,57,True,55.2,False,False,False,False,False,False,7,True,False,3.1,exams_part0.hdf5
//
// Lines (unknown words are ignored, numbers are clamped, so every input describes some file):
//   tracings|exam_id DTYPE [DIM ...|null] [chunked|compact] [deflate] [values ramp|zero|nan|inf|big|tiny]
//            [size BYTES] [ids N ...]
//                                   DTYPE: f16 f32 f32be f64 f64be i8 i16 i32 i64 i64be u8 u16 u32 u64 str
//                                   size: the element's width in bytes, padding the dtype (a valid HDF5 type)
//                                   no DIM: a scalar dataspace; null: a null dataspace
//   group PATH                      an empty group (e.g. "group tracings" puts a group where the dataset is)
//   softlink PATH TARGET            a soft link (may dangle)
//   hardlink PATH TARGET            a second name for an existing object
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agf::fuzz {

struct DatasetSpec {
  std::string name;                  // "tracings" or "exam_id"
  std::string dtype = "f32";
  bool null_space = false;
  std::vector<uint64_t> dims;        // empty: scalar
  std::string layout = "contiguous";  // contiguous | chunked | compact
  bool deflate = false;
  std::string values = "ramp";
  uint64_t element_size = 0;         // bytes per element, when not the dtype's own (a valid HDF5 type may be wider)
  std::vector<int64_t> ids;          // the first exam ids (exam_id only); the rest continue from them
};

struct LinkSpec {
  std::string kind;  // group | softlink | hardlink
  std::string path, target;
};

struct Code15Spec {
  std::vector<DatasetSpec> datasets;
  std::vector<LinkSpec> links;
};

struct Code15Input {
  Code15Spec spec;
  std::string csv;
};

// Never fails: every input describes some file.
Code15Input parse_code15_input(std::string_view input);

// Writes the described part to `path`. False when HDF5 refuses the description (a dimension too large for it, a
// link to nothing it can link): such inputs are skipped. Leaves no HDF5 object open.
bool build_code15_part(const Code15Spec& spec, const std::filesystem::path& path);

// The same file built in memory (HDF5's core driver, no backing store), returned as its bytes (for the timing of
// fuzz_code15_seeds bench).
bool build_code15_part_image(const Code15Spec& spec, std::string& image);

// The most elements (and bytes) the builder writes into one dataset; larger datasets are declared and left to their
// fill value, which is how a tiny file can declare a huge extent.
inline constexpr uint64_t kMaxWrittenElements = uint64_t{1} << 17;
inline constexpr uint64_t kMaxWrittenBytes = uint64_t{1} << 22;

}  // namespace agf::fuzz
