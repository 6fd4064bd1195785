// What agf-convert does: format detection, the tensor listing, and conversion to safetensors, checked by reloading.
#include "common/test_util.h"
#include "io/checkpoint.h"
#include "io/file_util.h"
#include "io_test_util.h"

namespace {

using agf::test::check_error;
using agf::test::io_golden;
namespace io = agf::io;
namespace fs = std::filesystem;

void check_converted_identically(const fs::path& input, const fs::path& output) {
  const io::LoadedCheckpoint src = io::convert_to_safetensors(input, output);
  const io::SafetensorsFile back = io::load_safetensors(output);
  CHECK(back.metadata.at("format") == "pt");
  CHECK(back.metadata.at("agf.converted_from").find(input.filename().string()) != std::string::npos);
  REQUIRE(back.tensors.size() == src.tensors.size());
  for (const auto& entry : src.tensors) {
    const std::string& name = entry.first;
    const agf::Tensor& t = entry.second;
    CAPTURE(name);
    const agf::Tensor* found = nullptr;
    for (const auto& [n, u] : back.tensors)
      if (n == name) found = &u;
    REQUIRE(found != nullptr);
    CHECK(found->dtype() == t.dtype());
    CHECK(found->shape() == t.shape());
    CHECK((t.nbytes() == 0 || std::memcmp(found->raw_data(), t.raw_data(), t.nbytes()) == 0));
  }
  // Converting the converted file again gives the same tensors, byte for byte.
  const fs::path again = output.string() + ".again.safetensors";
  io::convert_to_safetensors(output, again);
  const auto twice = io::load_safetensors(again);
  REQUIRE(twice.tensors.size() == src.tensors.size());
  for (size_t i = 0; i < twice.tensors.size(); ++i) {
    const auto& [n, t] = twice.tensors[i];
    const auto& [n1, t1] = back.tensors[i];
    CHECK(n == n1);
    CHECK(t.shape() == t1.shape());
    CHECK((t.nbytes() == 0 || std::memcmp(t.raw_data(), t1.raw_data(), t.nbytes()) == 0));
  }
}

}  // namespace

TEST_CASE("checkpoint: format detection by content") {
  const auto fmt_of = [](const char* f) { return io::detect_checkpoint_format(io::read_file_bytes(io_golden(f))); };
  CHECK(fmt_of("dtypes.pt") == io::CheckpointFormat::torch_zip);
  CHECK(fmt_of("reference.safetensors") == io::CheckpointFormat::safetensors);
  CHECK(fmt_of("legacy.pt") == io::CheckpointFormat::legacy_torch);
  CHECK(fmt_of("bare_pickle.pt") == io::CheckpointFormat::unknown);
  check_error([] { io::load_checkpoint(io_golden("legacy.pt")); }, {"legacy", "not supported"});
  check_error([] { io::load_checkpoint(io_golden("bare_pickle.pt")); }, {"bare pickle"});
  check_error([] { io::load_checkpoint(io_golden("st_len_beyond.safetensors")); }, {"runs past the end"});
}

TEST_CASE("checkpoint: listing") {
  const io::LoadedCheckpoint c = io::load_checkpoint(io_golden("dtypes.pt"));
  const std::string listing = io::format_tensor_listing(c.tensors);
  CHECK(listing.find("f16     f16   (5,)") != std::string::npos);
  CHECK(listing.find("bf16    bf16  (3, 2)") != std::string::npos);
  CHECK(listing.ends_with("total: 10 tensors, 38 elements, 135 bytes\n"));
  const io::LoadedCheckpoint s = io::load_checkpoint(io_golden("reference.safetensors"));
  CHECK(s.format == io::CheckpointFormat::safetensors);
  CHECK(s.metadata.at("step") == "1000");
}

TEST_CASE("checkpoint: conversion to safetensors reloads bit-identically") {
  const fs::path dir = agf::test::io_scratch_dir() / "convert";
  fs::create_directories(dir);
  for (const char* f : {"dtypes.pt", "views.pt", "wrapped.pt", "deflated.pt"}) {
    CAPTURE(f);
    check_converted_identically(io_golden(f), dir / (std::string(f) + ".safetensors"));
  }
}

TEST_CASE("checkpoint: the pretrained fixture converts to safetensors and reloads bit-identically" *
          doctest::skip(agf::test::no_pretrained_fixture())) {
  const fs::path dir = agf::test::io_scratch_dir() / "convert_pretrained";
  fs::create_directories(dir);
  check_converted_identically(agf::test::pretrained_fixture(), dir / "pretrained.safetensors");
  const std::string listing = io::format_tensor_listing(io::load_checkpoint(dir / "pretrained.safetensors").tensors);
  CHECK(listing.ends_with("total: 66 tensors, 278860 elements, 1115464 bytes\n"));
}

TEST_CASE("checkpoint: a failed conversion leaves no output") {
  const fs::path dir = agf::test::io_scratch_dir() / "convert_fail";
  fs::create_directories(dir);
  for (const char* f : {"bad_crc.pt", "global_os_system.pt", "overrun.pt", "st_overlap.safetensors"}) {
    CAPTURE(f);
    const fs::path out = dir / (std::string(f) + ".safetensors");
    check_error([&] { io::convert_to_safetensors(io_golden(f), out); }, {f});
    CHECK(!fs::exists(out));
  }
  CHECK(fs::is_empty(dir));
  const fs::path copy = dir / "copy.safetensors";
  fs::copy_file(io_golden("reference.safetensors"), copy);
  check_error([&] { io::convert_to_safetensors(copy, copy); }, {"would overwrite the input"});
}
