// Time to parse and validate a safetensors header of N entries, the cost a loader pays before reading any tensor.
//   bench-safetensors-header [N ...]      (default: 10000 100000 1000000 and one past the entry cap)
// Each header is built in memory (F32 tensors of 2 elements, names like "blocks.123.mlp.weight", a __metadata__
// entry), then parsed three times; the best wall and CPU times are printed (CPU time tells the parser's cost apart
// from a busy machine's). A count past the reader's entry cap is refused, and
// the time to refuse it is printed instead.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

std::vector<uint8_t> header_file(size_t entries) {
  std::string h = R"({"__metadata__":{"format":"pt"})";
  for (size_t i = 0; i < entries; ++i)
    h += fmt::format(R"(,"blocks.{}.mlp.weight":{{"dtype":"F32","shape":[2],"data_offsets":[{},{}]}})", i, 8 * i,
                     8 * (i + 1));
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<uint8_t> file(8 + h.size() + 8 * entries, 0);
  const uint64_t n = h.size();
  std::memcpy(file.data(), &n, 8);
  std::memcpy(file.data() + 8, h.data(), h.size());
  return file;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::stoul(argv[i]));
  if (counts.empty()) counts = {10'000, 100'000, 1'000'000, agf::io::kSafetensorsMaxEntries + 1};
  fmt::print("{:>9} {:>10} {:>8} {:>8} {:>12}  {}\n", "entries", "header MB", "wall s", "CPU s", "entries/s",
             "result");
  for (size_t n : counts) {
    const std::vector<uint8_t> file = header_file(n);
    double best = 1e30, best_cpu = 1e30;
    std::string result;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      try {
        const agf::io::SafetensorsIndex index = agf::io::parse_safetensors_header(file, "bench");
        result = fmt::format("parsed {} entries", index.entries.size());
      } catch (const agf::Error& e) {
        result = fmt::format("refused: {}", e.what());
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      best_cpu = std::min(best_cpu, cpu_seconds() - c0);
    }
    fmt::print("{:>9} {:>10.1f} {:>8.3f} {:>8.3f} {:>12.3g}  {}\n", n, (file.size() - 8 - 8 * n) / 1e6, best,
               best_cpu, n / best_cpu, result);
    std::fflush(stdout);
  }
  return 0;
}
