// The registry's npm, PyPI and apt endpoints: answering a request from
// the cache, filling it from the upstream first when it must.
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
#include "host/registry/registry.h"
#include "host/registry/registry_internal.h"

namespace ws::registry {

using namespace internal;

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
  Served SendBody(const std::string& body, const std::string& content_type,
                  const std::string& how) {
    s.cache = how;
    s.status = 200;
    WriteResponse(fd, 200, {{"Content-Type", content_type}}, body, keep_alive, req.method == "HEAD",
                  body.size());
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
Result<Entry> Document(
    Cache& cache, Upstream& upstream, const std::string& key, const std::string& url,
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
    if (r->status != 200)
      return Status(Code::kUnavailable, url + " answered " + std::to_string(r->status));
    auto stored = rewrite(body, e);
    if (!stored.ok()) return Status(Code::kUnavailable, url + ": " + stored.status().message());
    FileSink out{unique_fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))};
    if (!out.fd || !out.Write(stored.value())) return Status(Code::kInternal, "writing the cache");
    if (auto etag = r->headers.find("etag");
        etag != r->headers.end() && PrintableAscii(etag->second, 256)) {
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
Result<Entry> VerifiedFile(Cache& cache, Upstream& upstream, const std::string& key,
                           const std::string& url, const std::string& integrity,
                           const std::string& what, std::string* how) {
  if (auto e = cache.Find(key)) {
    *how = "hit";
    return *e;
  }
  *how = "miss";
  return cache.Fill(key, [&](const std::string& tmp, Entry* e) -> Status {
    IntegrityCheck check(integrity);
    if (!integrity.empty() && !check.usable()) {
      return Status(Code::kFailedPrecondition, "the hash '" + integrity.substr(0, 80) +
                                                   "' stated for " + what +
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
    if (r->status != 200)
      return Status(Code::kUnavailable, url + " answered " + std::to_string(r->status));
    if (!integrity.empty() && !check.Matches()) {
      return Status(
          Code::kFailedPrecondition,
          what + " from " + url + " does not match the integrity its index states; not served");
    }
    e->content_type = "application/octet-stream";
    return Status::Ok();
  });
}

}  // namespace

Served Registry::ServeNpm(int fd, const Request& req, const std::string& rest, Cache& cache,
                          const Current& cur, bool keep_alive) {
  Served s;
  s.endpoint = "npm";
  Reply reply{fd, req, keep_alive, s};
  auto path = ParseNpmPath(rest);
  if (!path.ok()) {
    return reply.Fail(404, "the npm endpoint serves packages and their tarballs only (" +
                               path.status().message() + ")");
  }
  const std::string& up = cur.config.npm_upstream;
  Upstream& upstream = *cur.upstream;
  auto packument = [&](const NpmPath& p, bool corgi, std::string* how) {
    return Document(
        cache, upstream, "npm|" + up + "|" + (corgi ? "corgi|" : "full|") + p.name,
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
    const bool corgi =
        accept != req.headers.end() &&
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
    return reply.Fail(
        404, "package '" + path->name + "' lists no tarball " + path->file + " with an integrity");
  }
  auto e = VerifiedFile(cache, upstream, key, NpmUpstreamUrl(up, path.value()), integrity,
                        "the tarball " + path->name + "/-/" + path->file, &how);
  if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
  return reply.Send(e.value(), how);
}

Served Registry::ServePypi(int fd, const Request& req, const std::string& rest, Cache& cache,
                           const Current& cur, bool keep_alive) {
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
    return reply.Fail(
        404, "the PyPI endpoint serves project pages (simple/PROJECT/) and their files only");
  }
  auto index = [&](std::string* how) {
    const std::string url = up + project.value() + "/";
    return Document(
        cache, upstream, "pypi|" + up + "|index|" + project.value(), url,
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
    if (accept != req.headers.end() &&
        accept->second.find("application/vnd.pypi.simple.v1+json") != std::string::npos) {
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
  if (file.sha256.empty())
    return reply.Fail(404, "project '" + project.value() + "' lists no such file");
  auto e = VerifiedFile(cache, upstream, key, file.upstream, "sha256hex-" + file.sha256,
                        "the file " + local, &how);
  if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
  return reply.Send(e.value(), how);
}

// apt, asking the endpoint as a proxy (GET http://MIRROR/PATH): only the
// mirrors the host's configuration names, fetched over https. apt checks
// every file against its signed Release itself; the host checks what the
// path states (by-hash/SHA256/HEX) and keeps pool files, which never change
// under one name, and indexes for kFreshSeconds.
Served Registry::ServeApt(int fd, const Request& req, Cache& cache, const Current& cur,
                          bool keep_alive) {
  Served s;
  s.endpoint = "apt";
  Reply reply{fd, req, keep_alive, s};
  if (!cur.config.apt_hosts.count(req.authority)) {
    return reply.Fail(404, "the apt endpoint serves the host's apt mirrors only, not " +
                               req.authority.substr(0, 100));
  }
  if (!SafeUrlPath(req.path) || !req.query.empty())
    return reply.Fail(404, "not an apt repository path");
  const std::string url = "https://" + req.authority + req.path;
  const std::string key = "apt|" + url;
  std::string how;
  std::string integrity;
  if (auto at = req.path.find("/by-hash/SHA256/"); at != std::string::npos) {
    integrity = "sha256hex-" + req.path.substr(at + 16);
  }
  const bool immutable = !integrity.empty() || req.path.find("/pool/") != std::string::npos;
  if (immutable) {
    auto e = VerifiedFile(cache, *cur.upstream, key, url, integrity,
                          "the file " + req.path.substr(0, 200), &how);
    s.keep_open = !e.ok() && e.status().code() == Code::kNotFound;
    if (!e.ok()) return reply.Fail(HttpStatusOf(e.status()), e.status().message());
    return reply.Send(e.value(), how);
  }
  auto e = Document(
      cache, *cur.upstream, key, url, "*/*", "file",
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
