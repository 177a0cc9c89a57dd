// workspace: the command-line tool; `workspace daemon` is the daemon.
#include <unistd.h>

#include <cstdio>

#include "host/cli/commands.h"

int main(int argc, char** argv) {
  int code = ws::cli::Run(argc, argv);
  // _exit: a stopping daemon may still have handler threads blocked in long
  // calls; destructors must not wait for them.
  std::fflush(nullptr);
  _exit(code);
}
