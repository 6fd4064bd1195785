#pragma once
// Text from files (a record name, a header line quoted in a message) on its way to a terminal, a log or a CSV file.
#include <string>
#include <string_view>

namespace agf::io {

// `text` with every control character and every byte that is not part of valid UTF-8 written as an escape, so that a
// hostile input can neither drive the terminal (ESC sequences, a CR that overwrites the line, a NUL) nor break a
// one-line message or a CSV row: \n \r \t as such, other C0 controls, DEL, the C1 controls (U+0080..U+009F) and
// invalid bytes as \xHH (each byte). Printable ASCII and valid UTF-8 pass unchanged, backslashes included, so that
// escaping twice (a message escaped where it is made and again where it is printed) changes nothing:
// printable(printable(s)) == printable(s).
std::string printable(std::string_view text);

}  // namespace agf::io
