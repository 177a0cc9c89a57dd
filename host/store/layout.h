// Layout: where the daemon keeps its files under the state dir, and the
// unix-socket path budget (sun_path holds 107 bytes).
//
//   STATE/daemon.sock  daemon.log  daemon.lock
//   STATE/libvirt/     the embedded libvirt root (reached through a short
//                      symlink under /run/workspace when STATE is long)
//   STATE/run/ID.sock  agent channel of each workspace (ID: 12 hex of its uuid)
//   STATE/workspaces/NAME/console.log
//   STATE/images/NAME/ imported guest images
#pragma once

#include <string>

#include "host/common/status.h"

namespace ws::store {

inline constexpr char kDefaultStateDir[] = "/var/lib/workspace";

inline constexpr size_t kMaxSocketPath = 107;
// The embedded root must stay short: libvirt puts QEMU's monitor at
// ROOT/lib/qemu/domain-N-<20 chars>/monitor.sock.
inline constexpr size_t kMaxEmbedRoot = 40;

class Layout {
 public:
  explicit Layout(std::string state_dir);

  const std::string& state_dir() const { return state_dir_; }
  std::string DaemonSocket() const { return state_dir_ + "/daemon.sock"; }
  std::string DaemonLog() const { return state_dir_ + "/daemon.log"; }
  std::string DaemonLock() const { return state_dir_ + "/daemon.lock"; }
  std::string RunDir() const { return state_dir_ + "/run"; }
  std::string ImagesDir() const { return state_dir_ + "/images"; }
  // The registry endpoints' caches: CacheDir()/UID, one per user.
  std::string CacheDir() const { return state_dir_ + "/cache"; }
  // Where libvirt's embedded root really lives.
  std::string LibvirtDir() const { return state_dir_ + "/libvirt"; }
  // The path handed to libvirt: LibvirtDir() itself, or a short symlink to it.
  std::string EmbedRoot() const;
  bool EmbedRootIsLink() const { return EmbedRoot() != LibvirtDir(); }
  std::string WorkspaceDir(const std::string& name) const;
  std::string ConsoleLog(const std::string& name) const;
  std::string AgentSocket(const std::string& uuid) const;

 private:
  std::string state_dir_;
};

// The host end of the bulk port of the VM whose agent socket is
// `agent_socket` ("<id>.sock" -> "<id>.out", no longer: socket paths are
// bounded).
std::string BulkSocketPath(const std::string& agent_socket);

// Ok when every socket path derived from the state dir fits in sun_path;
// otherwise says which path is too long and what to do.
Status CheckSocketBudget(const Layout& layout);

// Makes `dir` absolute and normalized (no trailing '/', no "." or "..").
std::string NormalizeDir(const std::string& dir);

}  // namespace ws::store
