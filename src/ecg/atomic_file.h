#pragma once
// All-or-nothing file output: bytes go to a temporary file beside the target, which is renamed over the target
// only once it is complete, so a reader never sees a half-written record and an error leaves no partial file.
#include <filesystem>
#include <string_view>

namespace agf::ecg {

// The temporary name used for `path` (same folder, so the rename stays within one file system).
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// The two halves, for a caller that must commit something else first: stage_file writes `bytes` to the temporary
// file of `path` and returns it (removing it again if the write fails); commit_file renames it into place.
std::filesystem::path stage_file(const std::filesystem::path& path, std::string_view bytes);

// Renames `from` over `to`; an error names both.
void commit_file(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace agf::ecg
