#pragma once
// Hand-made PyTorch checkpoints for tests: an emitter of the pickle opcodes torch.save uses, and a writer of the zip
// around it (stored entries), so that a test states a hostile file in a few lines of C++ beside its assertions.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/shape.h"

namespace agf::test {

class PickleWriter {
 public:
  PickleWriter();  // starts with PROTO 2

  PickleWriter& op(std::string_view raw);  // opcodes and operands as bytes
  PickleWriter& global(std::string_view module, std::string_view name);  // GLOBAL
  PickleWriter& str(std::string_view s);                                 // BINUNICODE
  PickleWriter& integer(int64_t v);                                      // BININT1, BININT or LONG1
  PickleWriter& put(uint32_t memo);                                      // LONG_BINPUT
  PickleWriter& get(uint32_t memo);                                      // LONG_BINGET
  PickleWriter& int_tuple(const Shape& values);
  // torch._utils._rebuild_tensor_v2(('storage', torch.<storage_type>, key, location, numel), offset, size, stride,
  // False, OrderedDict()), as torch.save writes a tensor.
  PickleWriter& tensor(std::string_view storage_type, std::string_view key, int64_t numel, int64_t offset,
                       const Shape& size, const Shape& stride, std::string_view location = "cpu");
  std::vector<uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

struct HandmadeTensor {
  std::string name, storage_type, key;
  int64_t numel = 0, offset = 0;
  Shape size, stride;
};
// OrderedDict() filled by SETITEMS in batches of 1000 pairs (as pickle does), then STOP.
std::vector<uint8_t> state_dict_pickle(const std::vector<HandmadeTensor>& tensors);

// A torch.save zip of stored entries: archive/data.pkl, archive/byteorder ("little"), archive/data/<key>.
std::vector<uint8_t> torch_zip(const std::vector<uint8_t>& pickle,
                               const std::map<std::string, std::vector<uint8_t>>& storages);

}  // namespace agf::test
