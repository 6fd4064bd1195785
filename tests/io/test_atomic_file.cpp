// The one atomic writer, output locks, the interrupt facility and the escaping of file text for printing.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "io/interrupt.h"
#include "io/printable.h"
#include "io_test_util.h"

namespace fs = std::filesystem;
using namespace agf;
using namespace std::string_literals;
using agf::test::check_error;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = agf::test::io_scratch_dir() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string text_of(const fs::path& p) {
  const auto bytes = io::read_file_bytes(p);
  return std::string(bytes.begin(), bytes.end());
}

// Runs `child` in a forked process (signal handlers and the interrupt flag stay out of this one, and out of
// doctest's own handlers) and returns its wait status. The child's return value is its exit status.
int wait_status_of(const std::function<int()>& child) {
  std::fflush(nullptr);  // else the child, flushing at its end, prints this process's pending output a second time
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(child());
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("atomic file: the temporary is beside the target, unique, and the target changes only on commit") {
  const fs::path dir = fresh_dir("atomic");
  const fs::path target = dir / "out.csv";
  io::write_file_atomically(target, std::string_view("old\n"));
  CHECK(names_in(dir) == std::vector<std::string>{"out.csv"});
  {
    io::AtomicFile a(target), b(target);  // two writers of one target (two runs) never share a temporary
    CHECK(a.temp_path().parent_path() == dir);
    CHECK(a.temp_path() != b.temp_path());
    const std::string name = a.temp_path().filename().string();
    CHECK(name.starts_with(fmt::format(".out.csv.{}.", ::getpid())));
    CHECK(name.ends_with(".tmp"));
    a.write(std::string_view("new "));
    a.write(std::string_view("content\n"));
    b.write(std::string_view("abandoned\n"));
    CHECK(names_in(dir).size() == 3);
    CHECK(text_of(target) == "old\n");  // nothing visible before the commit
    a.commit();
    CHECK(a.committed());
    CHECK(text_of(target) == "new content\n");
    check_error([&] { a.write(std::string_view("x")); }, {"out.csv", "write after commit"});
  }  // b, uncommitted, removes its temporary
  CHECK(names_in(dir) == std::vector<std::string>{"out.csv"});
  CHECK(text_of(target) == "new content\n");
  // Unsynced one by one, then the file system at once (agf-synth's records): the same files.
  io::write_file_atomically(target, std::string_view("fast\n"), io::Durability::rename_only);
  io::sync_file_system(dir);
  CHECK(names_in(dir) == std::vector<std::string>{"out.csv"});
  CHECK(text_of(target) == "fast\n");
  check_error([&] { io::sync_file_system(dir / "missing"); }, {"missing", "cannot open it to sync"});
}

TEST_CASE("atomic file: refusals name the target and create nothing") {
  const fs::path dir = fresh_dir("atomic_refusals");
  check_error([&] { io::write_file_atomically(dir / "no" / "x.bin", std::string_view("x")); },
              {"x.bin", "does not exist"});
  fs::create_directories(dir / "sub");
  check_error([&] { io::AtomicFile f(dir / "sub"); }, {"sub", "is a folder"});
  CHECK(names_in(dir) == std::vector<std::string>{"sub"});
}

TEST_CASE("atomic file set: committed in order; after a failed rename the rest are removed, the first stay") {
  const fs::path dir = fresh_dir("atomic_set");
  io::write_file_atomically(dir / "c.csv", std::string_view("c from an earlier run\n"));
  {
    io::AtomicFileSet set;
    set.add(dir / "a.h5").write(std::string_view("a"));
    set.add(dir / "b.csv").write(std::string_view("b"));
    set.add(dir / "c.csv").write(std::string_view("c"));
    // b's name becomes a non-empty folder after staging: its rename (a file over a folder) must fail.
    fs::create_directories(dir / "b.csv" / "inside");
    check_error([&] { set.commit_all(); }, {"b.csv", "cannot rename"});
  }
  // a is in place; b failed (the folder is left alone); c's earlier file, which would describe a dataset that is no
  // longer there, is gone; no temporary is left.
  CHECK(names_in(dir) == std::vector<std::string>{"a.h5", "b.csv"});
  CHECK(text_of(dir / "a.h5") == "a");
}

TEST_CASE("output lock: a second claim on one output is refused at once, naming it and the owner") {
  const fs::path dir = fresh_dir("lock");
  const fs::path lock_file = io::lock_path_for(dir / "set.h5");
  CHECK(lock_file == dir / ".set.h5.lock");
  {
    io::OutputLock first(lock_file, "out/set.h5");
    CHECK(fs::exists(lock_file));
    // flock() conflicts between two opens of the file even in one process, as between two runs.
    check_error([&] { io::OutputLock second(lock_file, "out/set.h5"); },
                {fmt::format("out/set.h5 is being written by another run (pid {}, lock {})", ::getpid(),
                             lock_file.string())});
  }
  CHECK(names_in(dir).empty());  // released and removed
  io::OutputLock again(lock_file, "out/set.h5");
  CHECK(fs::exists(lock_file));
}

TEST_CASE("output lock: a lock file left by a killed run is taken over") {
  const fs::path dir = fresh_dir("lock_stale");
  const fs::path lock_file = dir / ".set.h5.lock";
  io::write_file_atomically(lock_file, std::string_view("999999"));  // its owner died: no flock is held on it
  io::OutputLock lock(lock_file, "set.h5");
  CHECK(text_of(lock_file) == std::to_string(::getpid()));
}

TEST_CASE("plain file names: only a name that stays inside its folder") {
  for (const char* ok : {"WFDB_Ga", "code15", "a.b", "..x", "x..", "é"}) {
    CAPTURE(ok);
    CHECK(io::plain_file_name_problem(ok).empty());
  }
  CHECK(io::plain_file_name_problem("") == "an empty name");
  CHECK(io::plain_file_name_problem(".") == "'.' names a folder, not a file");
  CHECK(io::plain_file_name_problem("..") == "'..' names a folder, not a file");
  for (const char* bad : {"../x", "a/b", "/abs", "x/"}) {
    CAPTURE(bad);
    CHECK(io::plain_file_name_problem(bad) == "a name with '/' would write outside the output folder");
  }
  CHECK(io::plain_file_name_problem("a\x1b[2J") == "a name with a control character");
  CHECK(io::plain_file_name_problem("a\tb") == "a name with a control character");
}

TEST_CASE("printable: control characters and invalid UTF-8 escaped, valid text unchanged") {
  CHECK(io::printable("plain text, 1.5 mV; (x)") == "plain text, 1.5 mV; (x)");
  CHECK(io::printable("a\x1b[2Jb") == "a\\x1b[2Jb");                  // clear screen
  CHECK(io::printable("line\r\nnext\tcol") == "line\\r\\nnext\\tcol");
  CHECK(io::printable(std::string_view("x\0y", 3)) == "x\\x00y");
  CHECK(io::printable("\x7f\x01") == "\\x7f\\x01");
  CHECK(io::printable("C:\\path") == "C:\\path");  // unchanged: escaping twice changes nothing
  CHECK(io::printable("\xc3\xa9" "cg \xe2\x82\xac \xf0\x9f\x98\x80") == "\xc3\xa9" "cg \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(io::printable("\xc2\x9b" "2J") == "\\xc2\\x9b2J");  // U+009B, the one-byte CSI of 8-bit terminals
  CHECK(io::printable("\xc2\xa0") == "\xc2\xa0");            // U+00A0, the first code point after the C1 block
  CHECK(io::printable("\x9b" "2J") == "\\x9b2J");            // a lone continuation byte
  CHECK(io::printable("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
  CHECK(io::printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  CHECK(io::printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(io::printable("ab\xe2\x82") == "ab\\xe2\\x82");      // cut short at the end
  // Idempotent: a message escaped where it is made and again where it is printed reads the same.
  const std::string hostile = "rec\x1b[2J\r\0\xc2\x9b\xff\\x1b"s;
  CHECK(io::printable(hostile) == "rec\\x1b[2J\\r\\x00\\xc2\\x9b\\xff\\x1b");
  CHECK(io::printable(io::printable(hostile)) == io::printable(hostile));
  // what() is a C string: a NUL in a message would cut it; Error writes it as printable does.
  CHECK(std::string(Error("item '1\0' is bad"s).what()) == "item '1\\x00' is bad");
}

TEST_CASE("interrupt: the first signal sets the flag; the work throws at its safe point") {
  const int status = wait_status_of([] {
    io::install_interrupt_handlers();
    io::install_interrupt_handlers();  // idempotent
    if (io::interrupt_requested() || io::interrupt_signal() != 0) return 10;
    io::throw_if_interrupted("nothing yet");  // no signal: no throw
    ::raise(SIGTERM);
    if (!io::interrupt_requested() || io::interrupt_signal() != SIGTERM) return 11;
    try {
      io::throw_if_interrupted("at record 3 of 9");
      return 12;
    } catch (const Error& e) {  // an agf::Error, so generic handlers print it as one line
      const auto* i = dynamic_cast<const io::Interrupted*>(&e);
      if (i == nullptr || i->signal() != SIGTERM) return 13;
      if (std::string(e.what()) != "interrupted by SIGTERM: at record 3 of 9") return 14;
    }
    io::clear_interrupt();
    return io::interrupt_requested() ? 15 : 0;
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("interrupt: a second signal removes the registered temporaries and ends the process by that signal") {
  const fs::path dir = fresh_dir("second_signal");
  const int status = wait_status_of([&] {
    io::install_interrupt_handlers();
    io::AtomicFile a(dir / "a.h5"), b(dir / "b.csv");
    a.write(std::string_view("partial"));
    ::raise(SIGINT);  // the first: only the flag
    if (names_in(dir).size() != 2) return 20;
    ::raise(SIGINT);  // the second: never returns
    return 21;
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
  CHECK(names_in(dir).empty());
}

TEST_CASE("interrupt: end_by_signal ends the process by the signal, as a shell expects of Ctrl-C") {
  const int status = wait_status_of([]() -> int {
    io::install_interrupt_handlers();
    io::end_by_signal(SIGTERM);
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
}
