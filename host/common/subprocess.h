// RunCommand: runs a program (no shell) and waits for it, for the few tools
// the daemon drives (qemu-img, the image build script).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws {

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and stdout and
// stderr merged. Each output line goes to on_line when given. Ok with the
// whole output when it exits 0; otherwise an error naming the program, its
// exit status and the last lines it printed.
Result<std::string> RunCommand(const std::vector<std::string>& argv,
                               const std::function<void(const std::string&)>& on_line = {});

// The directory of the running binary: where its sibling programs are
// (build/bin, or a prefix's bin), with data in ../share/workspace.
std::string ExeDir();

}  // namespace ws
