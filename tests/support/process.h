// Test support: runs a program, feeds it stdin, captures stdout/stderr and
// its exit code (128+N when killed by signal N).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ws::test {

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to / replacing the test's environment
  std::string stdin_data;
  std::string cwd;
  int timeout_seconds = 300;
};

RunResult Run(const std::vector<std::string>& argv, const RunOptions& opts = {});

// Starts a program in the background; returns its pid. stdout/stderr go to /dev/null.
int Spawn(const std::vector<std::string>& argv, const RunOptions& opts = {});

}  // namespace ws::test
