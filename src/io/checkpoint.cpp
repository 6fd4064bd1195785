#include "io/checkpoint.h"

#include <algorithm>

#include "io/file_util.h"
#include "io/interrupt.h"
#include "io/printable.h"
#include "io/zip_archive.h"

namespace agf::io {

std::string_view format_name(CheckpointFormat f) {
  switch (f) {
    case CheckpointFormat::torch_zip: return "pytorch";
    case CheckpointFormat::safetensors: return "safetensors";
    case CheckpointFormat::legacy_torch: return "legacy pytorch";
    case CheckpointFormat::unknown: return "unknown";
  }
  return "?";
}

CheckpointFormat detect_checkpoint_format(Bytes data) {
  if (ZipArchive::looks_like_zip(data)) return CheckpointFormat::torch_zip;
  if (is_legacy_torch_file(data)) return CheckpointFormat::legacy_torch;
  if (looks_like_safetensors(data)) return CheckpointFormat::safetensors;
  return CheckpointFormat::unknown;
}

LoadedCheckpoint read_checkpoint(Bytes data, std::string_view source, Device device) {
  LoadedCheckpoint out;
  out.format = detect_checkpoint_format(data);
  switch (out.format) {
    case CheckpointFormat::safetensors: {
      SafetensorsFile f = read_safetensors(data, source, device);
      out.tensors = std::move(f.tensors);
      out.metadata = std::move(f.metadata);
      return out;
    }
    case CheckpointFormat::torch_zip:
    case CheckpointFormat::legacy_torch: {  // the torch reader words the refusal of the legacy format
      TorchLoadOptions opt;
      opt.device = device;
      TorchCheckpoint c = read_torch_checkpoint(data, source, opt);
      out.tensors = std::move(c.tensors);
      out.notes = std::move(c.notes);
      if (!c.wrapper_key.empty())
        out.notes.insert(out.notes.begin(), fmt::format("state dict under '{}'", c.wrapper_key));
      if (!c.locations.empty()) out.notes.push_back(fmt::format("saved from {}", fmt::join(c.locations, ", ")));
      return out;
    }
    case CheckpointFormat::unknown: {
      // Content says neither; let the reader the file's name points to give its precise reason.
      const std::string_view ext = source.substr(std::min(source.size(), source.rfind('.')));
      if (ext == ".safetensors") read_safetensors(data, source, device);
      if (ext == ".pt" || ext == ".pth" || ext == ".pkl" || ext == ".bin") read_torch_checkpoint(data, source);
      break;
    }
  }
  AGF_FAIL("{}: neither a PyTorch checkpoint (zip) nor a safetensors file ({} bytes)", source, data.size());
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path, Device device) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_checkpoint(bytes, path.string(), device);
}

std::string format_tensor_listing(const NamedTensors& tensors) {
  // Tensor names are text from the file: escaped, so that a hostile one cannot drive the terminal.
  std::vector<std::string> names;
  size_t name_w = 4, shape_w = 5;
  for (const auto& [name, t] : tensors) {
    names.push_back(printable(name));
    name_w = std::max(name_w, names.back().size());
    shape_w = std::max(shape_w, shape_str(t.shape()).size());
  }
  std::string out;
  int64_t elements = 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    out += fmt::format("{:<{}}  {:<4}  {:<{}}  {:>10}\n", names[i], name_w, dtype_name(t.dtype()),
                       shape_str(t.shape()), shape_w, t.nbytes());
    elements += t.numel();
    bytes += t.nbytes();
  }
  out += fmt::format("total: {} tensors, {} elements, {} bytes\n", tensors.size(), elements, bytes);
  return out;
}

LoadedCheckpoint convert_to_safetensors(const std::filesystem::path& input, const std::filesystem::path& output) {
  std::error_code ec;
  AGF_CHECK(!std::filesystem::equivalent(input, output, ec), "{}: the output would overwrite the input",
            output.string());
  LoadedCheckpoint c = load_checkpoint(input);
  throw_if_interrupted(fmt::format("{} not written", output.string()));
  Metadata meta = c.metadata;  // a safetensors input keeps its own metadata
  meta.try_emplace("format", "pt");
  meta["agf.converted_from"] = fmt::format("{} ({})", input.filename().string(), format_name(c.format));
  save_safetensors(output, c.tensors, meta);
  return c;
}

}  // namespace agf::io
