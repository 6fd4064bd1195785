// Loader throughput: streams shuffled batches of a prepared dataset through BatchLoader (background prefetch) and
// prints records/s, so the cost of reading (and inflating, when the file is compressed) can be set against training.
//   bench-loader DATASET.h5 [--batch 64] [--batches 100] [--split train|val|test|all]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <numeric>

#include "dataset/dataset_reader.h"
#include "dataset/loader.h"
#include "tensor/allocator.h"

int main(int argc, char** argv) {
  agf::keep_freed_host_memory_mapped();
  using namespace agf::dataset;
  CLI::App app{"Prepared-dataset loader throughput"};
  std::string path, split = "all";
  LoaderOptions opt;
  int64_t max_batches = 100;
  app.add_option("dataset", path, "prepared dataset (.h5)")->required()->check(CLI::ExistingFile);
  app.add_option("--batch", opt.batch_size, "batch size")->capture_default_str();
  app.add_option("--batches", max_batches, "batches to read (0: the whole epoch)")->capture_default_str();
  app.add_option("--split", split, "train, val, test or all")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<int64_t> rows;
    {
      DatasetReader reader(path);
      if (split == "all") {
        rows.resize(static_cast<size_t>(reader.size()));
        std::iota(rows.begin(), rows.end(), int64_t{0});
      } else {
        rows = reader.split(parse_split_part(split));
      }
      fmt::print("{}: {} records of (12, {}), deflate level {}\n", path, reader.size(), reader.length(),
                 reader.info().deflate_level);
    }
    BatchLoader loader(path, rows, opt);
    const auto t0 = std::chrono::steady_clock::now();
    loader.start_epoch(0);
    int64_t records = 0, batches = 0;
    double checksum = 0;
    while (auto b = loader.next()) {
      records += static_cast<int64_t>(b->indices.size());
      checksum += b->x.data<float>()[0];
      if (++batches == max_batches) break;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double mb = static_cast<double>(records) * 12.0 * static_cast<double>(loader.length()) * 4.0 / 1e6;
    fmt::print("{} batches, {} records in {:.2f} s: {:.0f} records/s, {:.0f} MB/s of f32 (checksum {:.3f})\n",
               batches, records, s, records / s, mb / s, checksum);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench-loader: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
