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

// Kills (SIGKILL) and reaps a spawned process when it goes out of scope if
// the test has not reaped it: a failed ASSERT leaves nothing running into
// the next tests.
class ReapOnExit {
 public:
  explicit ReapOnExit(int pid) : pid_(pid) {}
  ~ReapOnExit();
  ReapOnExit(const ReapOnExit&) = delete;
  ReapOnExit& operator=(const ReapOnExit&) = delete;

 private:
  int pid_;
};

}  // namespace ws::test
