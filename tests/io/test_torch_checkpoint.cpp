// The PyTorch checkpoint reader against files torch.save wrote (values from tools/golden/make_io_fixtures.py),
// the real pretrained fixture, and hostile or corrupt files that must each fail with a clear message.
#include <cmath>
#include <cstring>

#include "io/checkpoint.h"
#include "io/file_util.h"
#include "io/torch_checkpoint.h"
#include "io_test_util.h"
#include "common/test_util.h"
#include "pickle_writer.h"

namespace {

using agf::test::check_error;
using agf::test::io_golden;
using agf::test::io_golden_json;
using agf::test::PickleWriter;
namespace io = agf::io;

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Every tensor of `file` matches golden.json exactly: names in order, dtype, shape, each value.
void check_against_golden(const std::string& file, const io::TorchCheckpoint& c) {
  const auto& g = io_golden_json().at(file);
  const auto& order = g.at("order");
  REQUIRE(c.tensors.size() == order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& name = c.tensors[i].first;
    const agf::Tensor& t = c.tensors[i].second;
    CAPTURE(file);
    CAPTURE(name);
    CHECK(name == order[i].get<std::string>());
    const auto& want = g.at("tensors").at(name);
    CHECK(agf::dtype_name(t.dtype()) == want.at("dtype").get<std::string>());
    CHECK(t.shape() == want.at("shape").get<agf::Shape>());
    CHECK(t.is_contiguous());
    const std::vector<double> got = agf::test::values_as_double(t);
    const auto& vals = want.at("values");
    REQUIRE(got.size() == vals.size());
    for (size_t k = 0; k < got.size(); ++k) {
      const double w = vals[k].is_boolean() ? (vals[k].get<bool>() ? 1.0 : 0.0) : vals[k].get<double>();
      CHECK(got[k] == w);  // exact: the bytes are copied, never recomputed
    }
  }
}

}  // namespace

TEST_CASE("torch checkpoint: every dtype, bit-exact") {
  for (const char* file : {"dtypes.pt", "deflated.pt", "zip64.pt"}) {
    CAPTURE(file);
    const io::TorchCheckpoint c = io::load_torch_checkpoint(io_golden(file));
    check_against_golden(file, c);
    CHECK(c.wrapper_key.empty());
    CHECK(c.notes.empty());
  }
  // The raw bits of the half types come through untouched (not via a float round trip).
  const auto c = io::load_torch_checkpoint(io_golden("dtypes.pt"));
  const agf::Tensor& f16 = c.tensors[2].second;
  REQUIRE(f16.dtype() == agf::DType::f16);
  const auto* bits = static_cast<const uint16_t*>(f16.raw_data());
  CHECK(bits[0] == 0x0000);
  CHECK(bits[1] == 0xbe00);  // -1.5
  CHECK(bits[2] == 0x7bff);  // 65504, the largest half
  CHECK(c.tensors[8].second.shape().empty());
  CHECK(c.tensors[8].second.item<int64_t>() == 12345);
  CHECK(c.tensors[9].second.shape() == agf::Shape{0, 3});
}

TEST_CASE("torch checkpoint: strided views, offsets and shared storages become contiguous copies") {
  const io::TorchCheckpoint c = io::load_torch_checkpoint(io_golden("views.pt"));
  check_against_golden("views.pt", c);
  // transposed (4, 6) -> (6, 4): element [i][j] = base[j][i] = 6 j + i
  const auto t = c.tensors[0].second.to_vector<float>();
  CHECK(t[1] == 6.0f);
  CHECK(t[4] == 1.0f);
  // each tensor has its own storage, so writing one never shows through another
  CHECK(c.tensors[1].second.storage() != c.tensors[2].second.storage());
}

TEST_CASE("torch checkpoint: wrappers, module. prefix, Parameters, non-tensor entries skipped with notes") {
  const io::TorchCheckpoint w = io::load_torch_checkpoint(io_golden("wrapped.pt"));
  check_against_golden("wrapped.pt", w);
  CHECK(w.wrapper_key == "state_dict");
  CHECK(w.notes.size() == 4);  // epoch, best_acc, arch, note
  bool saw_epoch = false;
  for (const auto& n : w.notes)
    saw_epoch |= n.find("'epoch'") != std::string::npos && n.find("int 7") != std::string::npos;
  CHECK_MESSAGE(saw_epoch, "no note on the skipped epoch: " << fmt::format("{}", fmt::join(w.notes, " | ")));

  io::TorchLoadOptions keep;
  keep.strip_module_prefix = false;
  CHECK(io::load_torch_checkpoint(io_golden("wrapped.pt"), keep).tensors[0].first == "module.fc.weight");

  const io::TorchCheckpoint m = io::load_torch_checkpoint(io_golden("model_state_dict.pt"));
  check_against_golden("model_state_dict.pt", m);
  CHECK(m.wrapper_key == "model_state_dict");

  check_against_golden("parameters.pt", io::load_torch_checkpoint(io_golden("parameters.pt")));
  const auto h = io::load_torch_checkpoint(io_golden("handmade.pt"));  // hand-made pickle, values by hand
  REQUIRE(h.tensors.size() == 1);
  CHECK(h.tensors[0].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  CHECK(h.locations == std::vector<std::string>{"cuda:0"});
}

TEST_CASE("torch checkpoint: the bare pickle with caller-supplied storages") {
  const auto pkl = io::read_file_bytes(io_golden("handmade.pkl"));
  const std::vector<float> data{5, 6, 7, 8};
  const auto c = io::read_torch_pickle(pkl, "handmade.pkl", [&](const std::string& key) -> io::Bytes {
    AGF_CHECK(key == "0", "no storage {}", key);
    return {reinterpret_cast<const uint8_t*>(data.data()), 16};
  });
  REQUIRE(c.tensors.size() == 1);
  CHECK(c.tensors[0].second.shape() == agf::Shape{2, 2});
  CHECK(c.tensors[0].second.to_vector<float>() == data);
}

TEST_CASE("torch checkpoint: the pretrained fixture (tinylight, saved from cuda:0)" *
          doctest::skip(agf::test::no_pretrained_fixture())) {
  const auto path = agf::test::pretrained_fixture();
  const io::TorchCheckpoint c = io::load_torch_checkpoint(path);
  const auto& g = io_golden_json().at("pretrained");
  REQUIRE(c.tensors.size() == 66);
  CHECK(c.locations == std::vector<std::string>{"cuda:0"});
  int64_t params = 0, buffers = 0;
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const std::string& name = c.tensors[i].first;
    const agf::Tensor& t = c.tensors[i].second;
    CAPTURE(name);
    CHECK(name == g.at("order")[i].get<std::string>());
    const auto& want = g.at("tensors").at(name);
    CHECK(agf::dtype_name(t.dtype()) == want.at("dtype").get<std::string>());
    CHECK(t.shape() == want.at("shape").get<agf::Shape>());
    CHECK(t.device().is_cpu());
    const bool buffer = name.ends_with("running_mean") || name.ends_with("running_var") ||
                        name.ends_with("num_batches_tracked") || name.ends_with("self_attention.bias") ||
                        name.ends_with("positional_encoding");
    (buffer ? buffers : params) += t.numel();
    const std::vector<double> v = agf::test::values_as_double(t);
    double sum = 0, abs_sum = 0;
    for (double x : v) {
      sum += x;
      abs_sum += std::abs(x);
    }
    const double want_abs = want.at("abs_sum").get<double>();
    CHECK(sum == doctest::Approx(want.at("sum").get<double>()).epsilon(1e-9).scale(want_abs));
    CHECK(abs_sum == doctest::Approx(want_abs).epsilon(1e-9));
    const auto& first = want.at("first");
    for (size_t k = 0; k < first.size(); ++k) CHECK(v[k] == first[k].get<double>());
    CHECK(v.back() == want.at("last").get<double>());
    if (name.ends_with("num_batches_tracked")) {
      CHECK(t.dtype() == agf::DType::i64);
      CHECK(t.dim() == 0);
    }
  }
  CHECK(params == 256070);
  CHECK(buffers == 22790);
  CHECK(params == g.at("parameter_elements").get<int64_t>());
  // c_attn.weight is saved transposed (stride (1, 64)): its logical first row must match torch's.
  CHECK(g.at("tensors").at("transformer_layers.0.self_attention.c_attn.weight").at("stride") ==
        nlohmann::json::array({1, 64}));
}

TEST_CASE("torch checkpoint: hostile and corrupt files fail with a message naming the fault") {
  struct Case {
    const char* file;
    std::initializer_list<std::string> parts;
  };
  const Case cases[] = {
      {"truncated.pt", {"truncated.pt", "end-of-central-directory"}},
      {"bad_crc.pt", {"bad_crc.pt", "archive/data/0", "CRC-32 mismatch"}},
      {"no_data_pkl.pt", {"no_data_pkl.pt", "data.pkl"}},
      {"big_endian.pt", {"big-endian"}},
      {"unknown_opcode.pt", {"unknown opcode 0xf0", "pickle offset 29", "archive/data.pkl"}},
      {"newobj_opcode.pt", {"unsupported opcode NEWOBJ (0x81)"}},
      {"global_os_system.pt", {"refusing global 'os.system'"}},
      {"global_builtins_eval.pt", {"refusing global 'builtins.eval'"}},
      {"global_posix_system.pt", {"refusing global 'posix.system'"}},
      {"global_hidden.pt", {"refusing global 'subprocess.Popen'"}},
      {"overrun.pt", {"tensor 'w'", "beyond its storage '0' of 4 elements"}},
      {"overrun_stride.pt", {"tensor 'w'", "stride (3, 1)", "beyond its storage"}},
      {"overrun_offset.pt", {"tensor 'w'", "offset 3", "beyond its storage"}},
      {"missing_storage.pt", {"storage '7'", "archive/data/7"}},
      {"storage_size_mismatch.pt", {"storage '0'", "100", "16 bytes"}},
      {"negative_shape.pt", {"tensor 'w'", "negative size"}},
      {"huge_shape.pt", {"tensor 'w'", "overflows"}},
      {"short_storage.pt", {"ShortStorage", "not supported"}},
      {"duplicate_name.pt", {"'w' appears twice"}},
      {"not_a_dict.pt", {"list of 0", "not a state dict"}},
      {"deep_marks.pt", {"MARKs nested deeper than 256"}},
      {"deep_stack.pt", {"stack deeper than"}},
      {"cyclic.pt", {"list of 1", "not a state dict"}},
      {"legacy.pt", {"legacy", "not supported"}},
      {"bare_pickle.pt", {"bare pickle"}},
      {"st_short.safetensors", {"not a PyTorch checkpoint"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    check_error([&] { io::load_torch_checkpoint(io_golden(c.file)); }, c.parts);
  }
  check_error([] { io::load_torch_checkpoint(io_golden("no_such_file.pt")); }, {"no_such_file.pt", "no such file"});
}

AGF_GPU_TEST("torch checkpoint: the device asked for, whatever location the file records") {
  const io::TorchCheckpoint cpu = io::load_torch_checkpoint(io_golden("dtypes.pt"));
  io::TorchLoadOptions opt;
  opt.device = agf::Device::cuda(0);
  const io::TorchCheckpoint gpu = io::load_torch_checkpoint(io_golden("dtypes.pt"), opt);
  REQUIRE(gpu.tensors.size() == cpu.tensors.size());
  for (size_t i = 0; i < cpu.tensors.size(); ++i) {
    CAPTURE(cpu.tensors[i].first);
    const agf::Tensor& g = gpu.tensors[i].second;
    CHECK(g.device() == agf::Device::cuda(0));
    const agf::Tensor back = g.to(agf::Device::cpu());
    const agf::Tensor& c = cpu.tensors[i].second;
    CHECK((c.nbytes() == 0 || std::memcmp(back.raw_data(), c.raw_data(), c.nbytes()) == 0));
  }
}

TEST_CASE("torch checkpoint: the tests' own pickle and zip writers make a checkpoint that loads") {
  // What the hand-made files of the tests below rest on: a view and a transposed view of one storage.
  const auto pkl = agf::test::state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
                                                 {"wt", "FloatStorage", "0", 6, 1, {2, 2}, {1, 3}}});
  const auto file = agf::test::torch_zip(pkl, {{"0", f32_bytes({1, 2, 3, 4, 5, 6})}});
  const io::TorchCheckpoint c = io::read_torch_checkpoint(file, "handmade_cpp.pt");
  REQUIRE(c.tensors.size() == 2);
  CHECK(c.tensors[0].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(c.tensors[1].second.to_vector<float>() == std::vector<float>{2, 5, 3, 6});  // [i][j] = base[1 + i + 3 j]
  CHECK(c.locations == std::vector<std::string>{"cpu"});
}

TEST_CASE("torch checkpoint: 300k storage references, each listed location once, in one pass") {
  // A crafted pickle: 300k persistent ids (all of one storage) whose locations differ. The list of distinct
  // locations was searched once per storage, O(n^2): minutes here.
  constexpr uint32_t kRefs = 300'000;
  PickleWriter p;
  p.op("}");  // the root: an empty state dict
  p.str("storage").put(0).op("0").global("torch", "FloatStorage").put(1).op("0").str("0").put(2).op("0");
  p.integer(4).put(3).op("0");
  for (uint32_t i = 0; i < kRefs; ++i) {
    p.op("(").get(0).get(1).get(2).str(i % 100 == 0 ? "cpu" : fmt::format("cuda:{}", i)).get(3);
    p.op("tQ0");  // TUPLE, BINPERSID, POP
  }
  const auto file = agf::test::torch_zip(p.op(".").bytes(), {{"0", f32_bytes({1, 2, 3, 4})}});
  const io::TorchCheckpoint c = io::read_torch_checkpoint(file, "locations.pt");
  CHECK(c.tensors.empty());
  REQUIRE(c.locations.size() == 1 + kRefs - kRefs / 100);
  CHECK(c.locations[0] == "cpu");
  CHECK(c.locations[1] == "cuda:1");
  CHECK(c.locations[99] == "cuda:99");
  CHECK(c.locations[100] == "cuda:101");
  CHECK(c.locations.back() == fmt::format("cuda:{}", kRefs - 1));
}

TEST_CASE("torch checkpoint: OrderedDict copies of one list of pairs count against the value limit") {
  // Each OrderedDict(pairs) call copies the pairs: 6 bytes of pickle copied a memoized list of 1000 pairs, so
  // 1100 calls made 1.1M dict items from 7 kB, and nothing bounded it.
  PickleWriter p;
  p.op("}");
  p.global("collections", "OrderedDict").put(0).op("0").str("k").put(1).op("0");
  p.op("](");
  for (int i = 0; i < 1000; ++i) p.get(1).get(1).op("\x86");  // TUPLE2
  p.op("e").put(2).op("0");                                   // APPENDS
  for (int i = 0; i < 1100; ++i) p.get(0).get(2).op("\x85R0");  // TUPLE1, REDUCE, POP
  const auto file = agf::test::torch_zip(p.op(".").bytes(), {});
  check_error([&] { io::read_torch_checkpoint(file, "copies.pt"); },
              {"copies.pt", "more than 1048576 values", "OrderedDict"});
  // The same list copied a few times is fine.
  PickleWriter few;
  few.global("collections", "OrderedDict").put(0).op("0").str("k").put(1).op("0");
  few.op("](").get(1).get(1).op("\x86").op("e").put(2).op("0");
  for (int i = 0; i < 3; ++i) few.get(0).get(2).op("\x85R0");
  few.get(0).get(2).op("\x85R");  // the root: OrderedDict([('k', 'k')]), not a tensor
  const io::TorchCheckpoint c = io::read_torch_checkpoint(agf::test::torch_zip(few.op(".").bytes(), {}), "few.pt");
  CHECK(c.tensors.empty());
  CHECK(c.notes == std::vector<std::string>{"skipped 'k': str 'k' is not a tensor"});
}

TEST_CASE("torch checkpoint: a size whose strides overflow is refused, though it holds no elements") {
  // (0, 2^62, 4) views nothing, so no bound on its storage applied; making its contiguous copy then computed a stride
  // of 4 x 2^62, a signed overflow (undefined behaviour, reported by UBSan).
  constexpr int64_t k2_62 = int64_t{1} << 62;
  const auto strided = agf::test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {0, k2_62, 4}, {1, 1, 1}}});
  const auto bad = agf::test::torch_zip(strided, {{"0", f32_bytes({1, 2, 3, 4})}});
  check_error([&] { io::read_torch_checkpoint(bad, "s.pt"); },
              {"s.pt", "tensor 'w'", "size (0, 4611686018427387904, 4) overflows 64 bits"});
  // The zero last: strides (4, 1, 1) fit, an empty tensor.
  const auto fine = agf::test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {k2_62, 4, 0}, {4, 1, 1}}});
  const auto good = agf::test::torch_zip(fine, {{"0", f32_bytes({1, 2, 3, 4})}});
  const io::TorchCheckpoint c = io::read_torch_checkpoint(good, "f.pt");
  REQUIRE(c.tensors.size() == 1);
  CHECK(c.tensors[0].second.shape() == agf::Shape{k2_62, 4, 0});
  CHECK(c.tensors[0].second.numel() == 0);
}
