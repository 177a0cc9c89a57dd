// The workspace metadata kept in libvirt's domain XML: refused, or parsed
// to metadata that renders and parses back the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "host/virt/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  auto m = ws::virt::ParseMetadata(xml);
  if (!m.ok()) return 0;
  const std::string rendered = ws::virt::RenderMetadata(m.value());
  auto again = ws::virt::ParseMetadata(rendered);
  if (!again.ok() || ws::virt::RenderMetadata(again.value()) != rendered) abort();
  return 0;
}
