// Registry: the package registry endpoints the host serves its guests
// (http://127.0.0.1:3129/npm/ and /pypi/simple/ in the guest, carried on
// the agent channel).
// It answers GET and HEAD only, from one cache per user, fetching from the
// upstream registry the host's configuration names — never from anything
// in a share or the guest. Nothing the guest sends reaches an upstream:
// every upstream request is made anew from a path the endpoint checked, so
// the endpoints carry nothing out.
//
// Configuration: WORKSPACE_REGISTRY_CONFIG (default
// /etc/workspace/registries.toml), read again when it changes:
//   ca_file = "PEM"                                    (extra trust anchors)
//   [npm]   upstream = "https://registry.npmjs.org/"
//   [pypi]  upstream = "https://pypi.org/simple/"
//   [apt]   hosts = ["deb.debian.org"]   (default: the host's apt sources)
//   [cache] max_mib = 10240
// Without an upstream there, the host's /etc/npmrc `registry=` or
// /etc/pip.conf `index-url`, else the public registry. Thread-safe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "host/common/unique_fd.h"
#include "host/registry/cache.h"
#include "host/registry/upstream.h"

namespace ws::registry {

inline constexpr uint16_t kGuestPort = 3129;
inline constexpr char kGuestNpmUrl[] = "http://127.0.0.1:3129/npm/";
// Tarball URLs in the packuments the endpoint serves: the public registry's,
// whatever the upstream, so lockfiles written in a share hold the URLs any
// machine can use. npm fetches them from the endpoint all the same: its
// replace-registry-host (default "npmjs") turns https://registry.npmjs.org/P
// into http://127.0.0.1:3129/P, which the endpoint serves as /npm/P.
inline constexpr char kLockfileNpmUrl[] = "https://registry.npmjs.org/";
inline constexpr char kGuestPypiUrl[] = "http://127.0.0.1:3129/pypi/simple/";
// Where the PyPI endpoint offers a project's files: PROJECT/PATH-OF-THE-UPSTREAM-URL.
inline constexpr char kGuestPypiFilesUrl[] = "http://127.0.0.1:3129/pypi/files/";

// One request served, for the audit log.
struct Served {
  std::string method;
  std::string endpoint;  // "npm", or "" for a path no endpoint serves
  std::string path;
  int status = 0;
  std::string cache;   // "hit", "miss", "revalidated", "stale", or ""
  std::string reason;  // why it was refused or failed
  uint64_t bytes = 0;  // body bytes sent to the guest
  int64_t duration_ms = 0;
  // An upstream's 404 that leaves the connection open (apt pipelines its
  // requests and expects some to be missing); other failures close it.
  bool keep_open = false;
};

struct Config {
  std::string npm_upstream = "https://registry.npmjs.org/";
  std::string pypi_upstream = "https://pypi.org/simple/";  // a PEP 691 (JSON) simple index
  // The apt mirrors ("host[:port]") the apt endpoint serves, over https;
  // default: those the host's own apt sources name.
  std::set<std::string> apt_hosts;
  std::string ca_file;
  uint64_t cache_max_bytes = kDefaultCacheBytes;
};
// Reads the configuration file (absent: the defaults); host_npmrc and
// host_pip_conf are the host's own, consulted for `registry=` and
// `index-url` when the file names no upstream.
Result<Config> LoadConfig(const std::string& path, const std::string& host_npmrc,
                          const std::string& host_pip_conf);

class Registry {
 public:
  // cache_root: STATE/cache; each user's cache is cache_root/UID.
  Registry(std::string cache_root, std::string config_path);

  // Serves HTTP requests on `conn` until the guest closes it. Runs on the
  // caller's thread.
  void Serve(unique_fd conn, uid_t owner, const std::function<void(const Served&)>& on_served);

  // The user's cache, made on first use with the bound `config` gives.
  Cache& CacheOf(uid_t owner, const Config& config);
  // The configuration in force (re-read when its file changed), or why it is unusable.
  Result<Config> CurrentConfig();

 private:
  struct Current {
    Config config;
    std::shared_ptr<Upstream> upstream;
    std::string error;  // why the configuration cannot be used
  };
  std::shared_ptr<const Current> Settings();
  Served Handle(int fd, const struct Request& req, uid_t owner, bool* keep_alive);
  Served ServeNpm(int fd, const struct Request& req, const std::string& rest, Cache& cache,
                  const Current& cur, bool keep_alive);
  Served ServePypi(int fd, const struct Request& req, const std::string& rest, Cache& cache,
                   const Current& cur, bool keep_alive);
  Served ServeApt(int fd, const struct Request& req, Cache& cache, const Current& cur,
                  bool keep_alive);

  const std::string cache_root_;
  const std::string config_path_;
  std::mutex mu_;
  std::shared_ptr<const Current> current_;          // guarded by mu_
  int64_t config_mtime_ = -1;                       // guarded by mu_
  std::map<uid_t, std::unique_ptr<Cache>> caches_;  // guarded by mu_
};

}  // namespace ws::registry
