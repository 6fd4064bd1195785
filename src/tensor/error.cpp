#include "tensor/error.h"

namespace agf {

[[noreturn]] void throw_error(const char* /*file*/, int /*line*/, const std::string& msg) {
  // The source location is deliberately not part of the message: users read it, developers have the debugger.
  throw Error(msg);
}

}  // namespace agf
