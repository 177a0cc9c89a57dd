#include "guest-agent/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "guest-agent/guest_config.h"
#include "guest-agent/init.h"
#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

std::mutex mu;
std::vector<boot::ShareMount> mounted;  // guarded by mu

bool Printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
}

// Mixes the host's bytes into the input pool (credited) and makes the
// kernel's generator reseed from it now: what either clone of a template
// reads from /dev/urandom (and the boot_id, made at its first read) from
// here on depends on bytes the other never saw. Debian's cloud kernel
// has no vmgenid driver, so this is what reseeds a restored guest.
void Reseed(const std::string& bytes) {
  if (bytes.empty()) return;
  unique_fd fd(open("/dev/urandom", O_WRONLY | O_CLOEXEC));
  if (!fd)
    return (void)std::fprintf(stderr, "workspace-agent: /dev/urandom: %s\n", std::strerror(errno));
  std::vector<char> buf(sizeof(rand_pool_info) + bytes.size());
  auto* info = reinterpret_cast<rand_pool_info*>(buf.data());
  info->entropy_count = static_cast<int>(bytes.size() * 8);
  info->buf_size = static_cast<int>(bytes.size());
  std::memcpy(info->buf, bytes.data(), bytes.size());
  if (ioctl(fd.get(), RNDADDENTROPY, info) != 0 || ioctl(fd.get(), RNDRESEEDCRNG) != 0) {
    std::fprintf(stderr, "workspace-agent: reseeding: %s\n", std::strerror(errno));
  }
}

void SetClock(int64_t unix_ns) {
  if (unix_ns <= 0) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t ours = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec;
  if (std::llabs(ours - unix_ns) < 500'000'000) return;  // close enough: no jump
  timespec t{static_cast<time_t>(unix_ns / 1000000000), static_cast<long>(unix_ns % 1000000000)};
  if (clock_settime(CLOCK_REALTIME, &t) != 0) {
    std::fprintf(stderr, "workspace-agent: setting the clock: %s\n", std::strerror(errno));
  }
}

// Mounts one share, waiting up to `wait` for its device (a share
// hot-plugged a moment ago is probed in the background).
Status MountShare(const boot::ShareMount& sh, std::chrono::milliseconds wait) {
  MakeDirs(sh.guest_path);
  const unsigned long flags = MS_NOSUID | MS_NODEV | (sh.read_only ? MS_RDONLY : 0);
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (mount(sh.tag.c_str(), sh.guest_path.c_str(), "virtiofs", flags, nullptr) == 0) {
      return Status::Ok();
    }
    const int err = errno;
    // virtiofs says EINVAL for a tag no device has (yet).
    if ((err != EINVAL && err != ENOENT) || std::chrono::steady_clock::now() >= until) {
      return Status(Code::kInternal, "mounting share " + sh.guest_path + ": " + std::strerror(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Identity BootIdentity() {
  const auto& b = Boot();
  Identity id;
  id.hostname = b.name;
  id.git_name = b.git_name;
  id.git_email = b.git_email;
  id.shares = b.shares;
  return id;
}

Status CheckIdentity(const Identity& id) {
  auto bad = [](const std::string& what) {
    return Status(Code::kInvalidArgument, "identity: " + what);
  };
  if (id.hostname.size() > 63 ||
      id.hostname.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string::npos)
    return bad("a host name that is not a workspace name");
  if (!id.machine_id.empty() &&
      (id.machine_id.size() != 32 ||
       id.machine_id.find_first_not_of("0123456789abcdef") != std::string::npos))
    return bad("a machine-id that is not 32 hex digits");
  if (id.git_name.size() > 128 || id.git_email.size() > 128 || !Printable(id.git_name) ||
      !Printable(id.git_email))
    return bad("a git identity over its bounds");
  if (id.shares.size() > 64) return bad("more than 64 shares");
  for (const auto& sh : id.shares) {
    if (sh.tag.empty() || sh.tag.size() > 36 || !Printable(sh.tag) || sh.guest_path.size() < 2 ||
        sh.guest_path.size() > 4096 || sh.guest_path[0] != '/' || !Printable(sh.guest_path) ||
        sh.guest_path.find("/../") != std::string::npos || sh.guest_path.ends_with("/.."))
      return bad("a share that is not a tag and an absolute path");
  }
  if (id.entropy.size() > 512) return bad("more than 512 bytes of entropy");
  return Status::Ok();
}

Status ApplyIdentity(const Identity& id) {
  if (Status s = CheckIdentity(id); !s.ok()) return s;
  std::lock_guard lock(mu);
  SetClock(id.unix_time_ns);
  Reseed(id.entropy);
  if (!id.hostname.empty()) {
    if (sethostname(id.hostname.c_str(), id.hostname.size()) != 0) {
      std::fprintf(stderr, "workspace-agent: hostname %s: %s\n", id.hostname.c_str(),
                   std::strerror(errno));
    }
    WriteGuestHostName(id.hostname);
  }
  if (!id.machine_id.empty()) WriteIfChanged("/etc/machine-id", id.machine_id + "\n");
  WriteGitConfig(id.git_name, id.git_email, Boot().net != NetMode::kOpen);
  Status first_error;
  for (const auto& sh : id.shares) {
    const bool done = std::any_of(mounted.begin(), mounted.end(), [&](const auto& m) {
      return m.tag == sh.tag || m.guest_path == sh.guest_path;
    });
    if (done) continue;
    Status s = MountShare(sh, std::chrono::seconds(15));
    if (!s.ok()) {
      std::fprintf(stderr, "workspace-agent: %s\n", s.message().c_str());
      if (first_error.ok()) first_error = s;
      continue;
    }
    mounted.push_back(sh);
    if (!sh.read_only) SetUpGuestGit(sh.tag, sh.guest_path);
  }
  return first_error;
}

std::vector<boot::ShareMount> MountedShares() {
  std::lock_guard lock(mu);
  return mounted;
}

}  // namespace ws::agent
