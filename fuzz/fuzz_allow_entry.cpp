// Allowlist entries (from the CLI, project files, recipes) and the host
// names the guest announces: an accepted entry holds no control character
// and decides a name without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/net/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = ws::net::ParseAllowEntry(in, "user");
  if (auto n = ws::net::NormalizeHostName(in)) {
    for (unsigned char ch : *n) {
      if (ch < 0x20 || ch == 0x7f) abort();
    }
  }
  if (!e.ok()) return 0;
  for (unsigned char ch : e.value().host) {
    if (ch < 0x20 || ch == 0x7f) abort();
  }
  std::vector<ws::net::AllowEntry> list{e.value()};
  (void)ws::net::Decide(list, in, 443);
  (void)ws::net::Decide(list, e.value().host, e.value().port);
  return 0;
}
