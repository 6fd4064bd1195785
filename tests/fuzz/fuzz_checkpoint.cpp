// libFuzzer target for the checkpoint readers. Each input goes to all three entry points that take untrusted
// bytes: the PyTorch zip reader, the safetensors reader, and the pickle layer alone (as a data.pkl whose storages
// are served from a zero buffer, so that mutations of the pickle are not all stopped by the zip's CRC check).
// An agf::Error is the expected outcome of a bad input; a crash, a sanitizer report, a leak or a timeout is a bug.
#include <cstdint>
#include <vector>

#include "io/safetensors.h"
#include "io/torch_checkpoint.h"

namespace {

template <typename F>
void expect_only_agf_errors(F&& f) {
  try {
    f();
  } catch (const agf::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const agf::io::Bytes bytes(data, size);
  expect_only_agf_errors([&] { agf::io::read_torch_checkpoint(bytes, "fuzz.pt"); });
  expect_only_agf_errors([&] { agf::io::read_safetensors(bytes, "fuzz.safetensors"); });
  expect_only_agf_errors([&] {
    static const std::vector<uint8_t> zeros(1 << 16, 0);
    agf::io::read_torch_pickle(bytes, "fuzz.pkl", [](const std::string& key) -> agf::io::Bytes {
      // Any storage key names a buffer whose length is derived from the key, so size checks are exercised too.
      size_t n = 0;
      for (char c : key) n = (n * 31 + static_cast<unsigned char>(c)) % zeros.size();
      return {zeros.data(), key == "0" ? 16 : n};
    });
  });
  return 0;
}
