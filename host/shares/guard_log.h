// What the share guard writes and the daemon reads, in a share's spec dir
// (root's, out of the guest's reach), both started afresh when the share's
// virtiofsd starts:
//  - guard.state: how many calls were refused, and the last few;
//  - guard.changes: each file host tools run (IsHostRunFile) that the guest
//    created or changed, once, in the order first seen.
// Paths are PrintableExact() (no control characters, valid UTF-8, undone
// by FromPrintableExact); both files are
// bounded (kMaxGuardChanges lines, kMaxGuardRecent refusals kept).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

#include "host/common/status.h"
#include "host/net/audit_log.h"

namespace ws::shares {

inline constexpr char kGuardStateFile[] = "guard.state";
inline constexpr char kGuardChangesFile[] = "guard.changes";
inline constexpr size_t kMaxGuardChanges = 10000;
inline constexpr size_t kMaxGuardRecent = 10;

struct GuardEvent {
  std::string time;  // RFC 3339 UTC
  std::string op;    // create, write, mkdir, symlink, link, rename, remove, chmod
  std::string path;  // relative to the share's top, Printable
};

struct GuardState {
  uint64_t refused = 0;
  std::vector<GuardEvent> recent;  // the last refusals, oldest first
};

// Refusals and changes as the guard sees them. Not thread-safe (the guard
// is one thread).
class GuardLog {
 public:
  GuardLog(std::string spec_dir, std::string audit_log, std::string workspace);
  // Starts both files afresh.
  void Reset();
  // A refused call: counted, kept among the recent, and audited with
  // `reason` (at most kAuditPerSecond a second; the rest only counted).
  void Refused(const std::string& op, const std::string& path, const std::string& reason);

  // The audit reason for a protected path `rule`.
  static std::string ProtectedReason(const std::string& rule);
  // A host-run file the guest created or changed (op as in GuardEvent).
  void Changed(const std::string& op, const std::string& path);

 private:
  static constexpr int kAuditPerSecond = 50;
  void WriteState();

  std::string spec_dir_;
  net::AuditLog audit_;
  bool audit_on_;
  std::string workspace_;
  GuardState state_;
  std::deque<GuardEvent> recent_;
  std::unordered_set<std::string> changed_;
  bool changes_full_ = false;
  int64_t audit_second_ = 0;
  int audited_this_second_ = 0;
};

// Reads a share's guard.state (an empty state when there is none).
GuardState ReadGuardState(const std::string& spec_dir);

// Reads a share's guard.changes, in the order first seen.
std::vector<GuardEvent> ReadGuardChanges(const std::string& spec_dir);

// One line of either file, and back (exposed for tests).
std::string FormatGuardEvent(const GuardEvent& e);
bool ParseGuardEvent(const std::string& line, GuardEvent* e);

}  // namespace ws::shares
