#include "host/store/layout.h"

#include <filesystem>
#include <functional>
#include <iomanip>
#include <sstream>

namespace ws::store {

namespace fs = std::filesystem;

Layout::Layout(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string Layout::EmbedRoot() const {
  std::string direct = LibvirtDir();
  if (direct.size() <= kMaxEmbedRoot) return direct;
  // FNV-1a: stable across runs and builds (std::hash is not guaranteed to be).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : state_dir_) h = (h ^ c) * 1099511628211ull;
  std::ostringstream s;
  s << "/run/workspace/" << std::hex << std::setw(16) << std::setfill('0') << h;
  return s.str();
}

std::string Layout::WorkspaceDir(const std::string& name) const {
  return state_dir_ + "/workspaces/" + name;
}

std::string Layout::ConsoleLog(const std::string& name) const {
  return WorkspaceDir(name) + "/console.log";
}

std::string Layout::AgentSocket(const std::string& uuid) const {
  std::string id;
  for (char c : uuid) {
    if (c != '-') id += c;
    if (id.size() == 12) break;
  }
  return RunDir() + "/" + id + ".sock";
}

Status CheckSocketBudget(const Layout& layout) {
  const std::string longest = layout.AgentSocket("000000000000");
  if (longest.size() > kMaxSocketPath || layout.DaemonSocket().size() > kMaxSocketPath) {
    return {Code::kInvalidArgument,
            "state dir " + layout.state_dir() + " is too long (" +
                std::to_string(layout.state_dir().size()) +
                " characters): unix socket paths under it would exceed " +
                std::to_string(kMaxSocketPath) + " bytes; use a state dir of at most " +
                std::to_string(kMaxSocketPath - (longest.size() - layout.state_dir().size())) +
                " characters"};
  }
  return Status::Ok();
}

std::string NormalizeDir(const std::string& dir) {
  fs::path p = fs::absolute(fs::path(dir)).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string BulkSocketPath(const std::string& agent_socket) {
  const std::string suffix = ".sock";
  std::string base = agent_socket;
  if (base.size() >= suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  return base + ".out";
}

}  // namespace ws::store
