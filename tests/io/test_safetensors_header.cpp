// The safetensors header reader at scale (many entries, the entry cap) and on every structural fault it must name,
// each built in memory.
#include <cstring>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace {

using agf::test::check_error;
namespace io = agf::io;

// A file of `header` (padded to 8 bytes as writers do), then `data_bytes` bytes: byte k of the data holds k % 251.
std::vector<uint8_t> file_of(std::string header, size_t data_bytes = 0) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> file(8 + header.size() + data_bytes);
  const uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  std::memcpy(file.data() + 8, header.data(), header.size());
  for (size_t k = 0; k < data_bytes; ++k) file[8 + header.size() + k] = static_cast<uint8_t>(k % 251);
  return file;
}

// `count` F32 tensors "layers.<i>.weight" of shape (i % 3 + 1,), laid out in order. The header lists them from the
// last to the first (the reader must not rely on the text order), with __metadata__ in the middle.
std::vector<uint8_t> many_entries(size_t count, const std::string& last_name = "") {
  std::vector<uint64_t> begin(count + 1, 0);
  for (size_t i = 0; i < count; ++i) begin[i + 1] = begin[i] + 4 * (i % 3 + 1);
  std::string h = "{";
  for (size_t j = 0; j < count; ++j) {
    const size_t i = count - 1 - j;
    if (j == count / 2) h += R"("__metadata__":{"format":"pt","entries":"many"},)";
    const std::string name = i == 0 && !last_name.empty() ? last_name : fmt::format("layers.{}.weight", i);
    h += fmt::format(R"("{}":{{"dtype":"F32","shape":[{}],"data_offsets":[{},{}]}},)", name, i % 3 + 1, begin[i],
                     begin[i + 1]);
  }
  h.back() = '}';
  return file_of(std::move(h), begin[count]);
}

}  // namespace

TEST_CASE("safetensors header: 200k entries parse in one pass, every entry where it belongs") {
  // Before the SAX reader this took minutes: nlohmann's callback parser rescanned the header object at each entry.
  constexpr size_t kCount = 200'000;
  const std::vector<uint8_t> file = many_entries(kCount);
  const io::SafetensorsIndex index = io::parse_safetensors_header(file, "many.safetensors");
  REQUIRE(index.entries.size() == kCount);
  CHECK(index.metadata == io::Metadata{{"entries", "many"}, {"format", "pt"}});
  uint64_t offset = 0;
  for (size_t i = 0; i < kCount; ++i) {  // data order: entry i is layers.i, whatever the text order was
    const io::SafetensorsEntry& e = index.entries[i];
    if (e.name != fmt::format("layers.{}.weight", i) || e.shape != agf::Shape{static_cast<int64_t>(i % 3 + 1)} ||
        e.dtype != agf::DType::f32 || e.begin != offset || e.end != offset + 4 * (i % 3 + 1)) {
      FAIL_CHECK("entry " << i << " is '" << e.name << "' " << agf::shape_str(e.shape) << " [" << e.begin << ", "
                          << e.end << "]");
      break;
    }
    offset = e.end;
  }
  for (size_t i : {size_t{0}, size_t{1}, size_t{99'999}, kCount - 1}) {
    const io::SafetensorsEntry* e = index.find(fmt::format("layers.{}.weight", i));
    REQUIRE(e != nullptr);
    CHECK(e == &index.entries[i]);
  }
  CHECK(index.find("layers.200000.weight") == nullptr);
  CHECK(index.find("layers.1.weigh") == nullptr);
  CHECK(index.find("") == nullptr);

  // The bytes arrive too: layers.4 is shape (2,) at byte 4 * (1 + 2 + 3 + 1) = 28 of the data.
  agf::Tensor t = agf::zeros({2});
  const io::LoadIntoReport r = io::read_safetensors_into(file, "many.safetensors", {{"layers.4.weight", t}});
  CHECK(r.loaded == std::vector<std::string>{"layers.4.weight"});
  CHECK(r.unexpected.size() == kCount - 1);
  uint8_t want[8];
  for (int k = 0; k < 8; ++k) want[k] = static_cast<uint8_t>((28 + k) % 251);
  CHECK(std::memcmp(t.raw_data(), want, 8) == 0);
}

TEST_CASE("safetensors header: a name given twice among many is refused, wherever the twins sit") {
  // layers.0 renamed to layers.123456: the twins are 123456 entries apart in data order.
  check_error([] { io::parse_safetensors_header(many_entries(200'000, "layers.123456.weight"), "dup.safetensors"); },
              {"dup.safetensors", "names 'layers.123456.weight' twice"});
}

TEST_CASE("safetensors header: more entries than the cap are refused, naming the count and the cap") {
  // The cheapest header past the cap: members that are not even entries are counted before anything is checked.
  const size_t count = io::kSafetensorsMaxEntries + 1;
  std::string h = R"({"__metadata__":{},)";
  for (size_t i = 0; i < count; ++i) h += fmt::format(R"("{}":0,)", i);
  h.back() = '}';
  check_error([&] { io::parse_safetensors_header(file_of(std::move(h)), "wide.safetensors"); },
              {"wide.safetensors", fmt::format("lists {} tensors, more than the {}", count, count - 1)});
}

TEST_CASE("safetensors header: structural faults, each named") {
  struct Case {
    std::string header;
    std::initializer_list<std::string> parts;
  };
  const std::string ok = R"("dtype":"F32","shape":[1],"data_offsets":[0,4])";
  const Case cases[] = {
      {R"({"a":[1]})", {"header entry 'a' is not an object"}},
      {R"({"a":7})", {"header entry 'a' is not an object"}},
      {R"({"a":{"dtype":"F32","shape":[1]}})", {"tensor 'a' lacks one of dtype, shape, data_offsets"}},
      {R"({"a":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", {"tensor 'a': dtype is not a string"}},
      {R"({"a":{"dtype":["F32"],"shape":[1],"data_offsets":[0,4]}})", {"tensor 'a': dtype is not a string"}},
      {R"({"a":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", {"tensor 'a': shape is not an array"}},
      {R"({"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", {"tensor 'a': shape is not an array"}},
      {R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})",
       {"tensor 'a': shape holds 1.5, not a non-negative integer"}},
      {R"({"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})",
       {"tensor 'a': shape holds \"1\", not a non-negative integer"}},
      {R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})",
       {"tensor 'a' has 9 dims (8 at most)"}},
      {R"({"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}})",
       {"tensor 'a': dimension 9223372036854775808 too large"}},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", {"tensor 'a': data_offsets is not [begin, end]"}},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", {"tensor 'a': data_offsets is not [begin, end]"}},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})",
       {"tensor 'a': data_offsets holds -4, not a non-negative integer"}},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":{}}})", {"tensor 'a': data_offsets is not [begin, end]"}},
      {R"({"__metadata__":[],"a":{)" + ok + "}}", {"__metadata__ is not an object"}},
      {R"({"__metadata__":{"k":{}},"a":{)" + ok + "}}", {"__metadata__ 'k' is not a string"}},
      {R"({"__metadata__":{},"a":{)" + ok + R"(},"__metadata__":{}})", {"names '__metadata__' twice"}},
      {R"({"a":{)" + ok + R"(,"extra":[[1]]}})", {"nested too deeply"}},
      {R"({"a":{)" + ok + R"(,"extra":{"x":{"y":1}}}})", {"nested too deeply"}},
      {R"({"a":{)" + ok + "}", {"not valid JSON"}},
      {R"({"a":{)" + ok + "}}x", {"not valid JSON"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    check_error([&] { io::parse_safetensors_header(file_of(c.header, 4), "bad.safetensors"); }, c.parts);
    check_error([&] { io::parse_safetensors_header(file_of(c.header, 4), "bad.safetensors"); }, {"bad.safetensors"});
  }
}

TEST_CASE("safetensors header: what a header may hold besides its tensors") {
  // Unknown fields of an entry are ignored (down to an empty fourth level); metadata keys given twice keep the last;
  // tensors of no bytes may share an offset and come in name order.
  const std::string h = R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                        R"("__metadata__":{"k":"1","k":"2"},)"
                        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"extra":[[]],"more":{"x":null}},)"
                        R"("a":{"dtype":"BOOL","shape":[0,3],"data_offsets":[0,0]}})";
  const io::SafetensorsIndex index = io::parse_safetensors_header(file_of(h, 2), "extra.safetensors");
  REQUIRE(index.entries.size() == 3);
  CHECK(index.entries[0].name == "a");
  CHECK(index.entries[1].name == "z");
  CHECK(index.entries[2].name == "b");
  CHECK(index.entries[2].dtype == agf::DType::u8);
  CHECK(index.entries[2].end == 2);
  CHECK(index.metadata == io::Metadata{{"k", "2"}});
  CHECK(index.find("a") == &index.entries[0]);
  CHECK(index.find("b") == &index.entries[2]);
  const io::SafetensorsIndex empty = io::parse_safetensors_header(file_of("{}"), "empty.safetensors");
  CHECK(empty.entries.empty());
  CHECK(empty.find("a") == nullptr);
}

TEST_CASE("safetensors header: a shape whose strides overflow is refused, though it holds no bytes") {
  // (0, 2^62, 4) has no elements, so its byte count (0) matched its data_offsets and the header passed; making the
  // tensor then computed a stride of 4 x 2^62, a signed overflow (undefined behaviour, reported by UBSan).
  const auto file = file_of(R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})");
  for (int pass = 0; pass < 2; ++pass) {
    check_error([&] {
      if (pass == 0) io::read_safetensors(file, "strides.safetensors");
      else io::parse_safetensors_header(file, "strides.safetensors");
    }, {"strides.safetensors", "tensor 'a'", "shape (0, 4611686018427387904, 4) overflows 64 bits"});
  }
  // The same dims with the zero last have strides (4, 1, 1): a valid empty tensor.
  const auto ok = file_of(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}})");
  const io::SafetensorsFile f = io::read_safetensors(ok, "ok.safetensors");
  REQUIRE(f.tensors.size() == 1);
  CHECK(f.tensors[0].second.shape() == agf::Shape{int64_t{1} << 62, 4, 0});
  CHECK(f.tensors[0].second.strides() == agf::Shape{4, 1, 1});
  CHECK(f.tensors[0].second.numel() == 0);
}
