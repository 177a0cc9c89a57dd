#include "host/net/ai_api_hosts.h"

#include <fstream>

#include "host/common/subprocess.h"

namespace ws::net {

std::vector<AllowEntry> AiApiHosts() {
  std::vector<AllowEntry> out;
  for (const std::string& dir :
       {ExeDir() + "/../share/workspace", std::string("/usr/share/workspace")}) {
    std::ifstream f(dir + "/ai-api-hosts.txt");
    if (!f) continue;
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto e = ParseAllowEntry(line, "ai-apis");
      if (!e.ok()) continue;
      bool seen = false;
      for (const auto& x : out) seen = seen || (x.host == e->host && x.port == e->port);
      if (!seen) out.push_back(e.value());
    }
    break;
  }
  return out;
}

}  // namespace ws::net
