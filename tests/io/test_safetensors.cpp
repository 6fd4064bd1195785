// safetensors: the reference layout, round trips, loading into preallocated tensors, all-or-nothing writes, the
// validation of corrupt headers; and the f16/bf16 conversions.
#include <cstring>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "io/half.h"
#include "io/safetensors.h"
#include "io_test_util.h"

namespace {

using agf::test::check_error;
using agf::test::io_golden;
namespace io = agf::io;
namespace fs = std::filesystem;

io::NamedTensors sample_tensors() {
  io::NamedTensors ts;
  ts.emplace_back("w", agf::from_vector<float>({1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f}, {2, 3}));
  ts.emplace_back("d", agf::from_vector<double>({1.0 / 3.0}, {1}));
  ts.emplace_back("steps", agf::from_vector<int64_t>({int64_t{1} << 50, -1}, {2}));
  ts.emplace_back("ids", agf::from_vector<int32_t>({7}, {}));
  ts.emplace_back("mask", agf::from_vector<bool>({true, false, true}, {3}));
  ts.emplace_back("raw", agf::from_vector<uint8_t>({0, 255}, {2}));
  ts.emplace_back("h", io::narrow_to_half(agf::from_vector<float>({1.0f, 0.1f}, {2}), agf::DType::f16));
  ts.emplace_back("bh", io::narrow_to_half(agf::from_vector<float>({-3.0f}, {1}), agf::DType::bf16));
  ts.emplace_back("none", agf::empty({0, 4}));
  return ts;
}

bool same_bytes(const agf::Tensor& a, const agf::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

const agf::Tensor& by_name(const io::NamedTensors& ts, const std::string& name) {
  for (const auto& [n, t] : ts)
    if (n == name) return t;
  FAIL("no tensor " << name);
  static agf::Tensor none;
  return none;
}

bool has_temp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().ends_with(".tmp")) return true;
  return false;
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype with metadata, bit-identical") {
  const io::NamedTensors ts = sample_tensors();
  const io::Metadata meta{{"config", R"({"lr": 0.001, "name": "\u00e9cg"})"}, {"step", "1200"}, {"rng", "42:7"}};
  const std::vector<uint8_t> bytes = io::serialize_safetensors(ts, meta);
  const uint64_t n = io::load_le<uint64_t>(bytes.data());
  CHECK(n % 8 == 0);  // the data buffer starts 8-byte aligned
  const io::SafetensorsFile back = io::read_safetensors(bytes, "memory");
  CHECK(back.metadata == meta);
  REQUIRE(back.tensors.size() == ts.size());
  for (const auto& entry : ts) {
    const std::string& name = entry.first;
    const agf::Tensor& t = entry.second;
    CAPTURE(name);
    CHECK(same_bytes(by_name(back.tensors, name), t));
  }
  // The reference order: larger dtypes first, then by name.
  std::vector<std::string> order;
  for (const auto& [name, t] : back.tensors) order.push_back(name);
  CHECK(order == std::vector<std::string>{"steps", "d", "none", "w", "ids", "bh", "h", "raw", "mask"});
  // Deterministic: the order given does not matter.
  io::NamedTensors reversed(ts.rbegin(), ts.rend());
  CHECK(io::serialize_safetensors(reversed, meta) == bytes);
}

TEST_CASE("safetensors: the reference layout, byte for byte") {
  const std::vector<uint8_t> file = io::read_file_bytes(io_golden("reference.safetensors"));
  const io::SafetensorsFile f = io::read_safetensors(file, "reference.safetensors");
  CHECK(io::serialize_safetensors(f.tensors, f.metadata) == file);
  const auto& g = agf::test::io_golden_json().at("reference.safetensors");
  CHECK(f.tensors.size() == g.at("tensors").size());
  for (const auto& entry : f.tensors) {
    const std::string& name = entry.first;
    const agf::Tensor& t = entry.second;
    CAPTURE(name);
    const auto& want = g.at("tensors").at(name);
    CHECK(agf::dtype_name(t.dtype()) == want.at("dtype").get<std::string>());
    CHECK(t.shape() == want.at("shape").get<agf::Shape>());
    const auto v = agf::test::values_as_double(t);
    for (size_t k = 0; k < v.size(); ++k) {
      const auto& w = want.at("values")[k];
      CHECK(v[k] == (w.is_boolean() ? (w.get<bool>() ? 1.0 : 0.0) : w.get<double>()));
    }
  }
  CHECK(f.metadata.at("config") == R"({"lr": 0.001})");
}

TEST_CASE("safetensors: save is all or nothing; load back from the file") {
  const fs::path dir = agf::test::io_scratch_dir() / "save";
  fs::create_directories(dir);
  const fs::path path = dir / "model.safetensors";
  const io::NamedTensors ts = sample_tensors();
  io::save_safetensors(path, ts, {{"step", "3"}});
  const io::SafetensorsFile back = io::load_safetensors(path);
  CHECK(back.metadata.at("step") == "3");
  CHECK(same_bytes(by_name(back.tensors, "w"), ts[0].second));

  // A failing write (a duplicate name) leaves the previous file untouched and no temporary file behind.
  const auto before = io::read_file_bytes(path);
  io::NamedTensors dup = ts;
  dup.push_back(ts[0]);
  check_error([&] { io::save_safetensors(path, dup); }, {"'w' given twice"});
  CHECK(io::read_file_bytes(path) == before);
  // A writer that throws half way: same.
  check_error([&] {
    io::AtomicFile f(path);
    f.write("partial");
    REQUIRE(has_temp_files(dir));
    AGF_FAIL("interrupted");
  }, {"interrupted"});
  CHECK(io::read_file_bytes(path) == before);
  CHECK(!has_temp_files(dir));
  check_error([&] { io::save_safetensors(dir / "no" / "such" / "x.safetensors", ts); }, {"does not exist"});
  check_error([&] { io::save_safetensors(dir / "m.safetensors", {{"__metadata__", ts[0].second}}); },
              {"'__metadata__' cannot name a tensor"});
}

TEST_CASE("safetensors: loading into preallocated tensors checks names, shapes and dtypes") {
  const io::NamedTensors ts = sample_tensors();
  const std::vector<uint8_t> bytes = io::serialize_safetensors(ts, {{"k", "v"}});
  agf::Tensor w = agf::zeros({2, 3});
  agf::Tensor wt = agf::zeros({3, 2}).transpose(0, 1);  // a non-contiguous target goes through copy_
  agf::Tensor mask = agf::zeros({3}, agf::DType::boolean);
  const io::LoadIntoReport r = io::read_safetensors_into(bytes, "mem", {{"w", w}, {"mask", mask}});
  CHECK(r.loaded == std::vector<std::string>{"w", "mask"});
  CHECK(r.unexpected.size() == ts.size() - 2);
  CHECK(r.metadata.at("k") == "v");
  CHECK(same_bytes(w, ts[0].second));
  CHECK(mask.to(agf::DType::u8).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1});
  io::read_safetensors_into(bytes, "mem", {{"w", wt}});
  CHECK(wt.contiguous().to_vector<float>() == ts[0].second.to_vector<float>());

  check_error([&] { io::read_safetensors_into(bytes, "mem", {{"w", agf::zeros({3, 2})}}); },
              {"tensor 'w'", "f32 (2, 3)", "f32 (3, 2)"});
  check_error([&] { io::read_safetensors_into(bytes, "mem", {{"w", agf::zeros({2, 3}, agf::DType::f64)}}); },
              {"tensor 'w'", "f64"});
  check_error([&] { io::read_safetensors_into(bytes, "mem", {{"missing", w}}); }, {"no tensor 'missing'"});
  io::LoadIntoOptions lenient;
  lenient.allow_missing = true;
  CHECK(io::read_safetensors_into(bytes, "mem", {{"missing", w}}, lenient).missing ==
        std::vector<std::string>{"missing"});
  io::LoadIntoOptions strict;
  strict.allow_unexpected = false;
  check_error([&] { io::read_safetensors_into(bytes, "mem", {{"w", w}}, strict); }, {"nothing asks for it"});
}

TEST_CASE("safetensors: corrupt headers fail with a message naming the fault") {
  struct Case {
    const char* file;
    std::initializer_list<std::string> parts;
  };
  const Case cases[] = {
      {"st_len_beyond.safetensors", {"header length 1000 runs past the end"}},
      {"st_huge_header.safetensors", {"exceeds the 100000000 byte limit"}},
      {"st_short.safetensors", {"too short"}},
      {"st_bad_json.safetensors", {"not valid JSON"}},
      {"st_not_object.safetensors", {"does not start with '{'"}},
      {"st_overlap.safetensors", {"tensor 'b'", "[4, 12]", "overlapping"}},
      {"st_gap.safetensors", {"tensor 'b'", "expected to start at 4"}},
      {"st_wrong_size.safetensors", {"tensor 'a'", "F32 (2, 2)", "give 12"}},
      {"st_trailing.safetensors", {"trailing bytes"}},
      {"st_truncated.safetensors", {"truncated"}},
      {"st_offsets_beyond.safetensors", {"tensor 'a'", "[0, 16000]"}},
      {"st_bad_dtype.safetensors", {"tensor 'a'", "unknown dtype 'Q4'"}},
      {"st_unsupported_dtype.safetensors", {"tensor 'a'", "I16", "does not support"}},
      {"st_negative_shape.safetensors", {"tensor 'a'", "not a non-negative integer"}},
      {"st_overflow_shape.safetensors", {"tensor 'a'", "overflows"}},
      {"st_metadata_not_string.safetensors", {"__metadata__ 'step' is not a string"}},
      {"st_duplicate.safetensors", {"names 'a' twice"}},
      {"st_deep_json.safetensors", {"nested too deeply"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    check_error([&] { io::load_safetensors(io_golden(c.file)); }, c.parts);
    check_error([&] { io::load_safetensors(io_golden(c.file)); }, {c.file});
  }
}

TEST_CASE("half: f16 and bf16 conversions are exact where they should be and round to nearest even") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = io::f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      CHECK(std::isnan(io::f16_to_f32(io::f32_to_f16(f))));
      continue;
    }
    if (io::f32_to_f16(f) != h) FAIL_CHECK("f16 " << h << " does not survive f32");
    const float b = io::bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(b) && io::f32_to_bf16(b) != h) FAIL_CHECK("bf16 " << h << " does not survive f32");
  }
  CHECK(io::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(io::f16_to_f32(0x3c00) == 1.0f);
  CHECK(io::f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);      // a tie: to even (down)
  CHECK(io::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // a tie: to even (up)
  CHECK(io::f32_to_f16(65520.0f) == 0x7c00);                          // rounds past the largest half
  CHECK(io::f32_to_f16(65519.0f) == 0x7bff);
  CHECK(io::f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);             // a tie with zero: even
  CHECK(io::f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(io::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);      // a tie: to even
  const agf::Tensor bf = io::narrow_to_half(agf::from_vector<float>({0.1f, 2.0f}, {2}), agf::DType::bf16);
  const agf::Tensor w = io::widen_to_f32(bf);
  CHECK(w.dtype() == agf::DType::f32);
  CHECK(w.to_vector<float>() == std::vector<float>{io::bf16_to_f32(io::f32_to_bf16(0.1f)), 2.0f});
}
