// The CLI: parses arguments with CLI11 and runs one command. Returns the
// process exit code (docs/cli.md); CLI11's own codes never leak out.
#pragma once

namespace ws::cli {

int Run(int argc, char** argv);

}  // namespace ws::cli
