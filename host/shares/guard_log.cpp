#include "host/shares/guard_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "host/common/unique_fd.h"

namespace ws::shares {
namespace {

constexpr size_t kMaxLineBytes = 16384;  // a Printable path of PATH_MAX bytes fits

std::string PathOf(const std::string& dir, const char* file) { return dir + "/" + file; }

// Lines of `path`, each at most kMaxLineBytes, at most `max_lines` of them.
std::vector<std::string> ReadLines(const std::string& path, size_t max_lines) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (out.size() < max_lines && std::getline(in, line)) {
    if (line.size() <= kMaxLineBytes) out.push_back(line);
  }
  return out;
}

}  // namespace

std::string FormatGuardEvent(const GuardEvent& e) { return e.time + " " + e.op + " " + e.path; }

bool ParseGuardEvent(const std::string& line, GuardEvent* e) {
  const size_t a = line.find(' ');
  const size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
  if (b == std::string::npos) return false;
  e->time = line.substr(0, a);
  e->op = line.substr(a + 1, b - a - 1);
  e->path = line.substr(b + 1);
  return !e->time.empty() && !e->op.empty();
}

GuardLog::GuardLog(std::string spec_dir, std::string audit_log, std::string workspace)
    : spec_dir_(std::move(spec_dir)),
      audit_(audit_log),
      audit_on_(!audit_log.empty()),
      workspace_(std::move(workspace)) {}

void GuardLog::Reset() {
  WriteState();
  unique_fd fd(open(PathOf(spec_dir_, kGuardChangesFile).c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
}

std::string GuardLog::ProtectedReason(const std::string& rule) {
  return "protected: " + rule + " (host tools read or run it; --writable " + rule + " opens it)";
}

void GuardLog::Refused(const std::string& op, const std::string& path, const std::string& reason) {
  GuardEvent e{net::NowRfc3339Millis(), op, path};
  ++state_.refused;
  recent_.push_back(e);
  if (recent_.size() > kMaxGuardRecent) recent_.pop_front();
  WriteState();
  if (!audit_on_) return;
  const int64_t now = static_cast<int64_t>(time(nullptr));
  if (now != audit_second_) {
    audit_second_ = now;
    audited_this_second_ = 0;
  }
  if (++audited_this_second_ > kAuditPerSecond) return;  // counted in guard.state all the same
  net::AuditRecord r;
  r.time = e.time;
  r.workspace = workspace_;
  r.target = "share";
  r.method = op;
  r.path = path;
  r.decision = "deny";
  r.reason = reason;
  audit_.Append(r);
}

void GuardLog::Changed(const std::string& op, const std::string& path) {
  if (changes_full_ || changed_.count(path)) return;
  std::string line;
  if (changed_.size() + 1 >= kMaxGuardChanges) {
    changes_full_ = true;
    line =
        FormatGuardEvent({net::NowRfc3339Millis(), "more", "(later changes not recorded)"}) + "\n";
  } else {
    changed_.insert(path);
    line = FormatGuardEvent({net::NowRfc3339Millis(), op, path}) + "\n";
  }
  unique_fd fd(open(PathOf(spec_dir_, kGuardChangesFile).c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd) (void)WriteAll(fd.get(), line.data(), line.size());
}

void GuardLog::WriteState() {
  std::ostringstream out;
  out << state_.refused << "\n";
  for (const auto& e : recent_) out << FormatGuardEvent(e) << "\n";
  const std::string text = out.str();
  const std::string final_path = PathOf(spec_dir_, kGuardStateFile);
  const std::string tmp = final_path + ".tmp";
  unique_fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd || !WriteAll(fd.get(), text.data(), text.size())) return;
  fd.reset();
  rename(tmp.c_str(), final_path.c_str());
}

GuardState ReadGuardState(const std::string& spec_dir) {
  GuardState s;
  auto lines = ReadLines(PathOf(spec_dir, kGuardStateFile), kMaxGuardRecent + 1);
  if (lines.empty()) return s;
  s.refused = std::strtoull(lines[0].c_str(), nullptr, 10);
  for (size_t i = 1; i < lines.size(); ++i) {
    GuardEvent e;
    if (ParseGuardEvent(lines[i], &e)) s.recent.push_back(e);
  }
  return s;
}

std::vector<GuardEvent> ReadGuardChanges(const std::string& spec_dir) {
  std::vector<GuardEvent> out;
  for (const auto& line : ReadLines(PathOf(spec_dir, kGuardChangesFile), kMaxGuardChanges)) {
    GuardEvent e;
    if (ParseGuardEvent(line, &e)) out.push_back(e);
  }
  return out;
}

}  // namespace ws::shares
