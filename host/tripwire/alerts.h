// Alerts (issue #23): a decoy credential seen where the host can see it —
// leaving through egress, in an intercepted request, in a file copied out,
// on a forwarded port — or read in the guest (the agent's report, best
// effort). Each alert is one JSON line in STATE/workspaces/NAME/alerts.log
// (0600, the guest cannot reach it), bounded; the workspace remembers how
// many its owner has seen (`workspace alerts` marks them seen).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"
#include "host/tripwire/decoys.h"

namespace ws::tripwire {

struct Alert {
  std::string time;     // RFC 3339 UTC, milliseconds
  std::string decoy;    // its kind: "npm-token", ...
  std::string where;    // where the guest held it: "~/.npmrc", "NPM_TOKEN"
  std::string channel;  // "egress", "request", "copy-out", "forward", "fetch", "file-read"
  std::string target;   // "evil.example:80", "api.github.com:443", a guest path
  std::string detail;   // "POST /collect (denied: not on the allowlist)", ...
  int32_t pid = 0;      // the guest process, when known
  std::string command;  // its command line, when known
  std::string exec_id;  // the exec it belongs to, when known
};

std::string AlertToJson(const Alert& a);  // one line, no newline
Result<Alert> AlertFromJson(std::string_view line);
// "npm-token (~/.npmrc) in egress to evil.example:80 by node (pid 12, exec 3): DETAIL";
// `brief` names the program only (the exec's stderr line), not its whole command.
std::string AlertLine(const Alert& a, bool brief = false);

// Most alerts a workspace keeps; past it the older half goes, counted as
// dropped (the audit log still names each send).
inline constexpr size_t kMaxAlerts = 1000;
// Alerts a workspace writes and tells a minute; more are counted in the log.
inline constexpr int kAlertsPerMinute = 30;

// A workspace's alerts file and its seen-count file. Thread-safe.
class AlertLog {
 public:
  explicit AlertLog(std::string dir) : dir_(std::move(dir)) {}
  Status Append(const Alert& a);
  // All kept, oldest first, and how many of them the owner has seen.
  struct Contents {
    std::vector<Alert> alerts;
    uint64_t seen = 0;
    uint64_t dropped = 0;  // raised past kMaxAlerts
  };
  Result<Contents> Read() const;
  // How many are unseen (cheap: counts lines).
  uint64_t Unseen() const;
  Status MarkSeen(uint64_t count);

 private:
  std::string path() const { return dir_ + "/alerts.log"; }
  mutable std::mutex mu_;
  std::string dir_;
};

// One workspace's tripwire: its decoys, indexed; raising an alert writes it
// to the log and tells the exec that caused it (when it is known).
class Tripwire {
 public:
  using NotifyFn = std::function<void(const std::string& exec_id, const std::string& line)>;
  Tripwire(std::vector<Decoy> decoys, std::shared_ptr<AlertLog> log, NotifyFn notify);
  std::shared_ptr<const DecoyIndex> index() const { return index_; }
  // A fresh watch for one stream.
  DecoyWatch Watch() const { return DecoyWatch(index_); }
  // Records `a` (time filled in) and tells its exec.
  void Raise(Alert a);
  // A decoy file of the guest user's home opened (the agent's report, path
  // absolute in the guest) by `command`: an alert per decoy it holds, unless
  // the opener is the tool the file is for (npm and ~/.npmrc, gh, git, aws,
  // ssh): those read them on every run. False when the path is no decoy's.
  bool RaiseFileRead(const std::string& path, int32_t pid, const std::string& command,
                     const std::string& exec_id);
  // "npm-token ~/.npmrc" for an audit record.
  static std::string Label(const Decoy& d) { return d.kind + " " + d.where; }

 private:
  std::shared_ptr<const DecoyIndex> index_;
  std::shared_ptr<AlertLog> log_;
  NotifyFn notify_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_;  // guarded by mu_
  int raised_ = 0, quiet_ = 0;                    // guarded by mu_
};

}  // namespace ws::tripwire
