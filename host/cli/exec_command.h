// `workspace exec`: streams a command's stdin/stdout/stderr through the
// daemon and returns its exit code (128+N for signal N, 124 on timeout, 125
// when workspace itself failed).
#pragma once

#include <string>
#include <vector>

#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

struct ExecOptions {
  std::string workspace;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  uint32_t timeout_seconds = 0;
  bool interactive = false;  // -i: forward our stdin
};

int RunExec(workspace::v1::Controller::Stub* stub, const ExecOptions& opts);

}  // namespace ws::cli
