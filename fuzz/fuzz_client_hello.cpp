// The first bytes a guest's client sends on a tunnel, read as a TLS
// ClientHello (host/net/client_hello.h). Properties: never a crash; a
// complete hello's server name is printable ASCII without spaces; and every
// proper prefix of the bytes a complete hello took asks for more (nothing
// decides early).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "host/net/client_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ws::net::ClientHello h;
  if (ws::net::ParseClientHello(in, &h) != ws::net::HelloStatus::kComplete) return 0;
  if (h.has_sni == h.server_name.empty()) abort();
  for (unsigned char c : h.server_name) {
    if (c <= 0x20 || c >= 0x7f) abort();
  }
  if (h.consumed == 0 || h.consumed > in.size()) abort();
  const size_t took = h.consumed;
  for (size_t n = 0; n < took; n += 1 + took / 16) {
    if (ws::net::ParseClientHello(in.substr(0, n), &h) != ws::net::HelloStatus::kNeedMore) abort();
  }
  return 0;
}
