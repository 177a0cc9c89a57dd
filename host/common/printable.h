// Printable: text that came from the guest (or from a file it could write),
// made safe for a terminal, a log and a protobuf string.
#pragma once

#include <string>
#include <string_view>

namespace ws {

// `text` with every control character (C0, DEL, C1), every invisible
// format character that can make a name look like another (zero-width,
// bidi overrides and isolates) and every byte that is not part of valid
// UTF-8 shown as \xNN, but newline and tab kept when `lines`: what the
// guest wrote reaches a terminal as text, never as escape sequences, and
// is always valid UTF-8.
std::string Printable(std::string_view text, bool lines = false);

// The one cleaner for text a guest chose (error messages, command lines,
// notices, names in listings): Printable on one line, at most `max` bytes.
std::string GuestText(std::string_view text, size_t max = 1024);

// Printable with '\' shown as \x5c as well, so that it can be undone
// exactly (a file name kept in a record and looked up again later).
std::string PrintableExact(std::string_view text);
std::string FromPrintableExact(std::string_view shown);

}  // namespace ws
