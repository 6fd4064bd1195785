#pragma once
// Any checkpoint the engine reads, told apart by content (not by extension): PyTorch zip archives and
// safetensors; the legacy torch.save format is recognised only to refuse it clearly. Also the listing and the
// conversion behind agf-convert.
#include <filesystem>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/torch_checkpoint.h"

namespace agf::io {

enum class CheckpointFormat { torch_zip, safetensors, legacy_torch, unknown };
std::string_view format_name(CheckpointFormat f);
CheckpointFormat detect_checkpoint_format(Bytes data);

struct LoadedCheckpoint {
  CheckpointFormat format = CheckpointFormat::unknown;
  NamedTensors tensors;
  Metadata metadata;               // safetensors only
  std::vector<std::string> notes;  // torch only: skipped entries, wrapper key, saved locations
};

LoadedCheckpoint read_checkpoint(Bytes data, std::string_view source, Device device = Device::cpu());
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, Device device = Device::cpu());

// One line per tensor (name, dtype, shape, bytes) and a closing total line.
std::string format_tensor_listing(const NamedTensors& tensors);

// Reads any checkpoint and writes its tensors, bit for bit, to a safetensors file (all or nothing). The metadata
// records the source format and file name. Returns what was converted.
LoadedCheckpoint convert_to_safetensors(const std::filesystem::path& input, const std::filesystem::path& output);

}  // namespace agf::io
