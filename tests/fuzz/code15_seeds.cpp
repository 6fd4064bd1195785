// Helper of the CODE-15 fuzz targets (not a fuzz target itself).
//   fuzz_code15_seeds raw OUT_DIR SEED...   builds each structured seed (code15_spec.h) into OUT_DIR/<stem>.hdf5:
//                                           the seeds of fuzz_code15_raw
//   fuzz_code15_seeds bench SEED [N]        times the two ways of handing HDF5 a fuzz input, N times each: a file
//                                           written to $TMPDIR and opened by name (what the targets do), and an
//                                           in-memory file image (H5Pset_file_image on the core driver)
#include <hdf5.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "code15_spec.h"
#include "fuzz_scratch.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What Code15Part's constructor asks of HDF5: open, both datasets, their shapes, the exam ids; then close.
void open_and_read_ids(hid_t file) {
  if (file < 0) std::abort();
  const hid_t tr = H5Dopen2(file, "tracings", H5P_DEFAULT), ids = H5Dopen2(file, "exam_id", H5P_DEFAULT);
  const hid_t space = H5Dget_space(ids);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (H5Dread(ids, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) std::abort();
  H5Sclose(space);
  H5Dclose(ids);
  H5Dclose(tr);
  H5Fclose(file);
}

// Per-call microseconds of CPU time (user + system, this process) of `op`, the best of `rounds` rounds of `n` calls:
// the machine is shared, and CPU time with the best round is what other work disturbs least.
template <typename Op>
double best_us(Op&& op, int rounds, int n) {
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    const std::clock_t t0 = std::clock();
    for (int i = 0; i < n; ++i) op();
    best = std::min(best, 1e6 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC / n);
  }
  return best;
}

int bench(const std::string& seed, int n) {
  const agf::fuzz::Code15Input in = agf::fuzz::parse_code15_input(slurp(seed));
  const agf::fuzz::ScratchDir& dir = agf::fuzz::scratch();
  const std::string path = (dir / "exams_part0.hdf5").string();
  std::string image;
  if (!agf::fuzz::build_code15_part_image(in.spec, image)) std::abort();

  // Building the part from its description: on tmpfs by name, or in memory (core driver) and taken as bytes.
  auto build_file = [&] {
    if (!agf::fuzz::build_code15_part(in.spec, path)) std::abort();
  };
  auto build_image = [&] {
    if (!agf::fuzz::build_code15_part_image(in.spec, image)) std::abort();
  };
  // Opening an input: write the bytes to tmpfs and open by name, or open the bytes as a file image.
  auto open_file = [&] {
    dir.write("exams_part0.hdf5", image);
    open_and_read_ids(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  };
  auto open_image = [&] {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 16, 0);
    H5Pset_file_image(fapl, image.data(), image.size());
    const hid_t f = H5Fopen("image.hdf5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    open_and_read_ids(f);
  };
  constexpr int kRounds = 20;
  const int per_round = std::max(1, n / kRounds);
  double us[4] = {1e300, 1e300, 1e300, 1e300};
  for (int r = 0; r < kRounds; ++r) {  // interleaved, so that a busy spell of the machine hits all four alike
    us[0] = std::min(us[0], best_us(build_file, 1, per_round));
    us[1] = std::min(us[1], best_us(build_image, 1, per_round));
    us[2] = std::min(us[2], best_us(open_file, 1, per_round));
    us[3] = std::min(us[3], best_us(open_image, 1, per_round));
  }
  std::printf("%s (a %zu-byte file), CPU time per call, best of %d rounds of %d calls:\n", seed.c_str(),
              image.size(), kRounds, per_round);
  std::printf("  build on tmpfs (H5Fcreate by name)           %8.1f us\n", us[0]);
  std::printf("  build in memory (core driver) + its image    %8.1f us\n", us[1]);
  std::printf("  write to tmpfs + open by name + read ids     %8.1f us\n", us[2]);
  std::printf("  file image (core driver) + read ids          %8.1f us\n", us[3]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "raw" && argc >= 4) {
    for (int i = 3; i < argc; ++i) {
      const std::filesystem::path seed = argv[i];
      const std::filesystem::path out = std::filesystem::path(argv[2]) / (seed.stem().string() + ".hdf5");
      if (!agf::fuzz::build_code15_part(agf::fuzz::parse_code15_input(slurp(seed)).spec, out)) {
        std::fprintf(stderr, "HDF5 refused the description in %s\n", seed.c_str());
        return 1;
      }
      std::printf("%s\n", out.c_str());
    }
    return 0;
  }
  if (mode == "bench" && argc >= 3) return bench(argv[2], argc > 3 ? std::atoi(argv[3]) : 2000);
  std::fprintf(stderr, "usage: fuzz_code15_seeds raw OUT_DIR SEED... | bench SEED [N]\n");
  return 2;
}
