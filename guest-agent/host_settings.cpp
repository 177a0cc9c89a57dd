#include "guest-agent/host_settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>

#include "guest-agent/decoy_reads.h"
#include "guest-agent/users.h"
#include "host/common/atomic_file.h"
#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

std::mutex mu;
std::vector<std::string> host_env;  // guarded by mu

// Written only when it would change (a diff of the disk stays quiet).
Status WriteIfChanged(const std::string& path, const std::string& text, mode_t mode) {
  if (ReadFileOrEmpty(path) == text) return Status::Ok();
  return WriteFileAtomically(path, text, mode);
}

constexpr char kBundleOriginal[] = "/etc/ssl/certs/ca-certificates.crt.workspace-original";

}  // namespace

Status ApplyHostSettings(const std::string& ca_pem, std::vector<std::string> env) {
  std::lock_guard lock(mu);
  if (ca_pem.empty()) {
    unlink(kWorkspaceCaFile);
    if (access(kBundleOriginal, F_OK) == 0) rename(kBundleOriginal, kSystemBundle);
  } else {
    mkdir("/etc/ssl", 0755);
    mkdir("/etc/ssl/certs", 0755);
    if (Status s = WriteIfChanged(kWorkspaceCaFile, ca_pem, 0644); !s.ok()) return s;
    // The image's bundle is kept aside once; each call rebuilds from it.
    struct stat st;
    if (lstat(kBundleOriginal, &st) != 0 && lstat(kSystemBundle, &st) == 0 && S_ISREG(st.st_mode)) {
      if (Status s = WriteFileAtomically(kBundleOriginal, ReadFileOrEmpty(kSystemBundle), 0644);
          !s.ok())
        return s;
    }
    std::string bundle = ReadFileOrEmpty(kBundleOriginal);
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    if (Status s = WriteIfChanged(kSystemBundle, bundle + ca_pem, 0644); !s.ok()) return s;
    env.push_back(std::string("NODE_EXTRA_CA_CERTS=") + kWorkspaceCaFile);
    for (const char* k : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}) {
      env.push_back(std::string(k) + "=" + kSystemBundle);
    }
  }
  host_env = std::move(env);
  return Status::Ok();
}

Status PlantHomeFiles(const std::vector<HomeFile>& files) {
  if (files.empty()) return Status::Ok();
  auto user = LookupUser("");
  if (!user.ok()) return user.status();
  unique_fd home(open(user->home.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!home) return ErrnoStatus("the home " + user->home, errno);
  std::vector<std::string> watched;  // ours: planted now or before (the same bytes)
  for (const auto& f : files) {
    // Down the path from the home, never through a link.
    unique_fd dir(dup(home.get()));
    std::string rest = f.path;
    bool ok = true;
    for (size_t slash; ok && (slash = rest.find('/')) != std::string::npos;) {
      const std::string part = rest.substr(0, slash);
      rest = rest.substr(slash + 1);
      if (mkdirat(dir.get(), part.c_str(), 0700) == 0) {
        (void)fchownat(dir.get(), part.c_str(), user->uid, user->gid, AT_SYMLINK_NOFOLLOW);
      }
      unique_fd next(
          openat(dir.get(), part.c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC));
      ok = static_cast<bool>(next);
      dir = std::move(next);
    }
    if (!ok) continue;  // something else is there: left as it is
    unique_fd out(openat(dir.get(), rest.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f.mode & 0777));
    if (!out) {  // already there: planted before (watched), or the user's own (left alone)
      if (ReadFileOrEmpty(user->home + "/" + f.path) == f.content) {
        watched.push_back(user->home + "/" + f.path);
      }
      continue;
    }
    watched.push_back(user->home + "/" + f.path);
    if (!WriteAll(out.get(), f.content.data(), f.content.size())) {
      return ErrnoStatus("writing ~/" + f.path, errno);
    }
    (void)fchown(out.get(), user->uid, user->gid);
    (void)fchmod(out.get(), f.mode & 0777);
  }
  WatchDecoyReads(watched);
  return Status::Ok();
}

std::vector<std::string> HostEnv() {
  std::lock_guard lock(mu);
  return host_env;
}

}  // namespace ws::agent
