// share.conf, which the virtiofsd wrapper (as root) trusts: every input is
// refused or parses to a config that renders and parses back the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "host/shares/share_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = ws::shares::ParseShareConfig(text);
  if (!c.ok()) return 0;
  const std::string rendered = ws::shares::RenderShareConfig(c.value());
  auto again = ws::shares::ParseShareConfig(rendered);
  if (!again.ok() || ws::shares::RenderShareConfig(again.value()) != rendered) abort();
  return 0;
}
