// The host's package registry endpoints on real VMs: npm in a debian
// workspace installs 80 packages from an upstream on the host's loopback
// (HTTPS, its own CA) through http://127.0.0.1:3129/npm/, with no allowlist
// entry for it; after reset the same install comes from the host's cache; a
// tarball that does not match its integrity is refused; nothing is
// published or uploaded through the endpoint. And 20 parallel TLS
// handshakes through the proxy finish before a 10 s server deadline.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/environment.h"
#include "tests/support/tls_http_server.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

RunResult Guest(const std::string& ws, const std::string& script) {
  return W().Cli({"exec", ws, "--", "sh", "-c", script});
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// An HTTPS npm registry and PyPI index on the host's loopback, with a CA
// of its own, named in the daemon's registry configuration.
struct Upstream {
  TestCa ca{W().NewFolder("registry-ca")};
  TlsHttpServer server{ca};
  std::string base = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  std::vector<FakeNpmPackage> packages;
  explicit Upstream(int npm_packages) {
    packages = AddFakeNpmPackages(server, W().NewFolder("registry-pkgs"), npm_packages, base);
    std::ofstream(W().registry_config())
        << "ca_file = \"" << ca.ca_pem_path() << "\"\n[npm]\nupstream = \"" << base
        << "\"\n[pypi]\nupstream = \"" << base
        << "simple/\"\n[apt]\nhosts = [\"127.0.0.1:" << server.port() << "\"]\n";
  }
  ~Upstream() { std::filesystem::remove(W().registry_config()); }
};

TEST(Registry, NpmInstallsThroughTheHostAndAgainFromItsCacheAfterReset) {
  // As many packages as npm fetches in parallel several times over (its 15
  // sockets), few enough that two installs under TCG stay in the minute.
  constexpr int kPackages = 80;
  Upstream up(kPackages);
  const std::string count = std::to_string(kPackages) + "\n";
  const std::string dir = W().NewFolder("regproj");
  std::ofstream(dir + "/package.json") << FakeNpmProjectJson(up.packages);
  ASSERT_EQ(W().Cli({"cache", "clear"}).code, 0);
  // No allowlist at all: the endpoint needs none, and nothing else is reachable.
  ASSERT_EQ(W().Cli({"create", "reg", "--image", "debian", "--no-default-allow", "--share",
                     dir + ":/workspace"})
                .code,
            0);

  // npm's defaults (15 sockets, audit on): the audit's POST is refused, the install is not.
  auto install = Guest("reg", "cd /workspace && npm install --no-fund 2>&1");
  ASSERT_EQ(install.code, 0) << install.out;
  EXPECT_EQ(Guest("reg", "ls /workspace/node_modules | grep -c '^wspkg-'").out, count);
  EXPECT_NE(Guest("reg", "cd /workspace && node -e \"console.log(require('wspkg-0080'))\"")
                .out.find("wspkg-0080"),
            std::string::npos);
  int fetched = 0;
  for (const auto& p : up.packages) fetched += up.server.Requests("GET", p.tarball_path);
  EXPECT_EQ(fetched, kPackages) << "each tarball fetched by the host once";
  // The lockfile in the share names the public registry, not the endpoint.
  std::ifstream lock(dir + "/package-lock.json");
  std::string lockfile((std::istreambuf_iterator<char>(lock)), std::istreambuf_iterator<char>());
  EXPECT_NE(lockfile.find(
                "\"resolved\": \"https://registry.npmjs.org/wspkg-0001/-/wspkg-0001-1.0.0.tgz\""),
            std::string::npos);
  EXPECT_EQ(lockfile.find("127.0.0.1"), std::string::npos);
  auto audit = W().Cli({"audit", "reg", "--json"});
  EXPECT_GE(Count(audit.out, "\"endpoint\":\"npm\""), 2 * kPackages) << "packuments and tarballs";
  EXPECT_GE(Count(audit.out, "\"cache\":\"miss\""), 2 * kPackages);
  EXPECT_EQ(Count(audit.out, "\"target\":\"127.0.0.1\""), 0)
      << "no tunnel to the upstream: the host fetched it";
  EXPECT_NE(W().Cli({"audit", "reg"}).out.find("GET /npm/wspkg-0001 "), std::string::npos)
      << "the table shows registry requests";

  // After reset (the guest's own npm cache gone with its disk), from the host's cache.
  ASSERT_EQ(W().Cli({"reset", "reg"}).code, 0);
  auto again =
      Guest("reg", "cd /workspace && rm -rf node_modules && npm ci --no-audit --no-fund 2>&1");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Guest("reg", "ls /workspace/node_modules | grep -c '^wspkg-'").out, count);
  fetched = 0;
  for (const auto& p : up.packages) fetched += up.server.Requests("GET", p.tarball_path);
  EXPECT_EQ(fetched, kPackages) << "no second download";
  auto cache = W().Cli({"cache", "--json"});
  std::smatch entries;
  ASSERT_TRUE(std::regex_search(cache.out, entries, std::regex("\"entries\":\"([0-9]+)\"")))
      << cache.out;
  EXPECT_GE(std::stoi(entries[1].str()), 2 * kPackages) << "packuments and tarballs: " << cache.out;

  // A tarball that is not what its packument states is refused (a control
  // fetched the same way is served).
  ASSERT_EQ(W().Cli({"cache", "clear"}).code, 0);
  up.server.CorruptRoute(up.packages[0].tarball_path);
  auto curl = [&](const std::string& path) {
    return Guest("reg", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:3129/npm/" + path)
        .out;
  };
  EXPECT_EQ(curl("wspkg-0002/-/wspkg-0002-1.0.0.tgz"), "200");
  EXPECT_EQ(curl("wspkg-0001/-/wspkg-0001-1.0.0.tgz"), "502");
  auto why = Guest("reg", "curl -s http://127.0.0.1:3129/npm/wspkg-0001/-/wspkg-0001-1.0.0.tgz");
  EXPECT_NE(why.out.find("does not match the integrity"), std::string::npos) << why.out;
  EXPECT_EQ(up.server.Requests("GET", up.packages[0].tarball_path), 3)
      << "fetched each time, never kept";

  // Nothing goes up: npm publish and a PUT are refused, 0 bytes reach the upstream.
  up.server.ResetLog();
  auto publish = Guest(
      "reg",
      "mkdir -p /tmp/pub && cd /tmp/pub && echo '{\"name\":\"wspkg-0001\",\"version\":\"9.0.0\"}'"
      " > package.json && echo secret > index.js && "
      "npm publish --//127.0.0.1:3129/npm/:_authToken=t 2>&1");
  EXPECT_NE(publish.code, 0) << publish.out;
  EXPECT_NE(publish.out.find("405"), std::string::npos) << publish.out;
  auto put =
      Guest("reg",
            "head -c 100000 /dev/urandom > /tmp/blob && curl -s -X PUT --data-binary @/tmp/blob "
            "-w ' %{http_code}' http://127.0.0.1:3129/npm/wspkg-0001");
  EXPECT_NE(put.out.find("read-only"), std::string::npos) << put.out;
  EXPECT_NE(put.out.find(" 405"), std::string::npos) << put.out;
  EXPECT_EQ(curl("wspkg-0003"), "200") << "the endpoint still answers GETs";
  EXPECT_EQ(up.server.BodyBytesReceived(), 0u);
  for (const auto& line : up.server.Log()) EXPECT_EQ(line.rfind("GET ", 0), 0u) << line;
  EXPECT_EQ(W().Cli({"destroy", "--force", "reg"}).code, 0);
}

// The guest's TLS stays for hosts outside the endpoints: 20 handshakes at
// once through the proxy all finish within a server's 10 s deadline.
TEST(Registry, TwentyParallelTlsFetchesThroughTheProxyFinish) {
  Upstream up(1);
  const std::string dir = W().NewFolder("tlspar");
  std::filesystem::copy_file(up.ca.ca_pem_path(), dir + "/ca.pem");
  ASSERT_EQ(W().Cli({"create", "tlspar", "--image", "debian", "--share", dir + ":/workspace",
                     "--allow", "127.0.0.1:" + std::to_string(up.server.port())})
                .code,
            0);
  up.server.ResetLog();
  auto r =
      Guest("tlspar",
            "for i in $(seq 20); do curl -sS --noproxy '' --proxy http://127.0.0.1:3128 --cacert "
            "/workspace/ca.pem -o /dev/null -w '%{http_code}\\n' " +
                up.base + "wspkg-0001 & done; wait");
  EXPECT_EQ(Count(r.out, "200\n"), 20) << r.out << r.err;
  EXPECT_EQ(up.server.HandshakesCompleted(), 20);
  EXPECT_EQ(up.server.HandshakesTimedOut(), 0);
  EXPECT_EQ(W().Cli({"destroy", "--force", "tlspar"}).code, 0);
}

// pip in a venv installs a wheel from the PyPI endpoint (its project page
// fetched by the host as PEP 691 JSON, the wheel checked against its
// sha256); again from the host's cache; a wheel that does not match is refused.
TEST(Registry, PipInstallsThroughThePypiEndpoint) {
  Upstream up(0);
  const std::string dir = W().NewFolder("pypi-src");
  // A pure wheel, made with python3's zipfile; RECORD as pip expects it.
  auto made = ws::test::Run({"python3", "-c", R"(
import base64, hashlib, sys, zipfile
files = {"wsdemo/__init__.py": "NAME = 'wsdemo says hi'\n",
         "wsdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: wsdemo\nVersion: 1.0\n",
         "wsdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
rec = "".join(f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(b.encode()).digest()).rstrip(b'=').decode()},{len(b)}\n"
              for n, b in files.items()) + "wsdemo-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, b in files.items(): z.writestr(n, b)
    z.writestr("wsdemo-1.0.dist-info/RECORD", rec)
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
)",
                             dir + "/wsdemo-1.0-py3-none-any.whl"});
  ASSERT_EQ(made.code, 0) << made.err;
  std::string sha = made.out.substr(0, 64);
  std::ifstream whl(dir + "/wsdemo-1.0-py3-none-any.whl", std::ios::binary);
  up.server.Route(
      "/packages/wsdemo-1.0-py3-none-any.whl",
      std::string((std::istreambuf_iterator<char>(whl)), std::istreambuf_iterator<char>()),
      "application/octet-stream");
  up.server.Route(
      "/simple/wsdemo/",
      R"({"meta":{"api-version":"1.0"},"name":"wsdemo","files":[{"filename":)"
      R"("wsdemo-1.0-py3-none-any.whl","url":"../../packages/wsdemo-1.0-py3-none-any.whl",)"
      R"("hashes":{"sha256":")" +
          sha + R"("}}]})",
      "application/vnd.pypi.simple.v1+json");
  ASSERT_EQ(W().Cli({"cache", "clear"}).code, 0);
  ASSERT_EQ(
      W().Cli({"create", "pypi", "--image", "debian", "--no-share", "--no-default-allow"}).code, 0);
  ASSERT_EQ(Guest("pypi", "python3 -m venv /tmp/v").code, 0);
  const std::string install =
      "/tmp/v/bin/pip install -q --no-cache-dir --force-reinstall wsdemo 2>&1 && "
      "/tmp/v/bin/python -c 'import wsdemo; print(wsdemo.NAME)'";
  auto first = Guest("pypi", install);
  EXPECT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("wsdemo says hi"), std::string::npos) << first.out;
  EXPECT_EQ(up.server.Requests("GET", "/packages/wsdemo-1.0-py3-none-any.whl"), 1);
  auto again = Guest("pypi", install);
  EXPECT_NE(again.out.find("wsdemo says hi"), std::string::npos) << again.out;
  EXPECT_EQ(up.server.Requests("GET", "/packages/wsdemo-1.0-py3-none-any.whl"), 1)
      << "served from the cache";
  auto audit = W().Cli({"audit", "pypi", "--json"});
  EXPECT_NE(audit.out.find("\"endpoint\":\"pypi\""), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("\"cache\":\"hit\""), std::string::npos);

  ASSERT_EQ(W().Cli({"cache", "clear"}).code, 0);
  up.server.CorruptRoute("/packages/wsdemo-1.0-py3-none-any.whl");
  auto bad = Guest("pypi", install);
  EXPECT_NE(bad.code, 0) << bad.out;
  EXPECT_EQ(Guest("pypi",
                  "curl -s -o /dev/null -w '%{http_code}' "
                  "http://127.0.0.1:3129/pypi/files/wsdemo/packages/wsdemo-1.0-py3-none-any.whl")
                .out,
            "502");
  EXPECT_EQ(W().Cli({"destroy", "--force", "pypi"}).code, 0);
}

std::string Sha256Of(const std::string& path) {
  auto r = ws::test::Run({"sha256sum", path});
  return r.out.substr(0, 64);
}

std::string FileText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// apt sends its mirrors' requests to the endpoint as to a proxy: a package
// from a repository on the host's loopback installs, and after reset comes
// from the host's cache; a mirror the host does not name is refused.
TEST(Registry, AptInstallsThroughTheAptEndpoint) {
  Upstream up(0);
  const std::string dir = W().NewFolder("apt-src");
  std::filesystem::create_directories(dir + "/pkg/DEBIAN");
  std::filesystem::create_directories(dir + "/pkg/usr/bin");
  std::ofstream(dir + "/pkg/DEBIAN/control")
      << "Package: wsaptdemo\nVersion: 1.0\nArchitecture: all\nMaintainer: t "
         "<t@example.invalid>\nDescription: test\n";
  std::ofstream(dir + "/pkg/usr/bin/wsaptdemo") << "#!/bin/sh\necho wsaptdemo says hi\n";
  chmod((dir + "/pkg/usr/bin/wsaptdemo").c_str(), 0755);
  ASSERT_EQ(
      ws::test::Run({"dpkg-deb", "--root-owner-group", "--build", dir + "/pkg", dir + "/demo.deb"})
          .code,
      0);
  const std::string deb = FileText(dir + "/demo.deb");
  const std::string packages =
      "Package: wsaptdemo\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.invalid>\n"
      "Filename: pool/wsaptdemo_1.0_all.deb\nSize: " +
      std::to_string(deb.size()) + "\nSHA256: " + Sha256Of(dir + "/demo.deb") +
      "\nDescription: test\n\n";
  std::ofstream(dir + "/Packages") << packages;
  const std::string release =
      "Suite: stable\nCodename: stable\nArchitectures: amd64\nComponents: main\nSHA256:\n " +
      Sha256Of(dir + "/Packages") + " " + std::to_string(packages.size()) +
      " main/binary-amd64/Packages\n";
  up.server.Route("/repo/dists/stable/Release", release);
  up.server.Route("/repo/dists/stable/main/binary-amd64/Packages", packages);
  up.server.Route("/repo/pool/wsaptdemo_1.0_all.deb", deb, "application/vnd.debian.binary-package");
  ASSERT_EQ(W().Cli({"cache", "clear"}).code, 0);
  ASSERT_EQ(
      W().Cli({"create", "apt", "--image", "debian", "--no-share", "--no-default-allow"}).code, 0);
  // Only this source (no packet to Debian's mirrors), sent to the endpoint as apt's proxy.
  const std::string src = "deb [trusted=yes] http://127.0.0.1:" + std::to_string(up.server.port()) +
                          "/repo stable main";
  const std::string opts =
      "-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/t.list -o "
      "Dir::Etc::sourceparts=/nonexistent "
      "-o Acquire::http::Proxy::127.0.0.1=http://127.0.0.1:3129/ -q";
  // no_proxy names 127.0.0.1 (the guest's own loopback); this mirror is the host's.
  const std::string apt = "sudo env -u no_proxy -u NO_PROXY apt-get " + opts;
  const std::string install = "echo '" + src +
                              "' | sudo tee /etc/apt/sources.list.d/t.list >/dev/null && " + apt +
                              " update 2>&1 && " + apt + " install -y wsaptdemo 2>&1 && wsaptdemo";
  auto first = Guest("apt", install);
  EXPECT_NE(first.out.find("wsaptdemo says hi"), std::string::npos) << first.out;
  EXPECT_EQ(up.server.Requests("GET", "/repo/pool/wsaptdemo_1.0_all.deb"), 1);
  ASSERT_EQ(W().Cli({"reset", "apt"}).code, 0);
  auto again = Guest("apt", install);
  EXPECT_NE(again.out.find("wsaptdemo says hi"), std::string::npos) << again.out;
  EXPECT_EQ(up.server.Requests("GET", "/repo/pool/wsaptdemo_1.0_all.deb"), 1)
      << "served from the host's cache";
  auto audit = W().Cli({"audit", "apt", "--json"});
  EXPECT_NE(audit.out.find("\"endpoint\":\"apt\""), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("\"cache\":\"hit\""), std::string::npos);
  // A mirror the host does not name: refused before any lookup.
  auto other = Guest(
      "apt",
      "curl -s -x http://127.0.0.1:3129 http://mirror.example.invalid/debian/dists/x/Release");
  EXPECT_NE(other.out.find("serves the host's apt mirrors only"), std::string::npos) << other.out;
  EXPECT_EQ(W().Cli({"destroy", "--force", "apt"}).code, 0);
}

}  // namespace
}  // namespace ws::test
