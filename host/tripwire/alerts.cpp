#include "host/tripwire/alerts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "host/common/atomic_file.h"
#include "host/common/log.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/net/audit_log.h"

namespace ws::tripwire {

std::string AlertToJson(const Alert& a) {
  // Guest-given text is cut, and dumped with invalid UTF-8 replaced.
  auto cut = [](const std::string& s) { return s.substr(0, 1024); };
  nlohmann::json j = {
      {"time", a.time},       {"decoy", a.decoy},          {"where", a.where},
      {"channel", a.channel}, {"target", cut(a.target)},   {"detail", cut(a.detail)},
      {"pid", a.pid},         {"command", cut(a.command)}, {"exec_id", cut(a.exec_id)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Alert> AlertFromJson(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status(Code::kInternal, "a malformed alert");
  Alert a;
  auto text = [&](const char* key, std::string* out) {
    if (auto it = j.find(key); it != j.end() && it->is_string()) *out = it->get<std::string>();
  };
  text("time", &a.time);
  text("decoy", &a.decoy);
  text("where", &a.where);
  text("channel", &a.channel);
  text("target", &a.target);
  text("detail", &a.detail);
  text("command", &a.command);
  text("exec_id", &a.exec_id);
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) a.pid = it->get<int32_t>();
  return a;
}

std::string AlertLine(const Alert& a, bool brief) {
  std::string who;
  const std::string command = brief ? a.command.substr(0, a.command.find(' ')) : a.command;
  if (!command.empty()) who += " by " + Printable(command.substr(0, 200));
  if (a.pid != 0) who += (who.empty() ? " by pid " : " (pid ") + std::to_string(a.pid);
  if (a.pid != 0 && !command.empty()) who += ")";
  if (!a.exec_id.empty()) who += ", exec " + Printable(a.exec_id);
  std::string line = "decoy " + a.decoy + " (" + a.where + ")";
  if (a.channel == "file-read") {
    line += " read from " + Printable(a.target);
  } else {
    line += " seen in " + a.channel;
    if (!a.target.empty()) line += " to " + Printable(a.target);
  }
  line += who;
  if (!a.detail.empty()) line += ": " + Printable(a.detail);
  return line;
}

Status AlertLog::Append(const Alert& a) {
  std::lock_guard lock(mu_);
  // Bounded: past kMaxAlerts only the count of dropped ones grows.
  // Bounded: past kMaxAlerts the oldest half goes (counted as dropped), so
  // the newest are always kept and the seen count still holds.
  const std::string kept = ReadFileOrEmpty(path());
  const size_t lines = static_cast<size_t>(std::count(kept.begin(), kept.end(), '\n'));
  if (lines >= kMaxAlerts) {
    size_t cut = 0;
    for (size_t i = 0; i < kMaxAlerts / 2; ++i) cut = kept.find('\n', cut) + 1;
    const uint64_t seen =
        std::strtoull(ReadFileOrEmpty(dir_ + "/alerts.seen").c_str(), nullptr, 10);
    const uint64_t dropped =
        std::strtoull(ReadFileOrEmpty(dir_ + "/alerts.dropped").c_str(), nullptr, 10);
    if (Status s = WriteFileAtomically(path(), kept.substr(cut), 0600); !s.ok()) return s;
    (void)WriteFileAtomically(dir_ + "/alerts.seen",
                              std::to_string(seen > kMaxAlerts / 2 ? seen - kMaxAlerts / 2 : 0),
                              0600);
    (void)WriteFileAtomically(dir_ + "/alerts.dropped", std::to_string(dropped + kMaxAlerts / 2),
                              0600);
  }
  const std::string line = AlertToJson(a) + "\n";
  const int fd = open(path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("opening " + path(), errno);
  const bool ok = WriteAll(fd, line.data(), line.size());
  close(fd);
  return ok ? Status::Ok() : ErrnoStatus("writing " + path(), errno);
}

Result<AlertLog::Contents> AlertLog::Read() const {
  std::lock_guard lock(mu_);
  Contents c;
  const std::string text = ReadFileOrEmpty(path());
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    auto a = AlertFromJson(std::string_view(text).substr(at, end - at));
    if (a.ok()) c.alerts.push_back(std::move(a.value()));
    at = end + 1;
  }
  c.seen = std::min<uint64_t>(
      std::strtoull(ReadFileOrEmpty(dir_ + "/alerts.seen").c_str(), nullptr, 10), c.alerts.size());
  c.dropped = std::strtoull(ReadFileOrEmpty(dir_ + "/alerts.dropped").c_str(), nullptr, 10);
  return c;
}

uint64_t AlertLog::Unseen() const {
  const std::string text = ReadFileOrEmpty(path());
  const uint64_t lines = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
  const uint64_t seen = std::strtoull(ReadFileOrEmpty(dir_ + "/alerts.seen").c_str(), nullptr, 10);
  return lines > seen ? lines - seen : 0;
}

Status AlertLog::MarkSeen(uint64_t count) {
  std::lock_guard lock(mu_);
  return WriteFileAtomically(dir_ + "/alerts.seen", std::to_string(count), 0600);
}

Tripwire::Tripwire(std::vector<Decoy> decoys, std::shared_ptr<AlertLog> log, NotifyFn notify)
    : index_(std::make_shared<DecoyIndex>(std::move(decoys))),
      log_(std::move(log)),
      notify_(std::move(notify)) {}

bool Tripwire::RaiseFileRead(const std::string& path, int32_t pid, const std::string& command,
                             const std::string& exec_id) {
  // The tool each file is for, by the first word of its command line.
  const std::string tool = command.substr(0, command.find(' '));
  const std::string base = tool.substr(tool.rfind('/') + 1);
  bool any = false;
  for (const auto& d : index_->decoys()) {
    if (d.where.rfind("~/", 0) != 0) continue;
    const std::string tail = d.where.substr(1);  // "/.npmrc"
    if (path.size() <= tail.size() ||
        path.compare(path.size() - tail.size(), tail.size(), tail) != 0 ||
        (path.rfind("/home/", 0) != 0 && path.rfind("/root/", 0) != 0)) {
      continue;
    }
    any = true;
    static const std::pair<const char*, std::vector<std::string>> kOwners[] = {
        {"/.npmrc", {"npm", "npx"}},
        {"/.config/gh/hosts.yml", {"gh"}},
        {"/.git-credentials", {"git", "git-credential-store"}},
        {"/.aws/credentials", {"aws"}},
        {"/.ssh/id_ed25519", {"ssh", "ssh-add", "ssh-keygen", "scp", "sftp"}}};
    bool owner = false;
    for (const auto& [file, tools] : kOwners) {
      if (tail == file) owner = std::find(tools.begin(), tools.end(), base) != tools.end();
    }
    if (owner) continue;
    Alert a;
    a.decoy = d.kind;
    a.where = d.where;
    a.channel = "file-read";
    a.target = path;
    a.detail = "opened in the guest (the agent's fanotify report; best effort)";
    a.pid = pid;
    a.command = index_->Redact(command);
    a.exec_id = exec_id;
    Raise(std::move(a));
  }
  return any;
}

void Tripwire::Raise(Alert a) {
  {
    // At most kAlertsPerMinute written and told a minute (a guest that
    // loops on a decoy fills no disk); the rest are only counted.
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_ > std::chrono::minutes(1)) {
      if (quiet_ > 0) {
        Log("tripwire: " + std::to_string(quiet_) + " more alerts in the last minute, not kept");
      }
      window_ = now;
      raised_ = 0;
      quiet_ = 0;
    }
    if (++raised_ > kAlertsPerMinute) {
      ++quiet_;
      return;
    }
  }
  a.time = net::NowRfc3339Millis();
  const std::string line = AlertLine(a);
  Log("tripwire: " + line);
  if (log_) (void)log_->Append(a);
  if (notify_ && !a.exec_id.empty()) {
    notify_(a.exec_id, "workspace: ALERT: " + AlertLine(a, true) +
                           " (a decoy credential: something read it and tried to send it; "
                           "see `workspace alerts`)");
  }
}

}  // namespace ws::tripwire
