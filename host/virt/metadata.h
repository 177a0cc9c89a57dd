// Workspace settings as stored in the libvirt domain's <metadata>, under the
// project's own XML namespace. libvirt is the source of truth for which
// workspaces exist; this element is how a restarted daemon knows what each is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/common/net_mode.h"
#include "host/common/status.h"
#include "host/net/policy.h"

namespace ws::virt {

inline constexpr char kMetadataUri[] = "https://workspace.dev/xmlns/workspace/1";
inline constexpr char kMetadataPrefix[] = "ws";

struct ShareMeta {
  std::string tag;  // virtiofs tag, e.g. "ws0"
  std::string host_path;
  std::string guest_path;
  bool read_only = false;
  uint32_t owner_uid = 0;  // host ids the guest user's files get (rw)
  uint32_t owner_gid = 0;
  std::vector<std::string> shown;
  // The shared directory as create found it (0: made before it was recorded).
  uint64_t dev = 0;
  uint64_t ino = 0;
  std::vector<std::string> writable;  // protected paths opened (--writable)
  std::vector<std::string> protect;   // protected beyond the fixed list
};

struct WorkspaceMeta {
  uint32_t owner_uid = 0;
  std::string image;
  std::string created_at;  // RFC 3339 UTC
  std::string accel;       // "kvm" or "tcg"
  uint32_t cpus = 0;
  uint32_t memory_mib = 0;
  // The guest CPU (host/virt/cpu_model.h); kCpuQemuDefault for a workspace
  // defined before it was chosen.
  std::string cpu_model;
  std::string agent_socket;
  std::string console_log;
  // Disk images (debian): the workspace's qcow2 overlay, the read-only base
  // it was made from, and its size. All empty/0 for a diskless image.
  std::string disk;
  std::string base;
  uint32_t disk_gib = 0;
  std::vector<ShareMeta> shares;
  NetMode net = NetMode::kAllowlist;
  std::vector<net::AllowEntry> allow;  // the egress allowlist
  // The GitHub rule set's (allow NAME github): --push OWNER/REPO[:GLOB] and
  // --api-write specs, as given (host/github/push_rules.h, api_rules.h).
  std::vector<std::string> github_push;
  std::vector<std::string> github_api_writes;
  struct Port {
    uint16_t host = 0;  // on 127.0.0.1
    uint16_t guest = 0;
  };
  std::vector<Port> ports;  // published guest ports
};

// <ws:workspace xmlns:ws="..." .../> (for a domain definition).
std::string RenderMetadata(const WorkspaceMeta& meta);
// The same element without prefix or namespace declaration, as
// virDomainSetMetadata wants it (libvirt puts it in our namespace).
std::string RenderMetadataForUpdate(const WorkspaceMeta& meta);

// Parses the element as virDomainGetMetadata returns it. kInvalidArgument
// when it is not ours or a field is malformed.
Result<WorkspaceMeta> ParseMetadata(const std::string& xml);

}  // namespace ws::virt
