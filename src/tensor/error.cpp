#include "tensor/error.h"

namespace agf {

namespace {
// what() is a C string: a NUL quoted from a hostile file would silently cut the message there. It is written as
// io::printable writes it, so the rest of the message survives.
std::string without_nul(const std::string& s) {
  if (s.find('\0') == std::string::npos) return s;
  std::string out;
  for (char c : s) out += c == '\0' ? std::string("\\x00") : std::string(1, c);
  return out;
}
}  // namespace

Error::Error(const std::string& what) : std::runtime_error(without_nul(what)) {}

[[noreturn]] void throw_error(const char* /*file*/, int /*line*/, const std::string& msg) {
  // The source location is deliberately not part of the message: users read it, developers have the debugger.
  throw Error(msg);
}

}  // namespace agf
