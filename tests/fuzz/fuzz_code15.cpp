// libFuzzer target for the CODE-15% reader (src/ecg/code15.*), structure-aware: each input describes a part
// (datasets, dtypes, shapes, layouts, values, exam ids, extra groups and links; code15_spec.h) and carries the text
// of exams.csv. The harness builds a valid HDF5 file from the description, so mutations change what the file holds,
// not the HDF5 library's own encoding (fuzz_code15_raw feeds raw bytes instead). Then it does what agf-collect does
// with a part (code15_exercise.h).
#include <cstdint>
#include <string_view>

#include "code15_exercise.h"
#include "code15_spec.h"
#include "fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const agf::fuzz::Code15Input in = agf::fuzz::parse_code15_input({reinterpret_cast<const char*>(data), size});
  const agf::fuzz::ScratchDir& dir = agf::fuzz::scratch();
  dir.write("exams.csv", in.csv);
  if (agf::fuzz::build_code15_part(in.spec, dir / "exams_part0.hdf5"))
    agf::fuzz::exercise_code15("fuzz_code15", dir / "exams_part0.hdf5", dir / "exams.csv");
  dir.clear();
  return 0;
}
