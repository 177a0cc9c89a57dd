// workspace: the command-line tool; `workspace daemon` is the daemon.
#include "host/cli/commands.h"

int main(int argc, char** argv) { return ws::cli::Run(argc, argv); }
