#pragma once
// A private scratch folder for fuzz targets whose readers take paths (Challenge records, CODE-15 parts): made once
// per process under $TMPDIR (run.sh points it at /dev/shm), emptied after every input, removed at exit. Writing a
// few small files to tmpfs costs microseconds next to the parse, and the readers are then fuzzed through the very
// entry points agf-collect calls (file sizes checked before allocation, files opened by name).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace agf::fuzz {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "agf_fuzz_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("fuzz scratch: mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  void write(const std::string& name, std::string_view bytes) const {
    std::ofstream out(path_ / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "fuzz scratch: cannot write %s\n", (path_ / name).c_str());
      std::abort();
    }
  }

  // Empties the folder for the next input.
  void clear() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) std::filesystem::remove_all(entry, ec);
  }

 private:
  std::filesystem::path path_;
};

// One folder per process, shared by every input of a run.
inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

}  // namespace agf::fuzz
