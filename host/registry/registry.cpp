#include "host/registry/registry.h"

#include <cpptoml.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <semaphore>
#include <sstream>

#include "host/registry/apt_sources.h"
#include "host/registry/http.h"
#include "host/registry/npm.h"
#include "host/registry/pypi.h"
#include "host/registry/registry_internal.h"

namespace ws::registry {

namespace internal {

std::counting_semaphore<64> packument_slots(4);

bool PrintableAscii(const std::string& s, size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Sends a cached entry: the head, then the file.
bool SendEntry(int fd, const Entry& e, bool keep_alive, bool head_only, uint64_t* sent) {
  unique_fd f(open(e.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return WriteText(fd, 503, "the cache entry went away; try again", keep_alive, head_only);
  struct stat st {};
  fstat(f.get(), &st);
  Headers h = {
      {"Content-Type", e.content_type.empty() ? "application/octet-stream" : e.content_type}};
  if (!e.etag.empty()) h["ETag"] = e.etag;
  if (!WriteResponse(fd, 200, h, {}, keep_alive, true, static_cast<uint64_t>(st.st_size)))
    return false;
  if (head_only) return true;
  char buf[256 * 1024];
  for (;;) {
    ssize_t n = read(f.get(), buf, sizeof buf);
    if (n <= 0) return n == 0;
    if (!WriteAll(fd, std::string_view(buf, static_cast<size_t>(n)))) return false;
    *sent += static_cast<uint64_t>(n);
  }
}

}  // namespace internal

using namespace internal;

namespace {

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

std::string WithSlash(std::string s) { return s.empty() || s.back() == '/' ? s : s + "/"; }

// HTTPS only: over plain http the integrity the index states proves nothing.
Result<std::string> CheckUpstream(const std::string& url, const std::string& where) {
  auto u = ParseUrl(url);
  if (!u.ok()) return Status(Code::kInvalidArgument, where + ": " + u.status().message());
  if (!u->tls) return Status(Code::kInvalidArgument, where + ": '" + url + "' is not https://");
  return WithSlash(url);
}

}  // namespace

Result<Config> LoadConfig(const std::string& path, const std::string& host_npmrc,
                          const std::string& host_pip_conf) {
  Config c;
  bool npm_set = false, pypi_set = false, apt_set = false;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    std::shared_ptr<cpptoml::table> t;
    try {
      t = cpptoml::parse_file(path);
    } catch (const cpptoml::parse_exception& e) {
      return Status(Code::kInvalidArgument, path + ": " + e.what());
    }
    // [TABLE] upstream = "URL", checked.
    auto upstream = [&](const char* table, std::string* out, bool* set) -> Status {
      auto tab = t->get_table(table);
      if (!tab) return Status::Ok();
      if (auto v = tab->get_as<std::string>("upstream")) {
        auto u = CheckUpstream(*v, path + " [" + table + "] upstream");
        if (!u.ok()) return u.status();
        *out = u.value();
        *set = true;
      }
      if (auto v = tab->get_as<std::string>("ca_file")) c.ca_file = *v;
      return Status::Ok();
    };
    if (Status s = upstream("npm", &c.npm_upstream, &npm_set); !s.ok()) return s;
    if (Status s = upstream("pypi", &c.pypi_upstream, &pypi_set); !s.ok()) return s;
    if (auto v = t->get_as<std::string>("ca_file")) c.ca_file = *v;
    if (auto apt = t->get_table("apt")) {
      auto hosts = apt->get_array_of<std::string>("hosts");
      if (!hosts)
        return Status(Code::kInvalidArgument, path + ": [apt] hosts must be a list of host names");
      for (const auto& h : *hosts) {
        std::string lower;
        for (unsigned char ch : h) lower += static_cast<char>(tolower(ch));
        if (lower.empty() || lower.find_first_of("/@ ") != std::string::npos) {
          return Status(Code::kInvalidArgument,
                        path + ": [apt] hosts: '" + h + "' is not host[:port]");
        }
        c.apt_hosts.insert(lower);
      }
      apt_set = true;
    }
    if (auto cache = t->get_table("cache")) {
      if (auto v = cache->get_as<int64_t>("max_mib")) {
        if (*v <= 0)
          return Status(Code::kInvalidArgument, path + ": [cache] max_mib must be positive");
        c.cache_max_bytes = static_cast<uint64_t>(*v) << 20;
      }
    }
  }
  // The host's own tool configuration: KEY=URL lines (an http:// one ignored).
  auto host_setting = [](const std::string& file, const std::string& key, std::string* out) {
    std::ifstream f(file);
    for (std::string line; std::getline(f, line);) {
      auto eq = line.find('=');
      if (eq == std::string::npos || Trim(line.substr(0, eq)) != key) continue;
      auto u = CheckUpstream(Trim(line.substr(eq + 1)), file + " " + key);
      if (u.ok()) *out = u.value();
    }
  };
  if (!npm_set) host_setting(host_npmrc, "registry", &c.npm_upstream);
  if (!pypi_set) host_setting(host_pip_conf, "index-url", &c.pypi_upstream);
  if (!apt_set) c.apt_hosts = AptSourceHosts(AptSourceFiles());
  return c;
}

Registry::Registry(std::string cache_root, std::string config_path)
    : cache_root_(std::move(cache_root)), config_path_(std::move(config_path)) {}

std::shared_ptr<const Registry::Current> Registry::Settings() {
  struct stat st {};
  const int64_t mtime = stat(config_path_.c_str(), &st) == 0
                            ? st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec
                            : 0;
  std::lock_guard lock(mu_);
  if (current_ && mtime == config_mtime_) return current_;
  auto cur = std::make_shared<Current>();
  auto c = LoadConfig(config_path_, "/etc/npmrc", "/etc/pip.conf");
  if (!c.ok()) {
    cur->error = c.status().message();
  } else {
    cur->config = c.value();
    auto up = Upstream::Make(cur->config.ca_file);
    if (up.ok())
      cur->upstream = up.value();
    else
      cur->error = up.status().message();
  }
  config_mtime_ = mtime;
  current_ = cur;
  return current_;
}

Result<Config> Registry::CurrentConfig() {
  auto cur = Settings();
  if (!cur->error.empty()) return Status(Code::kFailedPrecondition, cur->error);
  return cur->config;
}

Cache& Registry::CacheOf(uid_t owner, const Config& config) {
  std::lock_guard lock(mu_);
  auto& c = caches_[owner];
  if (!c)
    c = std::make_unique<Cache>(cache_root_ + "/" + std::to_string(owner), config.cache_max_bytes);
  return *c;
}

void Registry::Serve(unique_fd conn, uid_t owner,
                     const std::function<void(const Served&)>& on_served) {
  timeval tv{kIdleSeconds, 0};
  setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buffer;
  for (;;) {
    auto req = ReadRequest(conn.get(), &buffer);
    if (!req.ok()) {
      if (req.status().code() == Code::kInvalidArgument) {
        WriteText(conn.get(), 400, req.status().message(), false);
        Served s;
        s.status = 400;
        s.reason = req.status().message();
        on_served(s);
      }
      return;
    }
    bool keep_alive = req->keep_alive;
    const auto t0 = Clock::now();
    Served s;
    try {
      s = Handle(conn.get(), req.value(), owner, &keep_alive);
    } catch (const std::exception& e) {
      // What an upstream sent broke a parser or a writer: this request fails, not the daemon.
      s.method = req->method;
      s.path = req->path.substr(0, 512);
      s.status = 502;
      s.reason = std::string("internal error: ") + e.what();
      WriteText(conn.get(), 502, "the endpoint could not handle the upstream's answer", false);
    }
    s.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    on_served(s);
    // A refused or failed request ends the connection: a guest cannot pipe
    // an endless run of cheap errors (each an audit line) through one.
    if (!keep_alive || (s.status >= 400 && !s.keep_open)) return;
  }
}

Served Registry::Handle(int fd, const Request& req, uid_t owner, bool* keep_alive) {
  Served s;
  s.method = req.method;
  s.path = req.path.substr(0, 512);
  if (req.path.rfind("/npm/", 0) == 0) s.endpoint = "npm";
  if (req.path.rfind("/pypi/", 0) == 0) s.endpoint = "pypi";
  if (req.method != "GET" && req.method != "HEAD") {
    // The body is never read: not a byte of an upload goes anywhere.
    *keep_alive = false;
    s.status = 405;
    s.reason = "read-only endpoint";
    WriteText(fd, 405,
              req.method +
                  " is refused: the package registry endpoints are read-only (GET and HEAD). "
                  "Publish from the host, not from a workspace",
              false);
    return s;
  }
  if (req.has_body) {
    *keep_alive = false;
    s.status = 400;
    s.reason = "a request body";
    WriteText(fd, 400, "a GET or HEAD with a body is refused", false);
    return s;
  }
  auto cur = Settings();
  if (!cur->error.empty()) {
    s.status = 503;
    s.reason = "configuration: " + cur->error;
    WriteText(
        fd, 503,
        "the host's registry configuration is unusable (" + cur->error + "); ask the host's admin",
        *keep_alive, req.method == "HEAD");
    return s;
  }
  // A client that sends the endpoint its own address in absolute form (pip,
  // through the guest's proxy, on a kept connection) asks the endpoint.
  const std::string self_port = ":" + std::to_string(kGuestPort);
  const bool self = req.authority.empty() || req.authority == "127.0.0.1" + self_port ||
                    req.authority == "localhost" + self_port;
  Cache& cache = CacheOf(owner, cur->config);
  std::optional<Served> served;
  if (!self) {
    served = ServeApt(fd, req, cache, *cur, *keep_alive);
  } else if (req.path.rfind("/pypi/", 0) == 0) {
    served = ServePypi(fd, req, req.path.substr(6), cache, *cur, *keep_alive);
  } else if (req.path.rfind("/npm/", 0) == 0) {
    served = ServeNpm(fd, req, req.path.substr(5), cache, *cur, *keep_alive);
  } else if (auto p = ParseNpmPath(req.path.substr(1)); p.ok() && !p->file.empty()) {
    // A lockfile's https://registry.npmjs.org/NAME/-/FILE.tgz, as npm's
    // replace-registry-host sends it (the registry's /npm/ dropped).
    served = ServeNpm(fd, req, req.path.substr(1), cache, *cur, *keep_alive);
  }
  if (served) {
    served->method = req.method;
    served->path = ((self ? "" : "http://" + req.authority) + req.path).substr(0, 512);
    return *served;
  }
  s.status = 404;
  s.reason = "no endpoint";
  WriteText(fd, 404,
            "no registry endpoint at " + req.path.substr(0, 200) + "; npm's is " + kGuestNpmUrl +
                ", PyPI's " + kGuestPypiUrl,
            *keep_alive, req.method == "HEAD");
  return s;
}

}  // namespace ws::registry
