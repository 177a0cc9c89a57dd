// /etc/workspace/daemon.toml, the daemon's policy for members.
#include <cstdint>
#include <string>

#include "host/controller/member_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)ws::controller::ParseMemberPolicy(text);
  return 0;
}
