// AuditLog: one JSON line per egress attempt, allowed or denied, in a file
// on the host (STATE/workspaces/NAME/audit.log) that the guest cannot reach.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ws::net {

struct AuditRecord {
  std::string time;  // RFC 3339 UTC
  std::string workspace;
  std::string exec_id;  // the exec's cgroup id in the guest, when known
  int32_t pid = 0;      // guest pid of the program, when known
  std::string command;  // its command line, when known
  std::string target;   // host as asked
  uint32_t port = 0;
  std::string method;    // CONNECT, GET, ...
  std::string address;   // what the host connected to ("" when denied before)
  std::string decision;  // "allow" or "deny"
  std::string reason;
  uint64_t bytes_up = 0;  // guest -> remote
  uint64_t bytes_down = 0;
  int64_t duration_ms = 0;
  // A request to a registry endpoint (target "registry"): which endpoint,
  // the path asked for, the HTTP status answered, and whether the cache
  // served it ("hit", "miss", "revalidated", "stale").
  std::string endpoint;
  std::string path;
  int status = 0;
  std::string cache;
  // An intercepted request (intercept.h): the rule that decided, the secret
  // injected or expected, whether it was injected. `path` holds no query
  // value; no header value or secret is ever recorded.
  std::string rule;
  std::string binding;
  bool injected = false;
  // A git push (GitHub rule set): "OLD NEW REF" per ref update, allowed or not.
  std::vector<std::string> refs;
  // Decoy credentials seen in what the guest sent ("npm-token ~/.npmrc"):
  // a tripwire (issue #23). Never the value.
  std::vector<std::string> decoys;
};

std::string ToJsonLine(const AuditRecord& r);
std::string JsonEscape(const std::string& s);
std::string NowRfc3339Millis();

// Each string field of a record is cut to this many bytes (then
// "...(N bytes)").
inline constexpr size_t kMaxAuditField = 1024;

// One log's bound; past it the log is rotated to PATH.1.
inline constexpr uint64_t kMaxAuditBytes = 64ull << 20;

class AuditLog {
 public:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  void Append(const AuditRecord& r);
  const std::string& path() const { return path_; }

 private:
  std::mutex mu_;
  std::string path_;
};

}  // namespace ws::net
