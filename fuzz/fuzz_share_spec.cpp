// --share HOST[:GUEST][:ro|rw] as a client sends it: an accepted spec has
// an absolute guest path with no "..", and no control character anywhere.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/shares/share_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = ws::shares::ParseShareSpec(in);
  if (!s.ok()) return 0;
  if (!ws::shares::CheckGuestPath(s.value().guest_path).ok()) return 0;
  const std::string& g = s.value().guest_path;
  if (g.empty() || g[0] != '/' || g.find("/../") != std::string::npos) abort();
  for (unsigned char ch : g) {
    if (ch < 0x20 || ch == 0x7f) abort();
  }
  return 0;
}
