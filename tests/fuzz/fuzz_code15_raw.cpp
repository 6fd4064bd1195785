// libFuzzer target for the CODE-15% reader fed raw bytes as exams_part0.hdf5 (with a fixed, valid exams.csv). Most
// of what it reaches is the HDF5 library's own parsing, which is not ours to fix (Debian's libhdf5 is not
// instrumented either); the structure-aware fuzz_code15 is the one that explores our reader. This one checks that
// whatever HDF5 makes of a damaged file reaches us as a RecordError.
#include <cstdint>
#include <string_view>

#include "code15_exercise.h"
#include "fuzz_scratch.h"

namespace {

// The exam ids of the seeds' default layout (code15_spec.cpp: 1000 + 7 i, the last row a dummy 0).
constexpr std::string_view kExamsCsv =
    "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,trace_file\n"
    "1000,57,True,55.2,False,False,False,False,False,False,7,True,False,3.1,exams_part0.hdf5\n"
    "1007,81,False,79.9,True,False,False,True,False,False,8,False,,,exams_part0.hdf5\n"
    "1014,44,False,40.0,False,True,False,False,True,False,9,False,True,1.5,exams_part0.hdf5\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const agf::fuzz::ScratchDir& dir = agf::fuzz::scratch();
  static const bool csv_written = (dir.write("exams.csv", kExamsCsv), true);
  (void)csv_written;
  dir.write("exams_part0.hdf5", {reinterpret_cast<const char*>(data), size});
  agf::fuzz::exercise_code15("fuzz_code15_raw", dir / "exams_part0.hdf5", dir / "exams.csv");
  return 0;
}
