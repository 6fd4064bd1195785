// The zip half of the PyTorch checkpoint reader: finds data.pkl, checks the byte order, and serves the storages
// (each data/<key> entry read and CRC-checked once, on first use). The pickle half is torch_state_dict.cpp.
#include "io/torch_checkpoint.h"

#include <map>

#include "io/file_util.h"
#include "io/zip_archive.h"

namespace agf::io {

namespace detail {
TorchCheckpoint read_torch_pickle_as(Bytes pickle_bytes, const std::string& source, const std::string& pickle_what,
                                     const StorageLookup& lookup, const TorchLoadOptions& options);
}

bool is_legacy_torch_file(Bytes data) {
  // pickle PROTO 2, then LONG1 of 10 bytes: the magic number 0x1950a86a20f9469cfc6c.
  static constexpr uint8_t kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                       0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  return data.size() >= sizeof(kMagic) && std::equal(std::begin(kMagic), std::end(kMagic), data.begin());
}

TorchCheckpoint read_torch_checkpoint(Bytes data, std::string_view source_view, const TorchLoadOptions& options) {
  const std::string source(source_view);
  if (!ZipArchive::looks_like_zip(data)) {
    AGF_CHECK(!is_legacy_torch_file(data),
              "{}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current "
              "torch.save (the zip format)", source);
    AGF_CHECK(data.empty() || data[0] != 0x80,
              "{}: a bare pickle, not a torch.save zip archive (not supported)", source);
    AGF_FAIL("{}: not a PyTorch checkpoint (no zip signature; {} bytes)", source, data.size());
  }
  ZipArchive zip(data, source);

  // torch.save names every record "<archive>/<record>"; <archive> is the file's stem at save time.
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash) != "/data.pkl") continue;
    AGF_CHECK(pkl == nullptr, "{}: two data.pkl entries ('{}', '{}')", source, pkl->name, e.name);
    pkl = &e;
  }
  AGF_CHECK(pkl != nullptr, "{}: no '<archive>/data.pkl' entry among its {} zip entries: not a PyTorch checkpoint",
            source, zip.entries().size());
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string_view("data.pkl").size());

  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {  // written since PyTorch 1.13; little before
    ZipEntryData order = zip.read(*bo);
    const std::string_view text = as_chars(order.bytes());
    AGF_CHECK(text != "big", "{}: a big-endian checkpoint: not supported (re-save it on a little-endian machine)",
              source);
    AGF_CHECK(text == "little", "{}: entry '{}' says '{}', not 'little' or 'big'", source, bo->name,
              text.substr(0, 32));
  }

  std::map<std::string, ZipEntryData> storages;
  const StorageLookup lookup = [&](const std::string& key) -> Bytes {
    auto it = storages.find(key);
    if (it == storages.end()) {
      const std::string entry = prefix + "data/" + key;
      const ZipEntry* e = zip.find(entry);
      AGF_CHECK(e != nullptr, "{}: storage '{}' has no entry '{}' in the archive", source, key, entry);
      it = storages.emplace(key, zip.read(*e)).first;
    }
    return it->second.bytes();
  };
  ZipEntryData pickle_bytes = zip.read(*pkl);
  return detail::read_torch_pickle_as(pickle_bytes.bytes(), source, fmt::format("{}: entry '{}'", source, pkl->name),
                                      lookup, options);
}

TorchCheckpoint load_torch_checkpoint(const std::filesystem::path& path, const TorchLoadOptions& options) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_torch_checkpoint(bytes, path.string(), options);
}

}  // namespace agf::io
