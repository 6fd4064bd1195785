#pragma once
// The one way output files are written: all or nothing, and never shared between two runs.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/interrupt.h"

namespace agf::io {

// What commit() guarantees beyond the atomic rename. `full`: the file and the rename reach the disk before commit()
// returns (fsync of the file and of its folder), so a power loss leaves the old file or the new one. `rename_only`:
// atomic against a failed, crashed or interrupted run but not against a power loss; for many small files that are
// cheaper to regenerate than to sync one by one (agf-synth's records, 3.5x faster), whose writer syncs the whole set
// once at its end (sync_file_system).
enum class Durability { full, rename_only };

// An output file written all-or-nothing. Bytes go to a temporary file beside `target` with a unique name
// (".<target name>.<pid>.<random>.tmp" in the same folder, so the rename is atomic and two runs never share a
// temporary); commit() fsyncs it, renames it over `target` and fsyncs the folder. Destroyed uncommitted (an
// exception, an interrupt) it removes the temporary and leaves `target` as it was. While it lives its temporary is
// registered with the interrupt handler, so a second SIGINT/SIGTERM removes it before the process ends.
class AtomicFile {
 public:
  // Creates the temporary (exclusive create). The folder must exist; an error names the target.
  explicit AtomicFile(std::filesystem::path target, Durability durability = Durability::full);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& target() const { return target_; }
  // For writers that open the file by its name (HDF5): they must close it before commit().
  const std::filesystem::path& temp_path() const { return temp_; }

  void write(std::span<const uint8_t> bytes);  // appends
  void write(std::string_view text);
  void commit();  // fsync, rename over target, fsync the folder; an error names the target and removes the temporary
  bool committed() const { return committed_; }

 private:
  std::filesystem::path target_, temp_;
  Durability durability_;
  int fd_ = -1;
  bool committed_ = false;
  std::unique_ptr<TemporaryRegistration> registration_;
};

// The whole content at once.
void write_file_atomically(const std::filesystem::path& target, std::span<const uint8_t> bytes,
                           Durability durability = Durability::full);
void write_file_atomically(const std::filesystem::path& target, std::string_view text,
                           Durability durability = Durability::full);

// Flushes everything written to the file system holding `path` (syncfs): one call that makes a set of files written
// with Durability::rename_only durable.
void sync_file_system(const std::filesystem::path& path);

// Files that belong together (a dataset and its tables), committed in order by commit_all(). A rename cannot be
// undone: if one fails, the files renamed before it stay in place and the rest are removed (their temporaries and
// any previous file under their names, which would no longer describe the ones renamed), and the error is thrown.
class AtomicFileSet {
 public:
  AtomicFile& add(std::filesystem::path target);
  void commit_all();

 private:
  std::vector<std::unique_ptr<AtomicFile>> files_;
};

// A run's claim on an output: an exclusive flock() on `lock_file`, taken at once or refused with an error that names
// `what` ("out/x.h5 is being written by another run (pid 123)"). The lock file holds the owner's pid for that
// message and is removed when the lock is released; one left by a killed process is taken over (the kernel dropped
// its lock). Use it where a second concurrent run on the same output must refuse rather than race.
class OutputLock {
 public:
  OutputLock(std::filesystem::path lock_file, std::string what);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// The lock file of an output file: ".<name>.lock" beside it.
std::filesystem::path lock_path_for(const std::filesystem::path& target);

// Why `name` cannot be an output file name inside a folder (empty, ".", "..", a '/' in it, a control character),
// or an empty string when it can.
std::string plain_file_name_problem(std::string_view name);

}  // namespace agf::io
