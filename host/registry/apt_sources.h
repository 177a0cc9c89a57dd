// The hosts apt's sources name (one-line .list and deb822 .sources files):
// what the host's apt endpoint serves, and what the guest's apt sends it.
// Pure; built into the guest agent too.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace ws::registry {

// "host" or "host:port", lower-cased, of every http:// and https:// URI
// in `files` (unreadable files are skipped).
std::set<std::string> AptSourceHosts(const std::vector<std::string>& files);
// /etc/apt/sources.list and the .list and .sources files of sources.list.d under `root`.
std::vector<std::string> AptSourceFiles(const std::string& root = "");

}  // namespace ws::registry
