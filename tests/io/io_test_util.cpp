#include "io_test_util.h"

#include <unistd.h>

#include "io/half.h"

namespace agf::test {

std::vector<double> values_as_double(const Tensor& t) {
  switch (t.dtype()) {
    case DType::f16:
    case DType::bf16: return io::widen_to_f32(t).to(DType::f64).to_vector<double>();
    case DType::boolean: {
      std::vector<double> out;
      for (uint8_t b : t.to(DType::u8).to_vector<uint8_t>()) out.push_back(b ? 1.0 : 0.0);
      return out;
    }
    case DType::i64: {  // through double would lose the low bits of 2^62-sized values; callers compare exactly
      std::vector<double> out;
      for (int64_t v : t.to_vector<int64_t>()) out.push_back(static_cast<double>(v));
      return out;
    }
    default: return t.to(DType::f64).to_vector<double>();
  }
}

std::filesystem::path io_scratch_dir() {
  // Under the system temp dir, one per process, removed at exit: tests never write into the source tree.
  struct Scratch {
    std::filesystem::path dir;
    Scratch() : dir(std::filesystem::temp_directory_path() / fmt::format("agf_io_test_{}", ::getpid())) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

}  // namespace agf::test
