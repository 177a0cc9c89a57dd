// The default egress allowlist a workspace gets at create: the AI model APIs
// listed in the installed data file, and nothing that depends on this
// host's tools. Package installs need no entry: npm, pip and apt in the
// guest go to the host's registry endpoints (docs/cli.md "Registry
// endpoints"), which serve reads only and fetch from the upstreams the
// host's configuration names. A registry host allowed directly would be a
// way out (npm publish, twine upload); code-hosting sites are not added
// either.
#pragma once

#include <string>
#include <vector>

#include "host/net/policy.h"

namespace ws::cli {

std::vector<net::AllowEntry> DefaultAllowlist();

}  // namespace ws::cli
