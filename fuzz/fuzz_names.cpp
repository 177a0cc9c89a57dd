// Workspace names: a name made from a folder is valid or empty, and a valid
// name is a safe path component.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/common/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (ws::ValidateName(in).ok()) {
    if (in.empty() || in == "." || in == ".." || in.find('/') != std::string_view::npos) abort();
    for (unsigned char ch : in) {
      if (ch < 0x20 || ch >= 0x7f) abort();
    }
  }
  const std::string from = ws::NameFromFolder(in);
  if (!from.empty() && !ws::ValidateName(from).ok()) abort();
  return 0;
}
