// BootParams: what the host tells a guest at boot, on the guest kernel's
// command line as workspace.* words — the second host -> guest contract
// (beside agent.proto), versioned by workspace.v. Encode (the daemon) and
// Decode (the agent) are one pure pair, compiled into both and tested as a
// pair. Every value is percent-encoded (anything but [A-Za-z0-9._@+-/]) so
// a value stays one word; Decode drops control characters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host/common/net_mode.h"
#include "host/common/status.h"

namespace ws::boot {

// Bumped on any incompatible change of the words below.
inline constexpr int kVersion = 1;

struct ShareMount {
  std::string tag;         // the virtiofs tag
  std::string guest_path;  // absolute
  bool read_only = false;
  bool operator==(const ShareMount&) const = default;
};

struct BootParams {
  std::string name;  // the workspace's name: the guest's host name
  NetMode net = NetMode::kAllowlist;
  std::string root;  // the root disk's device ("/dev/vda"), or "" (run from the initramfs)
  std::string git_name, git_email;  // the host user's git identity (each ≤128 bytes, else left out)
  std::vector<ShareMount> shares;
  // A template's boot (issue #24): the agent zeroes the guest's free
  // memory before it says it is ready, so the saved state holds only what
  // is in use.
  bool template_boot = false;
  bool operator==(const BootParams&) const = default;
};

// The workspace.* words, space-separated, beginning with workspace.v.
std::string Encode(const BootParams& p);
// From a whole kernel command line (other words are ignored). Words
// without workspace.v are read as version 1 (workspaces defined before the
// version word). kFailedPrecondition for another version; kInvalidArgument
// for a malformed word.
Result<BootParams> Decode(std::string_view cmdline);

}  // namespace ws::boot
