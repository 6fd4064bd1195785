#pragma once
// Native reader of PyTorch checkpoints written by torch.save (zip format, PyTorch >= 1.6): the zip container,
// `<archive>/byteorder`, the state dict pickled in `<archive>/data.pkl` and the raw storages in
// `<archive>/data/<key>`. Tensors come back in state-dict order with their original dtypes, as contiguous copies
// on the device asked for, whatever device they were saved from. The file is untrusted: only the globals of a plain
// state dict are accepted (and never executed), and every size, stride, offset and storage is checked.
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/byte_reader.h"
#include "tensor/tensor.h"

namespace agf::io {

// The same type as nn::NamedTensors, so a loaded checkpoint goes straight to Module::load_state_dict.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TorchLoadOptions {
  Device device = Device::cpu();    // where tensors go; the location recorded in the file ('cuda:0') is ignored
  bool strip_module_prefix = true;  // "module.x" (DataParallel) -> "x"
};

struct TorchCheckpoint {
  NamedTensors tensors;            // state-dict order; views become contiguous copies with their own storage
  std::string wrapper_key;         // "state_dict", "model_state_dict" or "model" when the dict was wrapped
  std::vector<std::string> notes;  // what was skipped (non-tensor entries, other wrapper keys) and why
  std::vector<std::string> locations;  // distinct storage locations recorded in the file, e.g. "cuda:0"
};

TorchCheckpoint load_torch_checkpoint(const std::filesystem::path& path, const TorchLoadOptions& options = {});

// From a checkpoint's bytes in memory; `source` names it in messages.
TorchCheckpoint read_torch_checkpoint(Bytes data, std::string_view source, const TorchLoadOptions& options = {});

// The bytes of storage `key` (its data/<key> file); throws when there is none. The bytes must stay valid until the
// read returns.
using StorageLookup = std::function<Bytes(const std::string& key)>;

// A data.pkl alone, its storages supplied by `lookup` (for tests and fuzzing of the pickle layer).
TorchCheckpoint read_torch_pickle(Bytes pickle, std::string_view source, const StorageLookup& lookup,
                                  const TorchLoadOptions& options = {});

// The legacy (pre-zip) torch.save format: a pickled magic number, then pickles and raw storages. Not supported;
// recognised only to say so.
bool is_legacy_torch_file(Bytes data);

}  // namespace agf::io
