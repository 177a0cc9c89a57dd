#include "host/cli/default_allow.h"

#include "host/net/ai_api_hosts.h"

namespace ws::cli {

std::vector<net::AllowEntry> DefaultAllowlist() { return net::AiApiHosts(); }

}  // namespace ws::cli
