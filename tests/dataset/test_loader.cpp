// The batch loader: seeded per-epoch order independent of timing and prefetch depth, every row once per epoch,
// drop_last, batches equal to direct reads, memory tagged as data, errors of the background thread at the consumer,
// and clean shutdown mid-epoch.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <fstream>
#include <numeric>

#include "dataset/dataset_test_util.h"
#include "dataset/dataset_reader.h"
#include "dataset/loader.h"
#include "tensor/ledger.h"

using namespace agf;
using namespace agf::ecg;
using namespace agf::dataset;
using namespace agf::dataset::test;

namespace {

std::vector<Batch> whole_epoch(BatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

std::vector<int64_t> served_rows(const std::vector<Batch>& batches) {
  std::vector<int64_t> rows;
  for (const Batch& b : batches) rows.insert(rows.end(), b.indices.begin(), b.indices.end());
  return rows;
}

}  // namespace

TEST_CASE("loader: a seeded permutation per epoch, the same whatever the prefetch depth") {
  ScratchDir dir;
  const fs::path path = dir / "d.h5";
  write_small_dataset(path, 23, 64);
  std::vector<int64_t> rows(23);
  std::iota(rows.begin(), rows.end(), int64_t{0});

  LoaderOptions opt;
  opt.batch_size = 5;
  opt.seed = 42;
  BatchLoader loader(path, rows, opt);
  CHECK(loader.batches_per_epoch() == 5);
  const auto e0 = whole_epoch(loader, 0);
  REQUIRE(e0.size() == 5);
  CHECK(e0.back().indices.size() == 3);  // 23 = 4 * 5 + 3
  CHECK(served_rows(e0) == BatchLoader::epoch_order(rows, 42, 0, true));
  std::vector<int64_t> sorted = served_rows(e0);
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == rows);  // every row once
  CHECK(served_rows(e0) != rows);  // shuffled
  const auto e1 = whole_epoch(loader, 1);
  CHECK(served_rows(e1) != served_rows(e0));
  CHECK(served_rows(whole_epoch(loader, 0)) == served_rows(e0));  // an epoch regenerates exactly

  for (int64_t prefetch : {1, 4}) {
    LoaderOptions o = opt;
    o.prefetch = prefetch;
    BatchLoader other(path, rows, o);
    CHECK(served_rows(whole_epoch(other, 1)) == served_rows(e1));
  }
  // A resumed run starts mid-epoch: batches 3.. of epoch 1 are the tail of the whole epoch, with their numbers.
  loader.start_epoch(1, 3);
  std::vector<Batch> tail;
  while (auto b = loader.next()) tail.push_back(std::move(*b));
  REQUIRE(tail.size() == 2);
  CHECK(tail[0].number == 3);
  CHECK(tail[0].indices == e1[3].indices);
  CHECK(tail[1].indices == e1[4].indices);
  loader.start_epoch(1, 5);  // at the very end: nothing left
  CHECK(!loader.next());
  CHECK_THROWS_WITH_AS(loader.start_epoch(1, 6), "loader: batch 6 outside 0..5 of an epoch", Error);

  opt.seed = 43;
  BatchLoader reseeded(path, rows, opt);
  CHECK(served_rows(whole_epoch(reseeded, 0)) != served_rows(e0));

  opt.shuffle = false;
  BatchLoader in_order(path, rows, opt);
  CHECK(served_rows(whole_epoch(in_order, 3)) == rows);
}

TEST_CASE("loader: batches hold the records and labels of their indices; drop_last; splits") {
  ScratchDir dir;
  const fs::path path = dir / "d.h5";
  write_small_dataset(path, 23, 64);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.drop_last = true;
  opt.seed = 9;
  BatchLoader loader(path, SplitPart::train, opt);  // rows r % 5 in {2, 3, 4}: 13 rows
  CHECK(loader.num_rows() == 13);
  CHECK(loader.batches_per_epoch() == 3);
  CHECK(loader.num_classes() == 3);
  CHECK(loader.length() == 64);

  const int64_t data_before = ledger(Device::cpu()).live(MemTag::data);
  loader.start_epoch(0);
  DatasetReader reader(path);
  int64_t count = 0;
  while (auto b = loader.next()) {
    CHECK(b->number == count);
    CHECK(b->epoch == 0);
    REQUIRE(b->indices.size() == 4);
    CHECK(b->x.shape() == Shape{4, 12, 64});
    CHECK(b->y.shape() == Shape{4, 3});
    CHECK(b->x.to_vector<float>() == reader.read_signals(b->indices).to_vector<float>());
    for (size_t i = 0; i < 4; ++i) {
      CHECK(b->indices[i] % 5 >= 2);
      for (int64_t j = 0; j < 3; ++j)
        CHECK(b->y.data<float>()[i * 3 + j] == static_cast<float>(small_label(b->indices[i], j)));
    }
    // The batch's tensors are charged to the data tag (allocated by the background thread under MemScope).
    CHECK(ledger(Device::cpu()).live(MemTag::data) - data_before >= static_cast<int64_t>(b->x.nbytes() + b->y.nbytes()));
    ++count;
  }
  CHECK(count == 3);  // the 13th row is dropped
  CHECK(!loader.next().has_value());
}

TEST_CASE("loader: an error in the background thread reaches the consumer with its message, at its batch") {
  ScratchDir dir;
  const fs::path path = dir / "d.h5";
  write_small_dataset(path, 6, 300);
  // Damage row 3's chunk.
  haddr_t address = 0;
  hsize_t size = 0;
  {
    hid_t f = H5Fopen(path.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "signals", H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    hsize_t offset[3];
    unsigned mask = 0;
    REQUIRE(H5Dget_chunk_info(d, space, 3, offset, &mask, &address, &size) >= 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(address + 2));
    const std::string garbage(static_cast<size_t>(size - 4), '\x33');
    io.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.shuffle = false;
  BatchLoader loader(path, std::vector<int64_t>{0, 1, 2, 3, 4, 5}, opt);
  loader.start_epoch(0);
  auto first = loader.next();
  REQUIRE(first.has_value());
  CHECK(first->indices == std::vector<int64_t>{0, 1});
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("reading record row 3 ('rec3')"), Error);
  CHECK(!loader.next().has_value());  // the epoch ended at the error
  // A new epoch starts cleanly and fails at the same place.
  loader.start_epoch(1);
  CHECK(loader.next().has_value());
  CHECK_THROWS_AS(loader.next(), Error);
}

TEST_CASE("loader: destroyed or restarted mid-epoch without hanging; bad options refused") {
  ScratchDir dir;
  const fs::path path = dir / "d.h5";
  write_small_dataset(path, 40, 64);
  std::vector<int64_t> rows(40);
  std::iota(rows.begin(), rows.end(), int64_t{0});
  LoaderOptions opt;
  opt.batch_size = 3;
  opt.prefetch = 2;
  {
    BatchLoader loader(path, rows, opt);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
    loader.start_epoch(1);  // abandons epoch 0 with batches still queued
    const auto e1 = whole_epoch(loader, 1);
    CHECK(e1.size() == 14);
    loader.start_epoch(2);
    CHECK(loader.next().has_value());
  }  // destroyed with a worker blocked on a full queue
  BatchLoader unstarted(path, rows, opt);
  CHECK_THROWS_WITH_AS(unstarted.next(), doctest::Contains("before start_epoch"), Error);
  opt.batch_size = 0;
  CHECK_THROWS_WITH_AS(BatchLoader(path, rows, opt), doctest::Contains("batch size 0"), Error);
  opt.batch_size = 2;
  CHECK_THROWS_WITH_AS(BatchLoader(path, std::vector<int64_t>{40}, opt), doctest::Contains("row 40 outside"), Error);
}
