// The prepared-dataset file: round trip, compression through HDF5's own filters, byte-identical re-writes, no
// half-written output, clear errors for damaged files.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <fstream>

#include "dataset/dataset_test_util.h"
#include "dataset/dataset_reader.h"
#include "dataset/dataset_writer.h"

using namespace agf;
using namespace agf::ecg;
using namespace agf::dataset;
using namespace agf::dataset::test;

TEST_CASE("dataset file: records, labels, ids, classes, splits and attributes read back exactly") {
  ScratchDir dir;
  for (int64_t deflate : {0, 1, 4}) {
    CAPTURE(deflate);
    const fs::path path = dir / ("small" + std::to_string(deflate) + ".h5");
    write_small_dataset(path, 7, 300, deflate);
    for (const std::string& name : dir.names()) CHECK(name.ends_with(".h5"));  // no temporary left beside it
    DatasetReader r(path);
    CHECK(r.size() == 7);
    CHECK(r.num_classes() == 3);
    CHECK(r.length() == 300);
    CHECK(r.leads() == 12);
    CHECK(r.fs() == 500.0);
    CHECK(r.info() == small_info(300, deflate));
    CHECK(r.classes() == small_classes());
    CHECK(r.record_ids() == std::vector<std::string>{"rec0", "rec1", "rec2", "rec3", "rec4", "rec5", "rec6"});
    for (int64_t row = 0; row < 7; ++row)
      for (int64_t j = 0; j < 3; ++j) CHECK(r.label(row, j) == small_label(row, j));
    REQUIRE(r.has_splits());
    CHECK(r.split(SplitPart::val) == std::vector<int64_t>{0, 5});
    CHECK(r.split(SplitPart::test) == std::vector<int64_t>{1, 6});
    CHECK(r.split(SplitPart::train) == std::vector<int64_t>{2, 3, 4});
    CHECK(r.splits().config.seed == 7);
    CHECK(r.splits().config.label_ratio == doctest::Approx(0.10));

    // Rows in any order, repeats allowed, each a single hyperslab read.
    const std::vector<int64_t> rows = {6, 0, 6, 3};
    Tensor x = r.read_signals(rows);
    REQUIRE(x.shape() == Shape{4, 12, 300});
    const float* p = x.data<float>();
    int64_t mismatches = 0;
    for (size_t b = 0; b < rows.size(); ++b)
      for (int64_t l = 0; l < 12; ++l)
        for (int64_t s = 0; s < 300; ++s)
          mismatches += p[(static_cast<int64_t>(b) * 12 + l) * 300 + s] != sample_value(rows[b], l, s);
    CHECK(mismatches == 0);
    Tensor y = r.read_labels(rows);
    REQUIRE(y.shape() == Shape{4, 3});
    CHECK(y.to_vector<float>() == std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0});
    CHECK_THROWS_WITH_AS(r.read_signals(std::vector<int64_t>{7}), doctest::Contains("row 7 outside 0..6"), Error);
  }
}

TEST_CASE("dataset file: chunks compressed by the workers decode through HDF5's shuffle + deflate filters") {
  ScratchDir dir;
  // A record of zeros compresses to almost nothing; the same record raw takes its full size.
  const int64_t length = 6144;
  std::vector<float> zeros(static_cast<size_t>(12 * length), 0.0f);
  const auto raw = DatasetWriter::encode_record(zeros.data(), length, 0);
  const auto packed = DatasetWriter::encode_record(zeros.data(), length, 1);
  CHECK(raw.size() == 12 * 6144 * 4);
  CHECK(packed.size() < 2000);

  const fs::path path = dir / "zeros.h5";
  {
    DatasetWriter w(path, small_info(length, 1), small_classes());
    const uint8_t labels[3] = {1, 0, 1};
    w.append_encoded(packed, labels, "z0");
    w.append(zeros.data(), labels, "z1");
    w.finish(DatasetSplits{});
  }
  CHECK(fs::file_size(path) < 20000);  // two records of 294912 bytes each, stored compressed
  DatasetReader r(path);
  Tensor x = r.read_signals(std::vector<int64_t>{1, 0});
  double sum_abs = 0;
  for (float v : x.to_vector<float>()) sum_abs += std::abs(v);
  CHECK(sum_abs == 0.0);
  // The dataset's own filter pipeline is declared in the file, so any HDF5 reader (h5py) decodes it.
  hid_t f = H5Fopen(path.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "signals", H5P_DEFAULT);
  hid_t plist = H5Dget_create_plist(d);
  REQUIRE(H5Pget_nfilters(plist) == 2);
  unsigned flags = 0, cd[4] = {};
  size_t ncd = 4;
  CHECK(H5Pget_filter2(plist, 0, &flags, &ncd, cd, 0, nullptr, nullptr) == H5Z_FILTER_SHUFFLE);
  ncd = 4;
  CHECK(H5Pget_filter2(plist, 1, &flags, &ncd, cd, 0, nullptr, nullptr) == H5Z_FILTER_DEFLATE);
  CHECK(cd[0] == 1);
  hsize_t chunk[3] = {};
  CHECK(H5Pget_chunk(plist, 3, chunk) == 3);
  CHECK(chunk[0] == 1);
  CHECK(chunk[1] == 12);
  CHECK(chunk[2] == 6144);
  H5Pclose(plist);
  H5Dclose(d);
  H5Fclose(f);
}

TEST_CASE("dataset file: the same content written twice gives byte-identical files") {
  ScratchDir dir;
  write_small_dataset(dir / "a.h5", 30, 500, 1);
  write_small_dataset(dir / "b.h5", 30, 500, 1);
  const std::string a = file_bytes(dir / "a.h5"), b = file_bytes(dir / "b.h5");
  CHECK(a.size() > 1000);
  CHECK(a == b);
}

TEST_CASE("dataset file: an unfinished or failed write leaves nothing behind") {
  ScratchDir dir;
  const fs::path path = dir / "never.h5";
  {
    DatasetWriter w(path, small_info(100, 1), small_classes());
    std::vector<float> sig(12 * 100, 1.0f);
    const uint8_t labels[3] = {0, 1, 0};
    w.append(sig.data(), labels, "r0");
    CHECK(fs::exists(w.temp_path()));
    CHECK(w.temp_path().parent_path() == path.parent_path());  // beside the target: the rename stays in one folder
    CHECK(dir.names() == std::vector<std::string>{w.temp_path().filename().string()});
  }  // no finish()
  CHECK(dir.names().empty());

  {
    DatasetWriter w(path, small_info(100, 1), small_classes());
    std::vector<float> sig(12 * 100, 1.0f);
    const uint8_t labels[3] = {0, 1, 0};
    w.append(sig.data(), labels, "r0");
    DatasetSplits bad;
    bad.train = {0, 3};  // row 3 does not exist
    CHECK_THROWS_WITH_AS(w.finish(bad), doctest::Contains("names row 3"), Error);
    const uint8_t not_binary[3] = {0, 2, 0};
    CHECK_THROWS_WITH_AS(w.append(sig.data(), not_binary, "r1"), doctest::Contains("label 1 is 2"), Error);
  }
  CHECK(dir.names().empty());
}

TEST_CASE("dataset file: a damaged chunk is an error naming the file and the row; other rows still read") {
  ScratchDir dir;
  const fs::path path = dir / "damaged.h5";
  write_small_dataset(path, 4, 400, 1);
  haddr_t address = 0;
  hsize_t size = 0;
  {
    hid_t f = H5Fopen(path.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "signals", H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    hsize_t offset[3];
    unsigned mask = 0;
    REQUIRE(H5Dget_chunk_info(d, space, 2, offset, &mask, &address, &size) >= 0);
    CHECK(offset[0] == 2);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
  }
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(address + 2));  // past the zlib header, into the deflate stream
    const std::string garbage(static_cast<size_t>(size - 4), '\x5a');
    io.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  DatasetReader r(path);
  CHECK(r.read_signals(std::vector<int64_t>{1, 3}).shape() == Shape{2, 12, 400});
  CHECK_THROWS_WITH_AS(r.read_signals(std::vector<int64_t>{0, 2}),
                       doctest::Contains("reading record row 2 ('rec2')"), Error);
}

TEST_CASE("dataset file: files that are not prepared datasets are refused with the reason") {
  ScratchDir dir;
  CHECK_THROWS_WITH_AS(DatasetReader(dir / "absent.h5"), doctest::Contains("does not exist"), Error);
  write_bytes(dir / "text.h5", "not hdf5 at all");
  CHECK_THROWS_WITH_AS(DatasetReader(dir / "text.h5"), doctest::Contains("is not an HDF5 file"), Error);
  hid_t f = H5Fcreate((dir / "other.h5").string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  CHECK_THROWS_WITH_AS(DatasetReader(dir / "other.h5"), doctest::Contains("attribute 'format' is missing"), Error);
}
