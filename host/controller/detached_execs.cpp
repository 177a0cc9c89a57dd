#include "host/controller/detached_execs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include "host/common/printable.h"
#include "host/common/time_format.h"
#include "host/common/unique_fd.h"

namespace ws::controller {
namespace {

std::string NewId() {
  unsigned char b[6] = {};
  unique_fd fd(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (fd) (void)!read(fd.get(), b, sizeof b);
  char out[13];
  for (int i = 0; i < 6; ++i) std::snprintf(out + 2 * i, 3, "%02x", b[i]);
  return out;
}

// Appends to the log, moving it to .1 once it passes the cap.
class Log {
 public:
  explicit Log(std::string path) : path_(std::move(path)) { Open(); }
  void Write(std::string_view d) {
    if (!fd_) return;
    if (written_ + d.size() > kDetachedLogCap) {
      std::rename(path_.c_str(), (path_ + ".1").c_str());
      Open();
      if (!fd_) return;
    }
    if (WriteAll(fd_.get(), d.data(), d.size())) written_ += d.size();
  }

 private:
  void Open() {
    fd_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    written_ = 0;
  }
  std::string path_;
  unique_fd fd_;
  size_t written_ = 0;
};

// The workspace's name, from its key (NAME@UUID).
std::string Shown(const std::string& key) { return key.substr(0, key.find('@')); }

Status NoSuch(const std::string& key, const std::string& id) {
  return {Code::kNotFound, "'" + Shown(key) + "' has no detached command " +
                               Printable(id.substr(0, 64)) + " (see: workspace ps " + Shown(key) +
                               ")"};
}

}  // namespace

Result<std::string> DetachedExecs::Start(const std::string& workspace, uint32_t owner,
                                         std::shared_ptr<guest::GuestAgent> agent,
                                         guest::RunSpec spec, const std::string& log_dir) {
  auto e = std::make_shared<Entry>();
  {
    std::lock_guard lock(s_->mu);
    size_t owners = 0;
    for (const auto& [key, l] : s_->execs) {
      owners += std::count_if(l.begin(), l.end(),
                              [&](const auto& x) { return x->info.running && x->owner == owner; });
    }
    if (owners >= kMaxDetachedPerOwner) {
      return Status(Code::kResourceExhausted,
                    "you run " + std::to_string(owners) +
                        " detached commands already (the most one user may); end some "
                        "with: workspace kill NAME ID");
    }
    auto& list = s_->execs[workspace];
    size_t running =
        std::count_if(list.begin(), list.end(), [](const auto& x) { return x->info.running; });
    if (running >= kMaxDetachedRunning) {
      return Status(Code::kResourceExhausted,
                    "'" + Shown(workspace) + "' runs " + std::to_string(running) +
                        " detached commands already (the most there may be); end one "
                        "with: workspace kill " +
                        Shown(workspace) + " ID");
    }
    // Forget the oldest ended ones past the bound (and their logs).
    for (size_t ended = list.size() - running; ended >= kMaxDetachedKept;) {
      auto it =
          std::find_if(list.begin(), list.end(), [](const auto& x) { return !x->info.running; });
      if (it == list.end()) break;
      std::error_code ec;
      std::filesystem::remove((*it)->log_path, ec);
      std::filesystem::remove((*it)->log_path + ".1", ec);
      list.erase(it);
      --ended;
    }
    e->info.id = NewId();
    e->info.argv = spec.argv;
    e->info.started_unix = std::time(nullptr);
    e->info.started_at = NowRfc3339();
    e->info.running = true;
    e->owner = owner;
    e->log_path = log_dir + "/" + e->info.id + ".log";
    list.push_back(e);
  }
  // Not its parents: a workspace destroyed meanwhile gets no folder back.
  (void)mkdir(log_dir.c_str(), 0700);
  std::thread t;
  try {
    t = std::thread([shared = s_, e, agent, spec = std::move(spec)]() mutable {
      Run(shared, e, agent, std::move(spec));
    });
  } catch (const std::system_error&) {
    std::lock_guard lock(s_->mu);
    e->info.running = false;
    e->info.error = "no thread to run it";
    return Status(Code::kResourceExhausted,
                  "the daemon cannot start another thread now; try again");
  }
  t.detach();
  return e->info.id;
}

void DetachedExecs::Run(std::shared_ptr<Shared> shared, std::shared_ptr<Entry> e,
                        std::shared_ptr<guest::GuestAgent> agent, guest::RunSpec spec) {
  Log log(e->log_path);
  auto r = agent->Run(
      spec, [&](std::string_view d) { log.Write(d); }, [&] { return e->cancel.load(); });
  std::lock_guard lock(shared->mu);
  e->info.running = false;
  if (e->cancel) {
    e->info.killed = true;
  } else if (r.ok()) {
    e->info.exit_code = r->code;
  } else {
    e->info.error = r.status().message();
  }
}

std::vector<DetachedInfo> DetachedExecs::List(const std::string& workspace) {
  std::lock_guard lock(s_->mu);
  std::vector<DetachedInfo> out;
  auto it = s_->execs.find(workspace);
  if (it == s_->execs.end()) return out;
  for (const auto& e : it->second) out.push_back(e->info);
  return out;
}

std::shared_ptr<DetachedExecs::Entry> DetachedExecs::FindLocked(const std::string& workspace,
                                                                const std::string& id) {
  auto it = s_->execs.find(workspace);
  if (it == s_->execs.end()) return nullptr;
  for (const auto& e : it->second) {
    if (e->info.id == id) return e;
  }
  return nullptr;
}

Status DetachedExecs::Kill(const std::string& workspace, const std::string& id) {
  std::lock_guard lock(s_->mu);
  auto e = FindLocked(workspace, id);
  if (!e) return NoSuch(workspace, id);
  e->cancel = true;
  return Status::Ok();
}

Result<std::string> DetachedExecs::LogPath(const std::string& workspace, const std::string& id) {
  std::lock_guard lock(s_->mu);
  auto e = FindLocked(workspace, id);
  if (!e) return NoSuch(workspace, id);
  return e->log_path;
}

bool DetachedExecs::Running(const std::string& workspace, const std::string& id) {
  std::lock_guard lock(s_->mu);
  auto e = FindLocked(workspace, id);
  return e && e->info.running;
}

void DetachedExecs::Forget(const std::string& workspace) {
  std::lock_guard lock(s_->mu);
  auto it = s_->execs.find(workspace);
  if (it == s_->execs.end()) return;
  for (const auto& e : it->second) e->cancel = true;
  s_->execs.erase(it);
}

}  // namespace ws::controller
