#include "guest-agent/host_settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>

#include "host/common/atomic_file.h"

namespace ws::agent {
namespace {

std::mutex mu;
std::vector<std::string> host_env;  // guarded by mu

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
    if (Status s = WriteFileAtomically(kWorkspaceCaFile, ca_pem, 0644); !s.ok()) return s;
    // The image's bundle is kept aside once; each call rebuilds from it.
    struct stat st;
    if (lstat(kBundleOriginal, &st) != 0 && lstat(kSystemBundle, &st) == 0 && S_ISREG(st.st_mode)) {
      if (Status s = WriteFileAtomically(kBundleOriginal, ReadFileOrEmpty(kSystemBundle), 0644);
          !s.ok())
        return s;
    }
    std::string bundle = ReadFileOrEmpty(kBundleOriginal);
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    if (Status s = WriteFileAtomically(kSystemBundle, bundle + ca_pem, 0644); !s.ok()) return s;
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
