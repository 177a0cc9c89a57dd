// The registry endpoints' pure parts: npm paths, packument rewriting,
// integrity checks, the request reader, the cache's bound and single fetch.
#include "host/registry/registry.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/registry/apt_sources.h"
#include "host/registry/cache.h"
#include "host/registry/http.h"
#include "host/registry/npm.h"
#include "host/registry/pypi.h"
#include "host/registry/upstream.h"

namespace ws::registry {
namespace {

namespace fs = std::filesystem;

TEST(NpmPath, PackumentsAndTarballsOnly) {
  EXPECT_EQ(ParseNpmPath("express")->name, "express");
  EXPECT_EQ(ParseNpmPath("@types%2fnode")->name, "@types/node");
  EXPECT_EQ(ParseNpmPath("@types/node")->name, "@types/node");
  auto t = ParseNpmPath("@types/node/-/node-20.1.0.tgz");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name, "@types/node");
  EXPECT_EQ(t->file, "node-20.1.0.tgz");
  for (const char* bad :
       {"", "-/v1/search", "..", "../etc/passwd", "express/-/../x.tgz", "express/-/x.tar",
        "express/extra", "@/x", "a b", "express/-/.tgz", "%2e%2e", "x/-/y.tgz/z"}) {
    EXPECT_FALSE(ParseNpmPath(bad).ok()) << bad;
  }
  EXPECT_EQ(NpmUpstreamUrl("https://r.example/", ParseNpmPath("@types/node").value()),
            "https://r.example/@types%2fnode");
  EXPECT_EQ(NpmUpstreamUrl("https://r.example/", *t),
            "https://r.example/@types/node/-/node-20.1.0.tgz");
}

TEST(NpmPackument, TarballsUnderTheUpstreamPointAtTheEndpointWithTheirIntegrity) {
  const std::string up = "https://r.example/";
  const std::string doc = R"({"name":"a","versions":{
    "1.0.0":{"dist":{"tarball":"https://r.example/a/-/a-1.0.0.tgz","integrity":"sha512-AAAA"}},
    "1.0.1":{"dist":{"tarball":"http://r.example/a/-/a-1.0.1.tgz","shasum":"0123456789abcdef0123456789abcdef01234567"}},
    "2.0.0":{"dist":{"tarball":"https://elsewhere.example/a-2.0.0.tgz","integrity":"sha512-BBBB"}},
    "3.0.0":{"dist":{"tarball":"https://r.example/a/-/a-3.0.0.tgz"}}}})";
  std::string index;
  auto out = RewritePackument(doc, up, kLockfileNpmUrl, &index);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find("\"https://registry.npmjs.org/a/-/a-1.0.0.tgz\""), std::string::npos) << *out;
  EXPECT_NE(out->find("\"https://registry.npmjs.org/a/-/a-1.0.1.tgz\""), std::string::npos) << *out;
  EXPECT_NE(out->find("https://elsewhere.example/a-2.0.0.tgz"), std::string::npos)
      << "left where it is";
  EXPECT_NE(out->find("https://r.example/a/-/a-3.0.0.tgz"), std::string::npos)
      << "no integrity: not served by us";
  EXPECT_EQ(IntegrityFor(index, ParseNpmPath("a/-/a-1.0.0.tgz").value()), "sha512-AAAA");
  EXPECT_EQ(IntegrityFor(index, ParseNpmPath("a/-/a-1.0.1.tgz").value()),
            "sha1hex-0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(IntegrityFor(index, ParseNpmPath("a/-/a-3.0.0.tgz").value()), "");
  EXPECT_FALSE(RewritePackument("<html>", up, kLockfileNpmUrl, &index).ok());
}

TEST(NpmPackument, AnUpstreamCannotNestItDeepEnoughToBreakTheDaemon) {
  std::string deep =
      R"({"versions":{"1.0.0":{"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}}}";
  std::string index;
  EXPECT_FALSE(RewritePackument(deep, "https://r.example/", kLockfileNpmUrl, &index).ok());
  EXPECT_FALSE(JsonTooDeep(
      R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["})", 64))
      << "brackets in strings do not count";
  const std::string bad_integrity =
      R"({"versions":{"1":{"dist":{"tarball":"https://r.example/a/-/a-1.tgz","integrity":"sha512-\u0001x"}}}})";
  ASSERT_TRUE(RewritePackument(bad_integrity, "https://r.example/", kLockfileNpmUrl, &index).ok());
  EXPECT_EQ(index, "") << "an integrity with control characters is not listed";
}

TEST(NpmIntegrity, TheStrongestHashDecides) {
  // printf hello | openssl dgst -sha512 -binary | base64; sha1 hex likewise.
  const std::string sha512 =
      "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/"
      "3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";
  const std::string sha1 = "sha1hex-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
  for (const std::string& i : {sha512, sha1, "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00= " + sha512}) {
    IntegrityCheck ok(i);
    ASSERT_TRUE(ok.usable()) << i;
    ok.Update("hel");
    ok.Update("lo");
    EXPECT_TRUE(ok.Matches()) << i;
    IntegrityCheck bad(i);
    bad.Update("hellO");
    EXPECT_FALSE(bad.Matches()) << i;
  }
  // A strong hash that does not match is not saved by a weak one that does.
  IntegrityCheck mixed(
      "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00= "
      "sha512-"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
      "=");
  mixed.Update("hello");
  EXPECT_FALSE(mixed.Matches());
  EXPECT_FALSE(IntegrityCheck("md5-XUFAKrxLKna5cZ2REBfFkg==").usable());
}

TEST(Pypi, NamesAreNormalizedAndFilesGoThroughTheEndpointWithTheirHash) {
  EXPECT_EQ(NormalizePypiName("Foo.Bar__baz").value(), "foo-bar-baz");
  for (const char* bad : {"", "..", "a/b", "-a", "a b", "a%2fb"})
    EXPECT_FALSE(NormalizePypiName(bad).ok()) << bad;
  const std::string sha = std::string(64, 'a');
  const std::string page = R"({"meta":{"api-version":"1.0"},"name":"requests","files":[
    {"filename":"requests-2.0-py3-none-any.whl","url":"https://files.example/packages/ab/cd/requests-2.0-py3-none-any.whl",
     "hashes":{"sha256":")" +
                           sha + R"("},"requires-python":">=3.7","core-metadata":{"sha256":"x"}},
    {"filename":"requests-1.0.tar.gz","url":"../../packages/requests-1.0.tar.gz#sha256=x","hashes":{"sha256":")" +
                           sha + R"("}},
    {"filename":"nohash.tar.gz","url":"https://files.example/packages/nohash.tar.gz","hashes":{}},
    {"filename":"evil.tar.gz","url":"https://files.example/packages/../../etc/passwd","hashes":{"sha256":")" +
                           sha + R"("}}]})";
  auto r = RewritePypiIndex(page, "requests", "https://pypi.example/simple/requests/",
                            kGuestPypiFilesUrl);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->json.find("\"http://127.0.0.1:3129/pypi/files/requests/packages/ab/cd/"
                         "requests-2.0-py3-none-any.whl\""),
            std::string::npos)
      << r->json;
  EXPECT_EQ(r->json.find("core-metadata"), std::string::npos)
      << "pip reads metadata from the wheel";
  EXPECT_EQ(r->json.find("nohash"), std::string::npos) << "a file without a sha256 is left out";
  EXPECT_EQ(r->json.find("evil"), std::string::npos);
  auto f = PypiFileFor(r->files, "requests/packages/ab/cd/requests-2.0-py3-none-any.whl");
  EXPECT_EQ(f.sha256, sha);
  EXPECT_EQ(f.upstream, "https://files.example/packages/ab/cd/requests-2.0-py3-none-any.whl");
  EXPECT_EQ(PypiFileFor(r->files, "requests/packages/requests-1.0.tar.gz").upstream,
            "https://pypi.example/packages/requests-1.0.tar.gz")
      << "relative URLs resolve against the page";
  EXPECT_TRUE(
      PypiFileFor(r->files, "other/packages/ab/cd/requests-2.0-py3-none-any.whl").sha256.empty());
  const std::string html = PypiHtml(r->json, "requests");
  EXPECT_NE(html.find("<a "
                      "href=\"http://127.0.0.1:3129/pypi/files/requests/packages/ab/cd/"
                      "requests-2.0-py3-none-any.whl#sha256=" +
                      sha + "\" data-requires-python=\"&gt;=3.7\">"),
            std::string::npos)
      << html;
  EXPECT_FALSE(
      RewritePypiIndex("<html></html>", "requests", "https://x/", kGuestPypiFilesUrl).ok());
}

// A request sent down one end of a socket pair, read from the other.
Result<Request> Read(const std::string& wire, std::string* rest = nullptr) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  (void)!write(sv[0], wire.data(), wire.size());
  shutdown(sv[0], SHUT_WR);
  std::string buffer;
  auto r = ReadRequest(sv[1], &buffer);
  if (rest) *rest = buffer;
  close(sv[0]);
  close(sv[1]);
  return r;
}

TEST(RegistryHttp, ReadsOneRequestAndKeepsWhatFollows) {
  std::string rest;
  auto r =
      Read("GET /npm/a?x=1 HTTP/1.1\r\nHost: h\r\nAccept: j\r\n\r\nGET /npm/b HTTP/1.1\r\n", &rest);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/npm/a");
  EXPECT_EQ(r->query, "x=1");
  EXPECT_EQ(r->headers["accept"], "j");
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(rest, "GET /npm/b HTTP/1.1\r\n");
  auto put = Read("PUT /npm/a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->method, "PUT");
  EXPECT_TRUE(put->has_body);
  EXPECT_EQ(Read("GET http://127.0.0.1:3129/npm/c HTTP/1.1\r\n\r\n")->path, "/npm/c");
  EXPECT_EQ(Read("").status().code(), Code::kNotFound);
  EXPECT_EQ(Read("GARBAGE\r\n\r\n").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n").status().code(),
            Code::kInvalidArgument);
}

TEST(RegistryUrl, OnlyHttpAndHttps) {
  auto u = ParseUrl("https://127.0.0.1:8443/npm/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/npm/");
  EXPECT_EQ(ParseUrl("http://[::1]/")->host, "::1");
  for (const char* bad : {"ftp://x/", "https://user@x/", "https://x:0/", "https://x:99999/",
                          "https:///", "https://x/a b"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ws-regcache-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

Status WriteBody(const std::string& path, const std::string& body) {
  std::ofstream(path) << body;
  return Status::Ok();
}

TEST(AptSources, TheHostsOfOneLineAndDeb822Files) {
  TempDir d;
  std::ofstream(d.path + "/a.list")
      << "# deb http://commented.example/ x\n"
         "deb [arch=amd64 signed-by=/k.gpg] http://Deb.Debian.org/debian bookworm main\n"
         "deb-src https://src.example:8443/d x y\ndeb file:/local x y\n";
  std::ofstream(d.path + "/b.sources")
      << "Types: deb\nURIs: http://deb.debian.org/debian-security https://m.example/\n";
  auto hosts = AptSourceHosts({d.path + "/a.list", d.path + "/b.sources", d.path + "/missing"});
  EXPECT_EQ(hosts, (std::set<std::string>{"deb.debian.org", "src.example:8443", "m.example"}));
  auto req = Read(
      "GET http://Deb.Debian.org/debian/dists/x/Release HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->authority, "deb.debian.org");
  EXPECT_EQ(req->path, "/debian/dists/x/Release");
  EXPECT_EQ(Read("GET /npm/a HTTP/1.1\r\n\r\n")->authority, "");
}

TEST(RegistryCache, BoundedLeastRecentlyUsedFirst) {
  TempDir d;
  Cache c(d.path + "/c", 250);
  ASSERT_TRUE(c.Fill("a", [](const std::string& p, Entry*) {
                 return WriteBody(p, std::string(100, 'a'));
               }).ok());
  ASSERT_TRUE(c.Fill("b", [](const std::string& p, Entry*) {
                 return WriteBody(p, std::string(100, 'b'));
               }).ok());
  // "a" used after "b" was stored: "b" is the least recently used.
  timespec old[2] = {{1, 0}, {1, 0}};
  utimensat(AT_FDCWD, c.Find("b")->path.c_str(), old, 0);
  ASSERT_TRUE(c.Find("a"));
  ASSERT_TRUE(c.Fill("c", [](const std::string& p, Entry*) {
                 return WriteBody(p, std::string(100, 'c'));
               }).ok());
  EXPECT_TRUE(c.Find("a"));
  EXPECT_FALSE(c.Find("b"));
  EXPECT_TRUE(c.Find("c"));
  EXPECT_EQ(c.Usage().bytes, 200u);
  EXPECT_EQ((fs::status(d.path + "/c").permissions() & fs::perms::all), fs::perms::owner_all);
  EXPECT_EQ(c.Clear().entries, 2u);
  EXPECT_FALSE(c.Find("a"));
}

TEST(RegistryCache, OneFetchForConcurrentMissesAndNothingKeptOfAFailedOne) {
  TempDir d;
  Cache c(d.path, 1 << 20);
  std::atomic<int> fetches{0};
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&] {
      auto e = c.Fill("k", [&](const std::string& p, Entry* e) {
        ++fetches;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        e->etag = "\"1\"";
        return WriteBody(p, "body");
      });
      if (e.ok() && e->etag == "\"1\"" && e->size == 4) ++ok;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(ok.load(), 8);
  auto failed = c.Fill("bad", [](const std::string& p, Entry*) {
    WriteBody(p, "half");
    return Status(Code::kFailedPrecondition, "integrity");
  });
  EXPECT_EQ(failed.status().code(), Code::kFailedPrecondition);
  EXPECT_FALSE(c.Find("bad"));
  EXPECT_EQ(c.Usage().entries, 1u) << "no temp file left behind or counted";
}

TEST(RegistryConfig, TheFileThenTheHostsNpmrcThenThePublicRegistry) {
  TempDir d;
  const std::string conf = d.path + "/registries.toml", npmrc = d.path + "/npmrc",
                    pipconf = d.path + "/pip.conf";
  EXPECT_EQ(LoadConfig(conf, npmrc, pipconf)->npm_upstream, "https://registry.npmjs.org/");
  std::ofstream(npmrc) << "; a comment\nregistry = https://mirror.example/npm\n";
  EXPECT_EQ(LoadConfig(conf, npmrc, pipconf)->npm_upstream, "https://mirror.example/npm/");
  EXPECT_EQ(LoadConfig(conf, npmrc, pipconf)->pypi_upstream, "https://pypi.org/simple/");
  std::ofstream(pipconf) << "[global]\nindex-url = https://mirror.example/pypi/simple\n";
  EXPECT_EQ(LoadConfig(conf, npmrc, pipconf)->pypi_upstream, "https://mirror.example/pypi/simple/");
  std::ofstream(conf) << "[npm]\nupstream = \"https://127.0.0.1:8443\"\nca_file = "
                         "\"/x.pem\"\n[cache]\nmax_mib = 5\n";
  auto c = LoadConfig(conf, npmrc, pipconf);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->npm_upstream, "https://127.0.0.1:8443/");
  EXPECT_EQ(c->ca_file, "/x.pem");
  EXPECT_EQ(c->cache_max_bytes, 5u << 20);
  std::ofstream(conf) << "[npm]\nupstream = \"file:///etc\"\n";
  EXPECT_FALSE(LoadConfig(conf, npmrc, pipconf).ok());
  std::ofstream(conf) << "[npm]\nupstream = \"http://mirror.example/\"\n";
  EXPECT_FALSE(LoadConfig(conf, npmrc, pipconf).ok())
      << "over plain http an integrity proves nothing";
}

}  // namespace
}  // namespace ws::registry
