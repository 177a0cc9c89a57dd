// The default egress allowlist, gathered by the CLI (with its user's own
// configuration) at create: the package registries this host uses — apt's
// sources, npm's effective registry, pip's index when configured — and the
// AI model APIs listed in the installed data file. No registry host is
// written into the code. Code-hosting sites are not added.
#pragma once

#include <string>
#include <vector>

#include "host/net/policy.h"

namespace ws::cli {

std::vector<net::AllowEntry> DefaultAllowlist();

// The host of an URL ("https://a.b:8443/x" -> "a.b:8443"), or "".
std::string HostOfUrl(const std::string& url);

// Hosts in apt sources text (one-line .list or deb822 .sources format).
std::vector<std::string> AptSourceHosts(const std::string& text);

}  // namespace ws::cli
