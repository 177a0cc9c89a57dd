// .workspace.toml, read from a folder the guest may have written.
#include <cstdint>
#include <string>

#include "host/cli/project_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)ws::cli::ParseProjectFile(text, "/home/user/project");
  return 0;
}
