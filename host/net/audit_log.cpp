#include "host/net/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace ws::net {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {  // untrusted text from the guest: ASCII only
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string NowRfc3339Millis() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  gmtime_r(&tv.tv_sec, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03ldZ", buf, static_cast<long>(tv.tv_usec / 1000));
  return out;
}

std::string ToJsonLine(const AuditRecord& r) {
  // Guest-supplied fields (a host name, a command line, a path) are cut to
  // kMaxAuditField bytes, so one record stays small whatever the guest sends.
  auto q = [](const std::string& s) {
    if (s.size() <= kMaxAuditField) return "\"" + JsonEscape(s) + "\"";
    return "\"" + JsonEscape(s.substr(0, kMaxAuditField)) + "...(" + std::to_string(s.size()) +
           " bytes)\"";
  };
  std::string refs = "[";
  for (size_t i = 0; i < r.refs.size(); ++i) refs += (i ? "," : "") + q(r.refs[i]);
  refs += "]";
  std::string decoys = "[";
  for (size_t i = 0; i < r.decoys.size(); ++i) decoys += (i ? "," : "") + q(r.decoys[i]);
  decoys += "]";
  return "{\"time\":" + q(r.time) + ",\"workspace\":" + q(r.workspace) +
         ",\"exec_id\":" + q(r.exec_id) + ",\"pid\":" + std::to_string(r.pid) +
         ",\"command\":" + q(r.command) + ",\"target\":" + q(r.target) +
         ",\"port\":" + std::to_string(r.port) + ",\"method\":" + q(r.method) +
         ",\"address\":" + q(r.address) + ",\"decision\":" + q(r.decision) +
         ",\"reason\":" + q(r.reason) + ",\"bytes_up\":" + std::to_string(r.bytes_up) +
         ",\"bytes_down\":" + std::to_string(r.bytes_down) +
         ",\"duration_ms\":" + std::to_string(r.duration_ms) + ",\"endpoint\":" + q(r.endpoint) +
         ",\"path\":" + q(r.path) + ",\"status\":" + std::to_string(r.status) +
         ",\"cache\":" + q(r.cache) + ",\"rule\":" + q(r.rule) + ",\"binding\":" + q(r.binding) +
         ",\"injected\":" + (r.injected ? "true" : "false") + ",\"refs\":" + refs +
         ",\"decoys\":" + decoys + "}\n";
}

void AuditLog::Append(const AuditRecord& r) {
  std::string line = ToJsonLine(r);
  std::lock_guard lock(mu_);
  int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  // Bounded: past kMaxAuditBytes the log moves to PATH.1 (the one before
  // that goes) and starts again.
  struct stat st {};
  if (fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > kMaxAuditBytes) {
    close(fd);
    rename(path_.c_str(), (path_ + ".1").c_str());
    fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
  }
  (void)!write(fd, line.data(), line.size());
  close(fd);
}

}  // namespace ws::net
