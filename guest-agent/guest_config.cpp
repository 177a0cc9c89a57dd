#include "guest-agent/guest_config.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "guest-agent/init.h"
#include "guest-agent/node_fetch_proxy.h"
#include "guest-agent/proxy.h"
#include "host/common/atomic_file.h"
#include "host/registry/apt_sources.h"

namespace ws::agent {
namespace {

constexpr char kHeader[] = "Written by the workspace agent at each boot; edits are lost.";
// node bundles its own CA list: npm is pointed at the system's, which holds
// the CA certificates the image took from the host.
constexpr char kNpmCa[] = "cafile=/etc/ssl/certs/ca-certificates.crt\n";

// A git config value in double quotes.
std::string GitQuote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& text) { WriteIfChanged(path, text); }

void ChownTree(const std::string& dir, uid_t uid, gid_t gid) {
  std::error_code ec;
  lchown(dir.c_str(), uid, gid);
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    lchown(it->path().c_str(), uid, gid);
  }
}

}  // namespace

// The share's .git is the host's and read-only (the host's git must never
// read or run what the guest wrote). So that git works in the guest, a git
// directory of the guest's own, on its disk, is mounted over it: made once
// from the host's HEAD, refs, index and config (never its hooks), borrowing
// the host's objects through alternates from a read-only view of the host's
// .git at /run/workspace/host-git/GUEST_PATH. The guest's commits stay there
// (also reached as /run/workspace/guest-git/GUEST_PATH) until the user takes
// them with `workspace git fetch`.
void SetUpGuestGit(const std::string& tag, const std::string& share) {
  struct stat st {};
  const std::string host_git = share + "/.git";
  if (access("/usr/bin/git", X_OK) != 0 || stat(host_git.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return;
  const std::string view = "/run/workspace/host-git" + share;
  MakeDirs(view);
  if (mount(host_git.c_str(), view.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      mount(nullptr, view.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr) != 0) {
    return (void)std::fprintf(stderr, "workspace-agent: git view of %s: %s\n", share.c_str(),
                              std::strerror(errno));
  }
  const std::string mine = "/var/lib/workspace/git/" + tag;
  std::error_code ec;
  if (!fs::exists(mine + "/HEAD", ec)) {
    const std::string tmp = mine + ".new";
    fs::remove_all(tmp, ec);
    MakeDirs(tmp + "/objects/info");
    MakeDirs(tmp + "/refs/heads");
    MakeDirs(tmp + "/refs/tags");
    MakeDirs(tmp + "/info");
    for (const char* f :
         {"HEAD", "config", "description", "packed-refs", "index", "info/exclude"}) {
      fs::copy_file(view + "/" + f, tmp + "/" + f, fs::copy_options::overwrite_existing, ec);
    }
    fs::copy(view + "/refs", tmp + "/refs",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    std::ofstream(tmp + "/objects/info/alternates") << view << "/objects\n";
    ChownTree(tmp, 1000, 1000);
    fs::rename(tmp, mine, ec);
    if (ec)
      return (void)std::fprintf(stderr, "workspace-agent: guest git dir %s: %s\n", mine.c_str(),
                                ec.message().c_str());
  }
  // Where `workspace git fetch` finds it, mounted or not.
  const std::string link = "/run/workspace/guest-git" + share;
  MakeDirs(fs::path(link).parent_path().string());
  fs::create_directory_symlink(mine, link, ec);
  if (mount(mine.c_str(), host_git.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    std::fprintf(stderr, "workspace-agent: mount guest git dir on %s: %s\n", host_git.c_str(),
                 std::strerror(errno));
  }
}

void WriteIfChanged(const std::string& path, const std::string& text) {
  if (ReadFileOrEmpty(path) == text) return;
  std::ofstream f(path, std::ios::trunc);
  f << text;
  if (!f) std::fprintf(stderr, "workspace-agent: cannot write %s\n", path.c_str());
}

void WriteGuestHostName(const std::string& host) {
  // sudo and friends look the host name up.
  Write("/etc/hostname", host + "\n");
  Write("/etc/hosts", std::string("# ") + kHeader + "\n127.0.0.1\tlocalhost\n127.0.1.1\t" + host +
                          "\n::1\tlocalhost ip6-localhost ip6-loopback\n");
}

void WriteGitConfig(const std::string& name, const std::string& email, bool proxied) {
  const std::string proxy = "http://127.0.0.1:" + std::to_string(kProxyPort);
  std::string git = std::string("# ") + kHeader + "\n";
  if (!name.empty() || !email.empty()) {
    git += "[user]\n";
    if (!name.empty()) git += "\tname = " + GitQuote(name) + "\n";
    if (!email.empty()) git += "\temail = " + GitQuote(email) + "\n";
  }
  // Shares belong to the guest user; root (sudo git) may use them too.
  git += "[safe]\n\tdirectory = *\n";
  if (proxied) git += "[http]\n\tproxy = " + proxy + "\n";
  Write("/etc/gitconfig", git);
}

void ConfigureGuest(NetMode net_mode) {
  const std::string proxy = "http://127.0.0.1:" + std::to_string(kProxyPort);
  const bool proxied = net_mode != NetMode::kOpen;
  const char* files[] = {"/etc/apt/apt.conf.d/80workspace-proxy", "/etc/npmrc", "/etc/pip.conf",
                         "/etc/profile.d/workspace-proxy.sh"};
  if (proxied) {
    // The mirrors the image's sources name go to the host's apt endpoint
    // (cached on the host); any other http source through the proxy.
    std::string apt = std::string("// ") + kHeader + "\nAcquire::http::Proxy \"" + proxy +
                      "\";\nAcquire::https::Proxy \"" + proxy + "\";\n";
    for (const auto& host : registry::AptSourceHosts(registry::AptSourceFiles())) {
      apt += "Acquire::http::Proxy::" + host.substr(0, host.find(':')) +
             " \"http://127.0.0.1:" + std::to_string(kRegistryPort) + "/\";\n";
    }
    Write(files[0], apt);
    // The host's npm endpoint (http on the agent channel: no TLS for the
    // emulated CPU to do); lockfiles naming registry.npmjs.org are fetched
    // from it too (npm's replace-registry-host).
    Write(files[1], std::string("# ") + kHeader + "\nregistry=http://127.0.0.1:" +
                        std::to_string(kRegistryPort) + "/npm/\nproxy=" + proxy +
                        "\nhttps-proxy=" + proxy + "\nnoproxy=localhost,127.0.0.1\n" + kNpmCa);
    // pip's index is the host's PyPI endpoint too; pip sends it through the
    // proxy (its proxy setting wins over no_proxy), which hands it on.
    Write(files[2], std::string("# ") + kHeader + "\n[global]\nproxy = " + proxy +
                        "\nindex-url = http://127.0.0.1:" + std::to_string(kRegistryPort) +
                        "/pypi/simple/\ntrusted-host = 127.0.0.1:" + std::to_string(kRegistryPort) +
                        "\n");
    std::string sh = std::string("# ") + kHeader + "\n";
    for (const char* k : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"}) {
      sh += std::string("export ") + k + "=" + proxy + "\n";
    }
    MakeDirs(fs::path(kNodeFetchProxyPath).parent_path().string());
    Write(kNodeFetchProxyPath, kNodeFetchProxyScript);
    Write(files[3], sh + "export no_proxy=localhost,127.0.0.1 NO_PROXY=localhost,127.0.0.1\n" +
                        "export NODE_USE_ENV_PROXY=1\nif [ -r " + kNodeFetchProxyPath +
                        " ]; then export NODE_OPTIONS=\"${NODE_OPTIONS:+$NODE_OPTIONS }--require=" +
                        kNodeFetchProxyPath + "\"; fi\n");
  } else {
    for (const char* f : files) std::remove(f);
    Write(files[1], std::string("# ") + kHeader + "\n" + kNpmCa);
  }
}

}  // namespace ws::agent
