// NetMode: a workspace's network policy, on both sides of every wire (the
// CLI's --net, the daemon's metadata, the guest's boot parameters).
#pragma once

#include <optional>
#include <string_view>

namespace ws {

enum class NetMode {
  kAllowlist,  // no NIC; the host's egress relay decides each connection
  kNone,       // no NIC, no proxy
  kOpen,       // a user-mode NIC, unfiltered
};

inline const char* NetModeName(NetMode m) {
  switch (m) {
    case NetMode::kAllowlist:
      return "allowlist";
    case NetMode::kNone:
      return "none";
    case NetMode::kOpen:
      return "open";
  }
  return "allowlist";
}

inline std::optional<NetMode> ParseNetMode(std::string_view s) {
  if (s == "allowlist") return NetMode::kAllowlist;
  if (s == "none") return NetMode::kNone;
  if (s == "open") return NetMode::kOpen;
  return std::nullopt;
}

}  // namespace ws
