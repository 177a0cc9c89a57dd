// The boot parameters the agent reads off the guest kernel's command line
// (host/common/boot_params.h). Properties: Decode never crashes; what it
// decodes holds no control character; and what it decodes, encoded again,
// decodes to the same (the pair agrees on everything Decode can produce).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "host/common/boot_params.h"

namespace {

bool Clean(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto p = ws::boot::Decode(in);
  if (!p.ok()) return 0;
  if (!Clean(p->name) || !Clean(p->root) || !Clean(p->git_name) || !Clean(p->git_email)) abort();
  for (const auto& s : p->shares) {
    if (!Clean(s.tag) || !Clean(s.guest_path)) abort();
  }
  ws::boot::BootParams expect = p.value();
  // Encode leaves out identities over 128 bytes (the command line is bounded).
  if (expect.git_name.size() > 128) expect.git_name.clear();
  if (expect.git_email.size() > 128) expect.git_email.clear();
  auto again = ws::boot::Decode(ws::boot::Encode(expect));
  if (!again.ok() || !(again.value() == expect)) abort();
  return 0;
}
