#include "guest-agent/host_settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>

namespace ws::agent {
namespace {

std::mutex mu;
std::vector<std::string> host_env;  // guarded by mu

constexpr char kBundleOriginal[] = "/etc/ssl/certs/ca-certificates.crt.workspace-original";

std::string ReadAll(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `path` whole (temporary file, rename), mode 0644.
Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".workspace-tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return ErrnoStatus("writing " + tmp, errno);
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("writing " + path, err);
  }
  return Status::Ok();
}

}  // namespace

Status ApplyHostSettings(const std::string& ca_pem, std::vector<std::string> env) {
  std::lock_guard lock(mu);
  if (ca_pem.empty()) {
    unlink(kWorkspaceCaFile);
    if (access(kBundleOriginal, F_OK) == 0) rename(kBundleOriginal, kSystemBundle);
  } else {
    mkdir("/etc/ssl", 0755);
    mkdir("/etc/ssl/certs", 0755);
    if (Status s = WriteWhole(kWorkspaceCaFile, ca_pem); !s.ok()) return s;
    // The image's bundle is kept aside once; each call rebuilds from it.
    struct stat st;
    if (lstat(kBundleOriginal, &st) != 0 && lstat(kSystemBundle, &st) == 0 && S_ISREG(st.st_mode)) {
      if (Status s = WriteWhole(kBundleOriginal, ReadAll(kSystemBundle)); !s.ok()) return s;
    }
    std::string bundle = ReadAll(kBundleOriginal);
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    if (Status s = WriteWhole(kSystemBundle, bundle + ca_pem); !s.ok()) return s;
    env.push_back(std::string("NODE_EXTRA_CA_CERTS=") + kWorkspaceCaFile);
    for (const char* k : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}) {
      env.push_back(std::string(k) + "=" + kSystemBundle);
    }
  }
  host_env = std::move(env);
  return Status::Ok();
}

std::vector<std::string> HostEnv() {
  std::lock_guard lock(mu);
  return host_env;
}

}  // namespace ws::agent
