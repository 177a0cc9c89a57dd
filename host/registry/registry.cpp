#include "host/registry/registry.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <semaphore>
#include <cpptoml.h>
#include <fstream>
#include <optional>
#include <sstream>

#include "host/registry/http.h"
#include "host/registry/apt_sources.h"
#include "host/registry/npm.h"
#include "host/registry/pypi.h"

namespace ws::registry {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kFreshSeconds = 300;               // a packument younger than this is not revalidated
constexpr uint64_t kMaxPackument = 128ull << 20;
// Packuments are held and parsed in memory (several times their size while
// parsed): at most this many at once, whatever the guests ask.
std::counting_semaphore<64> packument_slots(4);
constexpr uint64_t kMaxTarball = 1ull << 30;
constexpr int kIdleSeconds = 120;                    // a guest connection with no request for this long ends
constexpr char kCorgi[] = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

bool PrintableAscii(const std::string& s, size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string WithSlash(std::string s) { return s.empty() || s.back() == '/' ? s : s + "/"; }

// HTTPS only: over plain http the integrity the index states proves nothing.
Result<std::string> CheckUpstream(const std::string& url, const std::string& where) {
  auto u = ParseUrl(url);
  if (!u.ok()) return Status(Code::kInvalidArgument, where + ": " + u.status().message());
  if (!u->tls) return Status(Code::kInvalidArgument, where + ": '" + url + "' is not https://");
  return WithSlash(url);
}

// Sends a cached entry: the head, then the file.
bool SendEntry(int fd, const Entry& e, bool keep_alive, bool head_only, uint64_t* sent) {
  unique_fd f(open(e.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return WriteText(fd, 503, "the cache entry went away; try again", keep_alive, head_only);
  struct stat st{};
  fstat(f.get(), &st);
  Headers h = {{"Content-Type", e.content_type.empty() ? "application/octet-stream" : e.content_type}};
  if (!e.etag.empty()) h["ETag"] = e.etag;
  if (!WriteResponse(fd, 200, h, {}, keep_alive, true, static_cast<uint64_t>(st.st_size))) return false;
  if (head_only) return true;
  char buf[256 * 1024];
  for (;;) {
    ssize_t n = read(f.get(), buf, sizeof buf);
    if (n <= 0) return n == 0;
    if (!WriteAll(fd, std::string_view(buf, static_cast<size_t>(n)))) return false;
    *sent += static_cast<uint64_t>(n);
  }
}

// Appends to a file as a body arrives.
struct FileSink {
  unique_fd fd;
  bool Write(std::string_view d) {
    while (!d.empty()) {
      ssize_t n = write(fd.get(), d.data(), d.size());
      if (n <= 0) return false;
      d.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
};

}  // namespace

Result<Config> LoadConfig(const std::string& path, const std::string& host_npmrc, const std::string& host_pip_conf) {
  Config c;
  bool npm_set = false, pypi_set = false, apt_set = false;
  struct stat st{};
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
      if (!hosts) return Status(Code::kInvalidArgument, path + ": [apt] hosts must be a list of host names");
      for (const auto& h : *hosts) {
        std::string lower;
        for (unsigned char ch : h) lower += static_cast<char>(tolower(ch));
        if (lower.empty() || lower.find_first_of("/@ ") != std::string::npos) {
          return Status(Code::kInvalidArgument, path + ": [apt] hosts: '" + h + "' is not host[:port]");
        }
        c.apt_hosts.insert(lower);
      }
      apt_set = true;
    }
    if (auto cache = t->get_table("cache")) {
      if (auto v = cache->get_as<int64_t>("max_mib")) {
        if (*v <= 0) return Status(Code::kInvalidArgument, path + ": [cache] max_mib must be positive");
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
  struct stat st{};
  const int64_t mtime = stat(config_path_.c_str(), &st) == 0 ? st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : 0;
  std::lock_guard lock(mu_);
  if (current_ && mtime == config_mtime_) return current_;
  auto cur = std::make_shared<Current>();
  auto c = LoadConfig(config_path_, "/etc/npmrc", "/etc/pip.conf");
  if (!c.ok()) {
    cur->error = c.status().message();
  } else {
    cur->config = c.value();
    auto up = Upstream::Make(cur->config.ca_file);
    if (up.ok()) cur->upstream = up.value();
    else cur->error = up.status().message();
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
  if (!c) c = std::make_unique<Cache>(cache_root_ + "/" + std::to_string(owner), config.cache_max_bytes);
  return *c;
}

void Registry::Serve(unique_fd conn, uid_t owner, const std::function<void(const Served&)>& on_served) {
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
    s.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
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
    WriteText(fd, 405, req.method + " is refused: the package registry endpoints are read-only (GET and HEAD). "
                       "Publish from the host, not from a workspace", false);
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
    WriteText(fd, 503, "the host's registry configuration is unusable (" + cur->error + "); ask the host's admin",
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
  WriteText(fd, 404, "no registry endpoint at " + req.path.substr(0, 200) + "; npm's is " + kGuestNpmUrl +
                         ", PyPI's " + kGuestPypiUrl,
            *keep_alive, req.method == "HEAD");
  return s;
}

namespace {

// What ServeNpm and ServePypi share: answering from an entry, and the two
// ways an entry is filled.
struct Reply {
  int fd;
  const Request& req;
  bool keep_alive;
  Served& s;
  Served Fail(int status, const std::string& why) {
    s.status = status;
    s.reason = why;
    WriteText(fd, status, why, keep_alive, req.method == "HEAD");
    return s;
  }
  Served Send(const Entry& e, const std::string& how) {
    s.cache = how;
    auto inm = req.headers.find("if-none-match");
    if (inm != req.headers.end() && !e.etag.empty() && inm->second == e.etag) {
      s.status = 304;
      WriteResponse(fd, 304, {{"ETag", e.etag}}, {}, keep_alive, true, 0);
      return s;
    }
    s.status = 200;
    SendEntry(fd, e, keep_alive, req.method == "HEAD", &s.bytes);
    return s;
  }
  // A body made here rather than read from the cache (PyPI's HTML page).
  Served SendBody(const std::string& body, const std::string& content_type, const std::string& how) {
    s.cache = how;
    s.status = 200;
    WriteResponse(fd, 200, {{"Content-Type", content_type}}, body, keep_alive, req.method == "HEAD", body.size());
    if (req.method != "HEAD") s.bytes = body.size();
    return s;
  }
};

int HttpStatusOf(const Status& st) { return st.code() == Code::kNotFound ? 404 : 502; }

// A metadata document (an npm packument, a PyPI project page): served from
// the cache while younger than kFreshSeconds, then fetched again with its
// ETag (a 304 keeps the cached one; an upstream that cannot be reached
// leaves the cached one served, "stale"). `rewrite` turns the upstream's
// body into what is stored, filling the entry's note.
Result<Entry> Document(Cache& cache, Upstream& upstream, const std::string& key, const std::string& url,
                       const std::string& accept, const std::string& what,
                       const std::function<Result<std::string>(const std::string&, Entry*)>& rewrite,
                       std::string* how) {
  auto have = cache.Find(key);
  if (have && time(nullptr) - have->fetched < kFreshSeconds) {
    *how = "hit";
    return *have;
  }
  bool not_modified = false;
  auto filled = cache.Fill(key, [&](const std::string& tmp, Entry* e) -> Status {
    Headers h = {{"Accept", accept}};
    if (have && !have->etag.empty()) h["If-None-Match"] = have->etag;
    if (!cache.index_slots.try_acquire_for(std::chrono::seconds(30))) {
      return Status(Code::kUnavailable, "your workspaces are fetching other indexes; try again");
    }
    struct ReleaseMine {
      Cache& c;
      ~ReleaseMine() { c.index_slots.release(); }
    } mine{cache};
    if (!packument_slots.try_acquire_for(std::chrono::seconds(30))) {
      return Status(Code::kUnavailable, "the host is busy fetching other indexes; try again");
    }
    struct Release {
      ~Release() { packument_slots.release(); }
    } release;
    std::string body;
    auto r = upstream.Fetch("GET", url, h, kMaxPackument, [&](std::string_view d) {
      body.append(d);
      return true;
    });
    if (!r.ok()) return r.status();
    if (r->status == 304 && have) {
      not_modified = true;
      return Status(Code::kAlreadyExists, "not modified");
    }
    if (r->status == 404) return Status(Code::kNotFound, "no " + what + " at " + url);
    if (r->status != 200) return Status(Code::kUnavailable, url + " answered " + std::to_string(r->status));
    auto stored = rewrite(body, e);
    if (!stored.ok()) return Status(Code::kUnavailable, url + ": " + stored.status().message());
    FileSink out{unique_fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))};
    if (!out.fd || !out.Write(stored.value())) return Status(Code::kInternal, "writing the cache");
    if (auto etag = r->headers.find("etag"); etag != r->headers.end() && PrintableAscii(etag->second, 256)) {
      e->etag = etag->second;
    }
    return Status::Ok();
  });
  if (filled.ok()) {
    *how = "miss";
    return filled;
  }
  if (not_modified || (have && filled.status().code() == Code::kUnavailable)) {
    cache.Touch(key);
    *how = not_modified ? "revalidated" : "stale";
    return *have;
  }
  return filled.status();
}

// A file checked against `integrity` as it is written; kept only when it
// matches (an empty integrity: the client checks, as apt does). Files never
// change under one name: a cached one is served as is.
Result<Entry> VerifiedFile(Cache& cache, Upstream& upstream, const std::string& key, const std::string& url,
                           const std::string& integrity, const std::string& what, std::string* how) {
  if (auto e = cache.Find(key)) {
    *how = "hit";
    return *e;
  }
  *how = "miss";
  return cache.Fill(key, [&](const std::string& tmp, Entry* e) -> Status {
    IntegrityCheck check(integrity);
    if (!integrity.empty() && !check.usable()) {
      return Status(Code::kFailedPrecondition, "the hash '" + integrity.substr(0, 80) + "' stated for " + what +
                                                   " is not one the endpoint checks");
    }
    FileSink out{unique_fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))};
    if (!out.fd) return Status(Code::kInternal, "writing the cache");
    auto r = upstream.Fetch("GET", url, {}, kMaxTarball, [&](std::string_view d) {
      check.Update(d);
      return out.Write(d);
    });
    if (!r.ok()) return r.status();
    if (r->status == 404) return Status(Code::kNotFound, "no " + what + " at " + url);
    if (r->status != 200) return Status(Code::kUnavailable, url + " answered " + std::to_string(r->status));
    if (!integrity.empty() && !check.Matches()) {
      return Status(Code::kFailedPrecondition, what + " from " + url +
                                                   " does not match the integrity its index states; not served");
    }
    e->content_type = "application/octet-stream";
    return Status::Ok();
  });
}

}  // namespace

Served Registry::ServeNpm(int fd, const Request& req, const std::string& rest, Cache& cache, const Current& cur,
                          bool keep_alive) {
  Served s;
  s.endpoint = "npm";
  Reply reply{fd, req, keep_alive, s};
  auto path = ParseNpmPath(rest);
  if (!path.ok()) {
    return reply.Fail(404, "the npm endpoint serves packages and their tarballs only (" + path.status().message() + ")");
  }
  const std::string& up = cur.config.npm_upstream;
  Upstream& upstream = *cur.upstream;
  auto packument = [&](const NpmPath& p, bool corgi, std::string* how) {
    return Document(cache, upstream, "npm|" + up + "|" + (corgi ? "corgi|" : "full|") + p.name,
                    NpmUpstreamUrl(up, p), corgi ? kCorgi : "application/json", "package '" + p.name + "'",
                    [&](const std::string& body, Entry* e) {
                      e->content_type = "application/json";
                      return RewritePackument(body, up, kLockfileNpmUrl, &e->note);
                    },
                    how);
  };
  std::string how;
  if (path->file.empty()) {
    const auto accept = req.headers.find("accept");
    const bool corgi = accept != req.headers.end() &&
                       accept->second.find("application/vnd.npm.install-v1+json") != std::string::npos;
    auto e = packument(path.value(), corgi, &how);
    if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
    return reply.Send(e.value(), how);
  }
  const std::string key = "npm|" + up + "|tarball|" + path->name + "/-/" + path->file;
  if (auto e = cache.Find(key)) return reply.Send(*e, "hit");
  // The integrity the packument states; the corgi one first (what npm install asked for).
  std::string integrity;
  for (bool corgi : {true, false}) {
    auto meta = cache.Find("npm|" + up + "|" + (corgi ? "corgi|" : "full|") + path->name);
    if (meta) integrity = IntegrityFor(meta->note, path.value());
    if (!integrity.empty()) break;
  }
  if (integrity.empty()) {
    auto meta = packument(NpmPath{path->name, ""}, true, &how);
    if (!meta.ok()) return reply.Fail(HttpStatusOf(meta.status()), meta.status().message());
    integrity = IntegrityFor(meta->note, path.value());
  }
  if (integrity.empty()) {
    return reply.Fail(404, "package '" + path->name + "' lists no tarball " + path->file + " with an integrity");
  }
  auto e = VerifiedFile(cache, upstream, key, NpmUpstreamUrl(up, path.value()), integrity,
                        "the tarball " + path->name + "/-/" + path->file, &how);
  if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
  return reply.Send(e.value(), how);
}

Served Registry::ServePypi(int fd, const Request& req, const std::string& rest, Cache& cache, const Current& cur,
                           bool keep_alive) {
  Served s;
  s.endpoint = "pypi";
  Reply reply{fd, req, keep_alive, s};
  const std::string& up = cur.config.pypi_upstream;
  Upstream& upstream = *cur.upstream;
  // simple/PROJECT/ or files/PROJECT/PATH...
  std::string kind = rest.substr(0, rest.find('/'));
  std::string after = rest.size() > kind.size() ? rest.substr(kind.size() + 1) : "";
  std::string name = after.substr(0, after.find('/'));
  auto project = NormalizePypiName(name);
  if ((kind != "simple" && kind != "files") || !project.ok()) {
    return reply.Fail(404, "the PyPI endpoint serves project pages (simple/PROJECT/) and their files only");
  }
  auto index = [&](std::string* how) {
    const std::string url = up + project.value() + "/";
    return Document(cache, upstream, "pypi|" + up + "|index|" + project.value(), url,
                    "application/vnd.pypi.simple.v1+json", "project '" + project.value() + "'",
                    [&](const std::string& body, Entry* e) -> Result<std::string> {
                      e->content_type = "application/vnd.pypi.simple.v1+json";
                      auto page = RewritePypiIndex(body, project.value(), url, kGuestPypiFilesUrl);
                      if (!page.ok()) return page.status();
                      e->note = page->files;
                      return page->json;
                    },
                    how);
  };
  std::string how;
  if (kind == "simple") {
    if (after != name && after != name + "/") return reply.Fail(404, "not a project page");
    auto e = index(&how);
    if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
    const auto accept = req.headers.find("accept");
    if (accept != req.headers.end() && accept->second.find("application/vnd.pypi.simple.v1+json") != std::string::npos) {
      return reply.Send(e.value(), how);
    }
    std::ifstream f(e->path);
    std::stringstream page;
    page << f.rdbuf();
    return reply.SendBody(PypiHtml(page.str(), project.value()), "text/html; charset=utf-8", how);
  }
  const std::string local = project.value() + after.substr(name.size());
  const std::string key = "pypi|" + up + "|file|" + local;
  if (auto e = cache.Find(key)) return reply.Send(*e, "hit");
  auto page = index(&how);
  if (!page.ok()) return reply.Fail(HttpStatusOf(page.status()), page.status().message());
  PypiFile file = PypiFileFor(page->note, local);
  if (file.sha256.empty()) return reply.Fail(404, "project '" + project.value() + "' lists no such file");
  auto e = VerifiedFile(cache, upstream, key, file.upstream, "sha256hex-" + file.sha256, "the file " + local, &how);
  if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
  return reply.Send(e.value(), how);
}

// apt, asking the endpoint as a proxy (GET http://MIRROR/PATH): only the
// mirrors the host's configuration names, fetched over https. apt checks
// every file against its signed Release itself; the host checks what the
// path states (by-hash/SHA256/HEX) and keeps pool files, which never change
// under one name, and indexes for kFreshSeconds.
Served Registry::ServeApt(int fd, const Request& req, Cache& cache, const Current& cur, bool keep_alive) {
  Served s;
  s.endpoint = "apt";
  Reply reply{fd, req, keep_alive, s};
  if (!cur.config.apt_hosts.count(req.authority)) {
    return reply.Fail(404, "the apt endpoint serves the host's apt mirrors only, not " + req.authority.substr(0, 100));
  }
  if (!SafeUrlPath(req.path) || !req.query.empty()) return reply.Fail(404, "not an apt repository path");
  const std::string url = "https://" + req.authority + req.path;
  const std::string key = "apt|" + url;
  std::string how;
  std::string integrity;
  if (auto at = req.path.find("/by-hash/SHA256/"); at != std::string::npos) {
    integrity = "sha256hex-" + req.path.substr(at + 16);
  }
  const bool immutable = !integrity.empty() || req.path.find("/pool/") != std::string::npos;
  if (immutable) {
    auto e = VerifiedFile(cache, *cur.upstream, key, url, integrity, "the file " + req.path.substr(0, 200), &how);
    s.keep_open = !e.ok() && e.status().code() == Code::kNotFound;
    if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
    return reply.Send(e.value(), how);
  }
  auto e = Document(cache, *cur.upstream, key, url, "*/*", "file",
                    [](const std::string& body, Entry* entry) -> Result<std::string> {
                      entry->content_type = "application/octet-stream";
                      return body;
                    },
                    &how);
  s.keep_open = !e.ok() && e.status().code() == Code::kNotFound;
  if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
  return reply.Send(e.value(), how);
}

}  // namespace ws::registry
