// Log: the daemon's log lines, "<UTC time> <message>", to the log file and,
// when stderr is a terminal, to stderr too. Thread-safe.
#pragma once

#include <string>

namespace ws {

// Opens (appends to) path as the log file; false if it cannot be opened.
bool OpenLog(const std::string& path);
void Log(const std::string& message);

}  // namespace ws
