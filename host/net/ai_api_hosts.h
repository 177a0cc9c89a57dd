// The AI model APIs: the installed data file (share/workspace/
// ai-api-hosts.txt beside the binaries, else /usr/share/workspace) that
// seeds every workspace's default allowlist and names the hosts whose
// requests the egress holds to a binding (http_rules.h).
#pragma once

#include <string>
#include <vector>

#include "host/net/policy.h"

namespace ws::net {

// Its entries, as allowlist entries from source "ai-apis".
std::vector<AllowEntry> AiApiHosts();

}  // namespace ws::net
