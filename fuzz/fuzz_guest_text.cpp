// What the guest controls in a share, as the host reads it: paths the guard
// judges, file names shown to the user, config files stripped of their
// credentials. Properties: Printable gives valid UTF-8 without controls and
// is a fixed point; a protected path stays protected with anything below
// it; stripping never leaves an auth line and is idempotent.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/common/printable.h"
#include "host/shares/protected_paths.h"
#include "host/shares/secrets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::string shown = ws::Printable(in);
  for (unsigned char c : shown) {
    if (c < 0x20 || c == 0x7f) abort();
  }
  if (ws::Printable(shown) != shown) abort();

  const ws::shares::ProtectionRules rules{{"tools/hooks"}, {".vscode"}};
  const std::string hit = ws::shares::ProtectedPrefix(in, rules);
  if (!hit.empty()) {
    if (ws::shares::ProtectedPrefix(hit, rules).empty()) abort();
    if (ws::shares::ProtectedPrefix(in + "/x", rules).empty()) abort();
  }
  (void)ws::shares::LeadsToProtected(in, rules);
  (void)ws::shares::IsHostRunFile(in);

  for (const char* name : {".npmrc", ".pypirc", ".netrc", ".yarnrc.yml", "pip.conf"}) {
    const std::string once = ws::shares::StripCredentials(name, in);
    if (ws::shares::StripCredentials(name, once) != once) abort();
    if (std::string_view(name) != ".npmrc") continue;
    size_t at = 0;
    while (at < once.size()) {  // no scoped auth line (//host/:key=...) is left
      const size_t start = once.find_first_not_of(" \t\r", at);
      if (start != std::string::npos && once.compare(start, 2, "//") == 0 &&
          (once.find('\n', at) == std::string::npos || start < once.find('\n', at))) {
        abort();
      }
      const size_t nl = once.find('\n', at);
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  }
  const std::string git = ws::shares::StripGitConfig(in);
  if (ws::shares::StripGitConfig(git) != git) abort();
  return 0;
}
